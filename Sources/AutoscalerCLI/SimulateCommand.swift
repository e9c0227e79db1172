import ArgumentParser
import AutoscalerCore
import Foundation
import Simulator

/// `redash-autoscaler simulate`: replays a day of Redash load through the controller (and,
/// with `--compare`, through the baselines) on simulated time.
public struct SimulateCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate Redash on ECS under this policy, on a built-in scenario or your own trace.",
        discussion: "Scenarios: " + Scenario.all.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ")
    )

    @OptionGroup public var options: PolicyOptions

    @Option(help: "Built-in scenario: \(Scenario.all.map(\.name).joined(separator: ", ")).")
    public var scenario: String = Scenario.seedOverload.name

    @Option(help: ArgumentHelp("Replay a CSV trace (enqueued_at,queue,runtime_seconds) instead of a scenario.", valueName: "file"))
    public var trace: String?

    @Option(help: "Seed of the workload and of ECS's choices; the same seed gives the same result.")
    public var seed: UInt64 = 1

    @Flag(help: "With --compare: run every built-in scenario, tune every baseline over its grid, add the clairvoyant floor, check the goals (takes minutes).")
    public var allScenarios = false

    @Flag(help: "With --compare: the same report as --all-scenarios for --scenario alone.")
    public var tune = false

    @Option(help: ArgumentHelp("Seeds of the report, as 1-5 or 1,3,7 (default: --seed).", valueName: "list"))
    public var seeds: String?

    @Option(help: ArgumentHelp("With --all-scenarios or --tune: write summary.svg and a chart per scenario (first seed) into this directory.", valueName: "dir"))
    public var chartDir: String?

    @Flag(help: "Also run AWS target tracking on CPU, a KEDA-style list-length rule and a fixed count.")
    public var compare = false

    @Flag(help: "Print the result as JSON.")
    public var json = false

    @Option(help: ArgumentHelp("With --all-scenarios or --tune: also write the report as JSON to this file (the table still prints).", valueName: "file"))
    public var jsonFile: String?

    @Option(help: ArgumentHelp("Write an SVG chart of the adhoc service to this file.", valueName: "file"))
    public var chart: String?

    @Flag(help: "Search workersPerTask (with the task's Fargate size), maxWait, the scale-down window and the interval of the adhoc service, then backlogPerWorker 0.5 and reactInterval 1s on the settings closest to the target, for the cheapest setting that meets --target-p95 on --scenario or --trace over --seeds (for less than today when today meets it), and print it as a policy change.")
    public var advise = false

    @Option(help: ArgumentHelp("With --advise: the p95 adhoc wait to meet, in seconds (default: what the current policy gives).", valueName: "seconds"))
    public var targetP95: Double?

    public init() {}

    public func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let (loaded, origin) = try await PolicySource.load(options, environment: environment, allowEmbedded: true)
        if advise {
            try runAdvice(policy: loaded)
            return
        }
        if allScenarios || tune {
            try runReport(policy: loaded, origin: origin)
            return
        }
        guard jsonFile == nil else { throw ValidationError("--json-file writes the report of --all-scenarios or --tune; for one run use --json") }
        let run = try SimulationRun.prepare(policy: loaded, scenario: scenario, trace: trace, seed: seed)
        let policy = run.policy
        let results = Comparison.run(
            policy: policy, workload: run.workload, scenario: run.name, seed: seed,
            contenders: compare ? [.ours, .oursWithoutForecast, .targetTracking, .keda, .fixed, .reactiveOracle] : [.ours])
        if let chart {
            try run.writeChart(results, policy: policy, to: chart)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let report = SimulationReport(scenario: run.name, seed: seed, policy: origin, results: results)
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("\(run.name), seed \(seed), \(Int(run.workload.duration / 3600))h simulated, \(run.workload.jobs.count) jobs, policy \(origin)")
        print(Comparison.table(results, routing: run.routing))
        if let chart { print("chart: \(chart)") }
    }
}

extension SimulateCommand {
    /// `--all-scenarios` / `--tune`: the tuned side-by-side report.
    func runReport(policy: Policy, origin: String) throws {
        guard compare else { throw ValidationError("--all-scenarios and --tune compare with the baselines; add --compare") }
        guard trace == nil else { throw ValidationError("--all-scenarios and --tune run built-in scenarios (query-results-export replays a trace); drop --trace") }
        guard policy.queueNames.contains("queries") else {
            throw ValidationError("the scenarios send adhoc queries to `queries`, and no service in the policy consumes it")
        }
        let seedList = try seeds.map(Self.parseSeeds) ?? [seed]
        let chosen: [Scenario]
        if allScenarios {
            chosen = Scenario.all
        } else {
            guard let one = Scenario.named(scenario) else {
                throw ValidationError("unknown scenario `\(scenario)`; choose one of \(Scenario.all.map(\.name).joined(separator: ", "))")
            }
            chosen = [one]
        }
        let benchmark = Benchmark(policy: policy, scenarios: chosen, seeds: seedList)
        let report = benchmark.run { StandardError.write($0) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if let jsonFile {
            do {
                try encoder.encode(report).write(to: URL(fileURLWithPath: jsonFile))
            } catch {
                throw ValidationError("cannot write the JSON report to \(jsonFile): \(error.localizedDescription)")
            }
        }
        if let chartDir {
            try FileManager.default.createDirectory(atPath: chartDir, withIntermediateDirectories: true)
            let summary = (chartDir as NSString).appendingPathComponent("summary.svg")
            do {
                try SummaryChart.svg(report).write(toFile: summary, atomically: true, encoding: .utf8)
            } catch {
                throw ValidationError("cannot write the chart to \(summary): \(error.localizedDescription)")
            }
            for (scenario, figures) in zip(chosen, report.scenarios) {
                let runs = benchmark.chartRuns(scenario, seed: seedList[0], bestTuned: figures.bestTunedSetting.map { (figures.bestTuned?.family ?? "best tuned", $0) })
                guard let adhoc = runs.policy.services.first(where: { $0.queues.contains("queries") }) else { continue }
                let svg = Chart.svg(
                    results: runs.results, service: adhoc.name, workersPerTask: adhoc.workersPerTask,
                    start: runs.workload.start, utcOffset: scenario.utcOffset)
                let path = (chartDir as NSString).appendingPathComponent("\(scenario.name).svg")
                do {
                    try svg.write(toFile: path, atomically: true, encoding: .utf8)
                } catch {
                    throw ValidationError("cannot write the chart to \(path): \(error.localizedDescription)")
                }
            }
        }
        if json {
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("\(chosen.count) scenario\(chosen.count == 1 ? "" : "s"), seeds \(seedList.map(String.init).joined(separator: ",")), policy \(origin)")
        print(BenchmarkTable.render(report))
    }

    /// `--advise`: the cheapest setting of the adhoc service's knobs that meets the target.
    func runAdvice(policy: Policy) throws {
        guard !compare, !allScenarios, !tune, !json, jsonFile == nil, chart == nil else {
            throw ValidationError("--advise prints its own table; drop --compare, --all-scenarios, --tune, --json, --json-file and --chart")
        }
        if let targetP95, !(targetP95 >= 0 && targetP95.isFinite) {
            throw ValidationError("--target-p95 must be a number of seconds, 0 or more")
        }
        let seedList = try seeds.map(Self.parseSeeds) ?? [seed]
        let runs = try seedList.map { try SimulationRun.prepare(policy: policy, scenario: scenario, trace: trace, seed: $0) }
        guard let first = runs.first, let adhoc = first.adhocService(in: first.policy) else {
            throw ValidationError("no service of the policy consumes the adhoc queue, so there is nothing to advise on")
        }
        let advisor = Advisor(policy: first.policy, workloads: zip(seedList, runs).map { ($0, $1.workload) }, service: adhoc.name)
        guard let advice = advisor.run(target: targetP95, progress: { StandardError.write($0) }) else {
            throw ValidationError("no service named \(adhoc.name) in the policy")
        }
        print(advice.render(scenario: first.name, seeds: seedList))
    }

    /// `1-5`, `1,3,7` or `4`.
    static func parseSeeds(_ text: String) throws -> [UInt64] {
        var seeds: [UInt64] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
                .map { UInt64($0.trimmingCharacters(in: .whitespaces)) }
            switch bounds.count {
            case 1 where bounds[0] != nil: seeds.append(bounds[0]!)
            case 2 where bounds[0] != nil && bounds[1] != nil && bounds[0]! <= bounds[1]!: seeds += Array(bounds[0]!...bounds[1]!)
            default: throw ValidationError("`\(text)` is not a list of seeds; write 1-5 or 1,3,7")
            }
        }
        guard !seeds.isEmpty else { throw ValidationError("no seeds in `\(text)`") }
        return seeds
    }
}

/// The JSON form of `simulate --json`.
struct SimulationReport: Encodable {
    var scenario: String
    var seed: UInt64
    var policy: String
    var results: [SimulationResult]
}

/// A scenario or trace made ready for a policy.
struct SimulationRun {
    var name: String
    /// The policy, with the services a scenario adds for its extra data sources.
    var policy: Policy
    var workload: Workload
    var routing: QueueRouting
    var utcOffset: Duration

    static func prepare(policy: Policy, scenario: String, trace: String?, seed: UInt64) throws -> SimulationRun {
        var routing = QueueRouting(policy: policy)
        if let trace {
            let text: String
            do {
                text = try String(contentsOfFile: trace, encoding: .utf8)
            } catch {
                throw ValidationError("cannot read the trace \(trace): no such file, or not UTF-8 text")
            }
            let workload: Workload
            do {
                workload = try TraceReader.parse(text)
            } catch {
                throw ValidationError("\(trace): \(error)")
            }
            let consumed = Set(policy.queueNames)
            let orphans = workload.queues.filter { !consumed.contains($0) }
            if !orphans.isEmpty {
                StandardError.write("warning: no service in the policy consumes \(orphans.joined(separator: ", ")); those jobs wait forever")
            }
            if let first = workload.queues.first(where: consumed.contains) { routing.adhoc = first }
            return SimulationRun(name: "trace \(trace)", policy: policy, workload: workload, routing: routing, utcOffset: .zero)
        }
        guard let chosen = Scenario.named(scenario) else {
            throw ValidationError("unknown scenario `\(scenario)`; choose one of \(Scenario.all.map(\.name).joined(separator: ", "))")
        }
        guard policy.queueNames.contains(routing.adhoc) else {
            throw ValidationError("the scenarios send adhoc queries to `queries`, and no service in the policy consumes it")
        }
        let scenarioPolicy = chosen.policy(for: policy)
        return SimulationRun(
            name: chosen.name, policy: scenarioPolicy, workload: chosen.workload(seed: seed, routing: routing), routing: routing,
            utcOffset: chosen.utcOffset)
    }

    /// The service consuming the adhoc queue.
    func adhocService(in policy: Policy) -> ServicePolicy? {
        policy.services.first { $0.queues.contains(routing.adhoc) }
    }

    func writeChart(_ results: [SimulationResult], policy: Policy, to path: String) throws {
        guard let service = adhocService(in: policy) else { return }
        let svg = Chart.svg(
            results: results, service: service.name, workersPerTask: service.workersPerTask,
            start: workload.start, utcOffset: utcOffset)
        do {
            try svg.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw ValidationError("cannot write the chart to \(path): \(error.localizedDescription)")
        }
    }
}
