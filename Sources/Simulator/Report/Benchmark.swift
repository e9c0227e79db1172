import AutoscalerCore

/// The side-by-side report: every scenario and seed through our controller, the default setups,
/// every baseline tuned over its grid, the reactive oracle and the clairvoyant floor under our
/// budget; with the ratios and the goals checked on the same runs. Budgets are dollars: task-hours
/// at each service's Fargate price (`ECSModel.sizing`, `ECSModel.prices`).
public struct Benchmark: Sendable {
    /// The policy under test (each scenario may add services for its data sources).
    public var policy: Policy
    /// The scenarios, in report order.
    public var scenarios: [Scenario]
    /// The seeds; tuning picks one setting per scenario from the means over all of them.
    public var seeds: [UInt64]
    /// ECS and worker behaviour.
    public var ecs = ECSModel()
    /// The baselines to tune.
    public var families: [BaselineFamily] = BaselineFamily.allCases
    /// Also tune every baseline with workers that protect their own task (the in-worker
    /// pattern), so that busy-aware scale-in is not a free win for our controller.
    public var selfProtectingBaselines = true
    /// Our controller with other settings, to measure a lever before adopting it.
    public var variants: [OurVariant] = [
        .lead(.seconds(60)), .lead(.seconds(84)), .officeHoursFloor(tasks: 2), .wholeBurstEverywhere, .scaleDownWindow(.seconds(30)),
        .interval(.seconds(1)), .react(.seconds(1)), .adhocBacklogPerWorker(0.5),
    ]
    /// Also run ours and the best tuned baseline as if Fargate started tasks in this range of
    /// seconds: how much of the waits is the task start, which no reactive policy avoids.
    public var fastStart: ClosedRange<Double>? = 1...2

    /// Creates a benchmark.
    public init(policy: Policy, scenarios: [Scenario], seeds: [UInt64]) {
        self.policy = policy
        self.scenarios = scenarios
        self.seeds = seeds
    }

    /// The lead our controller runs with: the slowest task start, as in `Comparison`.
    var defaultLead: Duration { .seconds(ecs.taskStart.upperBound) }

    /// Runs everything; `progress` hears one line per step (the whole report takes minutes).
    public func run(progress: (String) -> Void = { _ in }) -> BenchmarkReport {
        BenchmarkReport(seeds: seeds, scenarios: scenarios.map { scenario in
            run(scenario, progress: progress)
        })
    }

    func run(_ scenario: Scenario, progress: (String) -> Void) -> ScenarioBenchmark {
        let policy = scenario.policy(for: self.policy)
        let routing = QueueRouting(policy: policy)
        let runs = seeds.map { seed in
            let workload = scenario.workload(seed: seed, routing: routing)
            // Grid runs keep no timeline: one sample, at the start.
            return (seed, Simulation(policy: policy, workload: workload, ecs: ecs, seed: seed, sampleInterval: workload.duration + 1))
        }
        func each(_ body: (UInt64, Simulation) -> SimulationResult) -> [SimulationResult] {
            runs.map { seed, simulation in
                var result = body(seed, simulation)
                result.timeline = []
                return result
            }
        }

        progress("\(scenario.name): our controller")
        let ours = each { _, simulation in simulation.runOurs(taskStartLead: defaultLead, scenario: scenario.name) }
        let oursMean = MeanFigures(ours)
        let variants = variants.map { variant in
            (variant, each { _, simulation in
                var changed = simulation
                changed.policy = variant.apply(to: policy)
                return changed.runOurs(name: "redash-autoscaler, \(variant.summary)", taskStartLead: variant.lead ?? defaultLead, scenario: scenario.name)
            })
        }

        progress("\(scenario.name): default setups")
        var defaults = DefaultSetup.allCases.map { setup in
            (setup.rawValue, setup.setting, each { _, simulation in setup.setting.run(simulation, name: setup.rawValue, scenario: scenario.name) })
        }
        let fixedName = "fixed, about our budget (defaults)"
        var fixedRuns: [SimulationResult] = []
        for ((_, simulation), reference) in zip(runs, ours) {
            var tasks: [String: Int] = [:]
            for service in reference.services {
                tasks[service.name] = max(1, Int((service.taskHours / max(reference.hours, 1e-9)).rounded()))
            }
            var result = BaselineSetting.fixed(tasks).run(simulation, name: fixedName, scenario: scenario.name)
            result.timeline = []
            fixedRuns.append(result)
        }
        defaults.append((fixedName, .fixed([:]), fixedRuns))

        var tuning: [FamilyTuning] = []
        var tunedRows: [(name: String, family: String, setting: BaselineSetting, role: BenchmarkRow.Role, results: [SimulationResult])] = []
        var bestTuned: (pick: TunedPick, setting: BaselineSetting, results: [SimulationResult])?
        let baselineGrids = families.map { ($0.rawValue, $0.grid) } + (!selfProtectingBaselines ? [] : families.map {
            ($0.rawValue + " + self-protecting workers", $0.grid.map(BaselineSetting.selfProtecting))
        })
        for (family, grid) in baselineGrids {
            progress("\(scenario.name): \(family), \(grid.count) settings × \(seeds.count) seeds")
            var candidates: [Tuning.Candidate] = []
            var resultsBySetting: [BaselineSetting: [SimulationResult]] = [:]
            for setting in grid {
                let results = each { _, simulation in setting.run(simulation, name: family, scenario: scenario.name) }
                resultsBySetting[setting] = results
                candidates.append(Tuning.Candidate(setting: setting, mean: MeanFigures(results)))
            }
            let forWait = Tuning.lowestWait(candidates, withinCost: oursMean.cost)
            let forCost = Tuning.cheapest(candidates, atWait: oursMean.adhocP95)
            func pick(_ candidate: Tuning.Candidate?) -> TunedPick? {
                candidate.map { TunedPick(family: family, setting: $0.setting.summary, mean: $0.mean) }
            }
            tuning.append(FamilyTuning(
                family: family, settingsTried: grid.count,
                lowestWaitWithinOurCost: pick(forWait), cheapestAtOurWait: pick(forCost)))
            let forWaitWithoutKills = Tuning.lowestWait(candidates.filter { $0.mean.killed == 0 }, withinCost: oursMean.cost)
            tuning[tuning.count - 1].lowestWaitWithoutKillsWithinOurCost = pick(forWaitWithoutKills)
            if let forWait, let results = resultsBySetting[forWait.setting] {
                tunedRows.append(("\(family), tuned for wait", family, forWait.setting, .tunedForWait, results))
                if bestTuned == nil || Tuning.isBetterForWait(forWait.mean, than: bestTuned!.pick.mean) {
                    bestTuned = (pick(forWait)!, forWait.setting, results)
                }
            }
            if let forCost, let results = resultsBySetting[forCost.setting] {
                tunedRows.append(("\(family), tuned for cost", family, forCost.setting, .tunedForCost, results))
            }
        }

        progress("\(scenario.name): clairvoyant floor and reactive oracle")
        let floor = zip(runs, ours).map { run, reference in
            var result = ClairvoyantFloor.run(run.1, budget: reference.totals.cost, scenario: scenario.name)
            result.timeline = []
            return result
        }
        let oracle = each { _, simulation in simulation.runReactiveOracle(scenario: scenario.name) }

        var fastStartRows: [[SimulationResult]] = []
        if let fastStart {
            progress("\(scenario.name): what if tasks started in \(Int(fastStart.lowerBound))–\(Int(fastStart.upperBound)) s")
            var fast = ecs
            fast.taskStart = fastStart
            let suffix = ", if tasks started in \(Int(fastStart.lowerBound))–\(Int(fastStart.upperBound)) s"
            fastStartRows = runs.map { _, simulation in
                var quick = simulation
                quick.ecs = fast
                var rows = [quick.runOurs(name: "redash-autoscaler" + suffix, taskStartLead: .seconds(fastStart.upperBound), scenario: scenario.name)]
                if let bestTuned {
                    rows.append(bestTuned.setting.run(quick, name: "best tuned (\(bestTuned.pick.family))" + suffix, scenario: scenario.name))
                }
                return rows.map { var result = $0; result.timeline = []; return result }
            }
        }

        var seedReports: [SeedBenchmark] = []
        var goals: [GoalCheck] = []
        for (index, seed) in seeds.enumerated() {
            let best = bestTuned?.results[index]
            func row(_ result: SimulationResult, _ role: BenchmarkRow.Role, family: String? = nil, setting: String? = nil) -> BenchmarkRow {
                BenchmarkRow(result, role: role, family: family, setting: setting, bestTuned: best, oracle: oracle[index])
            }
            var rows = [row(ours[index], .ours)]
            for (_, results) in variants { rows.append(row(results[index], .ourVariant)) }
            rows.append(row(oracle[index], .reactiveOracle))
            rows.append(row(floor[index], .floor))
            for (name, setting, results) in defaults {
                var result = results[index]
                result.autoscaler = name
                rows.append(row(result, .defaults, setting: name.hasPrefix("fixed") ? nil : setting.summary))
            }
            for tuned in tunedRows {
                var result = tuned.results[index]
                result.autoscaler = tuned.name
                rows.append(row(result, tuned.role, family: tuned.family, setting: tuned.setting.summary))
            }
            if index < fastStartRows.count {
                for result in fastStartRows[index] { rows.append(row(result, .fastStartWhatIf)) }
            }
            seedReports.append(SeedBenchmark(seed: seed, rows: rows))
            goals += GoalCheck.checks(
                scenario: scenario.name, seed: seed, ours: ours[index], best: best, bestName: bestTuned?.pick.family,
                oracle: oracle[index])
        }
        return ScenarioBenchmark(
            scenario: scenario.name, summary: scenario.summary, ours: oursMean, tuning: tuning, bestTuned: bestTuned?.pick,
            oracle: MeanFigures(oracle), floor: MeanFigures(floor), seeds: seedReports, goals: goals,
            bestTunedSetting: bestTuned?.setting)
    }

    /// The runs a chart of one scenario and seed shows, with their timelines: ours, the best
    /// tuned baseline, the reactive oracle, the floor and target tracking's defaults.
    public func chartRuns(
        _ scenario: Scenario, seed: UInt64, bestTuned: (name: String, setting: BaselineSetting)?
    ) -> (policy: Policy, workload: Workload, results: [SimulationResult]) {
        let policy = scenario.policy(for: self.policy)
        let workload = scenario.workload(seed: seed, routing: QueueRouting(policy: policy))
        let simulation = Simulation(policy: policy, workload: workload, ecs: ecs, seed: seed)
        let ours = simulation.runOurs(taskStartLead: defaultLead, scenario: scenario.name)
        var results = [ours]
        if let bestTuned {
            results.append(bestTuned.setting.run(simulation, name: "best tuned: \(bestTuned.name) (\(bestTuned.setting.summary))", scenario: scenario.name))
        }
        results.append(simulation.runReactiveOracle(scenario: scenario.name))
        results.append(ClairvoyantFloor.run(simulation, budget: ours.totals.cost, scenario: scenario.name))
        results.append(DefaultSetup.targetTracking.setting.run(simulation, name: DefaultSetup.targetTracking.rawValue, scenario: scenario.name))
        return (policy, workload, results)
    }
}

/// Our controller with one setting changed: how a lever is measured before it is adopted.
public enum OurVariant: Hashable, Sendable {
    /// The lead for scheduled work a correct task start time learned from ECS would give
    /// (the model's starts are 30–90 s: median 60 s, p90 84 s; the default is the slowest, 90 s).
    case lead(Duration)
    /// At least this many adhoc tasks on weekdays 09:00–19:00 in Japan: idle slots kept ahead
    /// of demand, which is what queueing headroom (Erlang C) would add at these loads.
    case officeHoursFloor(tasks: Int)
    /// `backlogPerWorker: 1` on every service: each burst asks for a worker per job at once,
    /// the most burst detection could ask for.
    case wholeBurstEverywhere
    /// `backlogPerWorker` of the adhoc service (1 as shipped): below 1, more than one worker a
    /// pending query, slots ahead of the backlog (sizing per pending query).
    case adhocBacklogPerWorker(Double)
    /// A shorter scale-down window on every service: our own cost–wait trade-off.
    case scaleDownWindow(Duration)
    /// Another reconcile interval: every read (Redis, ECS, the database) that often.
    case interval(Duration)
    /// The queue watch (`reactInterval`): the queues alone read that often between reconciles,
    /// a reconcile at once when they show work the last plan has no room for.
    case react(Duration)

    /// In a few words, for reports.
    public var summary: String {
        switch self {
        case .lead(let lead): "lead \(Int(lead.inSeconds)) s"
        case .officeHoursFloor(let tasks): "\(tasks) adhoc tasks 09:00–19:00"
        case .wholeBurstEverywhere: "backlogPerWorker 1 everywhere"
        case .adhocBacklogPerWorker(let backlog): "adhoc backlogPerWorker \(backlog)"
        case .scaleDownWindow(let window): "scale-down window \(Int(window.inSeconds)) s"
        case .interval(let interval): "interval \(Int(interval.inSeconds)) s"
        case .react(let react): "reactInterval \(Int(react.inSeconds)) s"
        }
    }

    var lead: Duration? {
        if case .lead(let lead) = self { return lead }
        return nil
    }

    /// A service that takes adhoc queries (`queries`, or a per-source `…_queries` that is not
    /// scheduled).
    static func isAdhoc(_ service: ServicePolicy) -> Bool {
        service.queues.contains { $0 == "queries" || $0.hasSuffix("_queries") && !$0.contains("scheduled") }
    }

    func apply(to policy: Policy) -> Policy {
        switch self {
        case .lead: return policy
        case .officeHoursFloor(let tasks):
            return policy.withServices { service in
                guard Self.isAdhoc(service) else { return }
                service.schedules.append(ScheduleFloor(
                    name: "office-hours", days: [.monday, .tuesday, .wednesday, .thursday, .friday],
                    startMinute: 9 * 60, endMinute: 19 * 60, utcOffset: .seconds(9 * 3600), minTasks: tasks))
            }
        case .wholeBurstEverywhere:
            return policy.withServices { $0.target.backlogPerWorker = 1 }
        case .adhocBacklogPerWorker(let backlog):
            return policy.withServices { if Self.isAdhoc($0) { $0.target.backlogPerWorker = backlog } }
        case .scaleDownWindow(let window):
            return policy.withServices { $0.scaleDown.stabilizationWindow = window }
        case .interval(let interval):
            return policy.withServices(interval: interval)
        case .react(let react):
            return policy.withServices(reactInterval: react)
        }
    }
}

/// The whole report (`simulate --all-scenarios --compare --json`).
public struct BenchmarkReport: Codable, Sendable {
    /// The seeds every scenario ran with.
    public var seeds: [UInt64]
    /// One entry per scenario, in report order.
    public var scenarios: [ScenarioBenchmark]
}

/// One scenario over all seeds.
public struct ScenarioBenchmark: Codable, Sendable {
    /// The scenario's name.
    public var scenario: String
    /// What it is, in one sentence.
    public var summary: String
    /// Our controller, averaged over the seeds.
    public var ours: MeanFigures
    /// Each baseline's two picks from its grid.
    public var tuning: [FamilyTuning]
    /// The pick (a) with the lowest mean p95 adhoc wait: the best tuned baseline, which the
    /// ratios and the second goal compare with. `nil` when no setting of any baseline fits our
    /// cost.
    public var bestTuned: TunedPick?
    /// The reactive oracle, averaged over the seeds.
    public var oracle: MeanFigures
    /// The clairvoyant floor under our budget, averaged over the seeds.
    public var floor: MeanFigures
    /// Every autoscaler, seed by seed.
    public var seeds: [SeedBenchmark]
    /// The goals, seed by seed.
    public var goals: [GoalCheck]
    /// The best tuned baseline's setting, to chart it; not part of the JSON.
    public var bestTunedSetting: BaselineSetting?

    enum CodingKeys: String, CodingKey {
        case scenario, summary, ours, tuning, bestTuned, oracle, floor, seeds, goals
    }
}

/// A setting picked from a grid.
public struct TunedPick: Codable, Sendable {
    /// The baseline (`BaselineFamily`'s name).
    public var family: String
    /// Its knobs in a few words.
    public var setting: String
    /// Its figures over the seeds.
    public var mean: MeanFigures
}

/// One baseline's tuning: its two picks from its grid.
public struct FamilyTuning: Codable, Sendable {
    /// The baseline.
    public var family: String
    /// The size of its grid.
    public var settingsTried: Int
    /// (a) The lowest p95 adhoc wait at no higher cost than ours.
    public var lowestWaitWithinOurCost: TunedPick?
    /// (b) The lowest cost at no worse p95 adhoc wait than ours.
    public var cheapestAtOurWait: TunedPick?
    /// As (a), among the settings that killed no query on any seed.
    public var lowestWaitWithoutKillsWithinOurCost: TunedPick?
}

/// Every autoscaler on one seed.
public struct SeedBenchmark: Codable, Sendable {
    /// The seed.
    public var seed: UInt64
    /// One row per autoscaler.
    public var rows: [BenchmarkRow]
}

/// One autoscaler on one seed, with its ratios.
public struct BenchmarkRow: Codable, Sendable {
    /// What the row is.
    public enum Role: String, Codable, Sendable {
        /// Our controller as the policy says; with one lever changed; the reactive oracle; the
        /// clairvoyant floor; a default setup; a baseline's pick (a) or (b); a what-if with fast
        /// task starts.
        case ours, ourVariant, reactiveOracle, floor, defaults, tunedForWait, tunedForCost, fastStartWhatIf
    }

    /// The name in reports.
    public var autoscaler: String
    /// What the row is.
    public var role: Role
    /// The baseline, for tuned rows.
    public var family: String?
    /// The baseline's knobs, for tuned and default rows.
    public var setting: String?
    /// Waits of all adhoc queries.
    public var adhoc: WaitStatistics
    /// Waits of all scheduled refreshes.
    public var scheduled: WaitStatistics
    /// Task-hours billed, all services.
    public var taskHours: Double
    /// Dollars billed, all services.
    public var cost: Double
    /// Queries lost to scale-in.
    public var killed: Int
    /// Scale-ups plus scale-downs.
    public var actions: Int
    /// This row ÷ the best tuned baseline on the same seed.
    public var vsBestTuned: Ratios?
    /// This row ÷ the reactive oracle on the same seed.
    public var vsOracle: Ratios

    init(_ result: SimulationResult, role: Role, family: String?, setting: String?, bestTuned: SimulationResult?, oracle: SimulationResult) {
        autoscaler = result.autoscaler
        self.role = role
        self.family = family
        self.setting = setting
        adhoc = result.adhocWait
        scheduled = result.scheduledWait
        taskHours = result.totals.taskHours
        cost = result.totals.cost
        killed = result.totals.killed
        actions = result.totals.scalingActions
        vsBestTuned = bestTuned.map { Ratios(result, to: $0) }
        vsOracle = Ratios(result, to: oracle)
    }
}

/// Quotients of two runs' figures; a wait quotient is `nil` when the other's wait is 0 (and
/// this one's is not).
public struct Ratios: Codable, Sendable {
    /// p95 adhoc wait ÷ the other's.
    public var adhocP95: Double?
    /// p99 adhoc wait ÷ the other's.
    public var adhocP99: Double?
    /// Task-hours ÷ the other's.
    public var taskHours: Double
    /// Cost ÷ the other's.
    public var cost: Double

    init(_ result: SimulationResult, to other: SimulationResult) {
        func quotient(_ mine: Double, _ theirs: Double) -> Double? { theirs > 0 ? mine / theirs : mine == 0 ? 1 : nil }
        adhocP95 = quotient(result.adhocWait.p95, other.adhocWait.p95)
        adhocP99 = quotient(result.adhocWait.p99, other.adhocWait.p99)
        taskHours = result.totals.taskHours / max(other.totals.taskHours, 1e-9)
        cost = result.totals.cost / max(other.totals.cost, 1e-9)
    }
}

/// One goal on one scenario and seed.
public struct GoalCheck: Codable, Sendable {
    /// The scenario.
    public var scenario: String
    /// The seed.
    public var seed: UInt64
    /// The goal, in a few words.
    public var goal: String
    /// The figures it was judged on.
    public var measured: String
    /// Whether it was met.
    public var isMet: Bool

    static let againstOracle = "p95 adhoc ≤ 1.1 × reactive oracle, cost ≤ its + 3 %, 0 killed"
    static let againstBest = "p95 adhoc ≤ best tuned baseline's at ≤ our cost, 0 killed"

    static func checks(
        scenario: String, seed: UInt64, ours: SimulationResult, best: SimulationResult?, bestName: String?,
        oracle: SimulationResult
    ) -> [GoalCheck] {
        let wait = ours.adhocWait.p95, cost = ours.totals.cost, killed = ours.totals.killed
        let oracleWait = oracle.adhocWait.p95, oracleCost = oracle.totals.cost
        var checks = [GoalCheck(
            scenario: scenario, seed: seed, goal: againstOracle,
            measured: "\(seconds(wait)) vs \(seconds(oracleWait)), \(dollars(cost)) vs \(dollars(oracleCost)) (\(percent(cost / oracleCost - 1))), killed \(killed)",
            isMet: wait <= oracleWait * 1.1 + 1e-9 && cost <= oracleCost * 1.03 && killed == 0)]
        if let best {
            let theirs = best.adhocWait.p95
            checks.append(GoalCheck(
                scenario: scenario, seed: seed, goal: againstBest,
                measured: "\(seconds(wait)) vs \(seconds(theirs)) (\(bestName ?? "best")), \(dollars(cost)) vs \(dollars(best.totals.cost)), killed \(killed) vs \(best.totals.killed)",
                isMet: wait <= theirs + 1e-9 && killed == 0))
        } else {
            checks.append(GoalCheck(
                scenario: scenario, seed: seed, goal: againstBest,
                measured: "no baseline setting fits our \(dollars(cost)); killed \(killed)", isMet: killed == 0))
        }
        return checks
    }
}

/// "$12.05": every cost the simulator's reports and the demo print.
public func dollars(_ value: Double) -> String {
    let cents = Int((value * 100).rounded())
    let fraction = String(abs(cents) % 100)
    return (cents < 0 ? "-$" : "$") + String(abs(cents) / 100) + "." + (fraction.count < 2 ? "0" + fraction : fraction)
}

func percent(_ value: Double) -> String {
    (value >= 0 ? "+" : "") + String((value * 1000).rounded() / 10) + " %"
}

func seconds(_ value: Double) -> String {
    value >= 600 ? "\(Int((value / 60).rounded())) min" : value >= 10 ? "\(Int(value.rounded())) s" : "\(Double(Int(value * 10)) / 10) s"
}

func format(_ value: Double) -> String {
    String((value * 10).rounded() / 10)
}
