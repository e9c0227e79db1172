import AutoscalerCore

/// `simulate --advise`: searches our own knobs for the adhoc worker service — the task shape
/// (`workersPerTask`, with `maxTasks` keeping the same number of worker slots, and the task's
/// Fargate size and price), `maxWait`, the scale-down window — and the reconcile interval, for
/// the cheapest setting whose mean p95 adhoc wait meets a target (by default the current
/// policy's) without killing more queries than the current policy, on the same workloads. Then
/// the two knobs that buy waits for a little cost, `backlogPerWorker` 0.5 (two slots a pending
/// query) and the queue watch (`reactInterval` 1 s), on the settings that came closest to the
/// target without meeting it.
public struct Advisor: Sendable {
    /// One point of the search.
    public struct Knobs: Hashable, Sendable {
        public var workersPerTask: Int
        public var maxTasks: Int
        public var maxWait: Duration
        public var scaleDownWindow: Duration
        public var interval: Duration
        public var backlogPerWorker: Double
        /// The queue watch's pace; zero: off.
        public var reactInterval: Duration

        /// The knobs of `service` under `policy`.
        public init(_ service: ServicePolicy, interval: Duration, reactInterval: Duration = .zero) {
            workersPerTask = service.workersPerTask
            maxTasks = service.maxTasks
            maxWait = service.target.maxWait
            scaleDownWindow = service.scaleDown.stabilizationWindow
            self.interval = interval
            backlogPerWorker = service.target.backlogPerWorker
            self.reactInterval = reactInterval
        }
    }

    /// One setting's figures over the workloads.
    public struct Candidate: Sendable {
        public var knobs: Knobs
        /// The adhoc service's Fargate task size under these knobs.
        public var taskSize: TaskSize
        /// Means over the seeds (kills summed).
        public var mean: MeanFigures

        package init(knobs: Knobs, taskSize: TaskSize, mean: MeanFigures) {
            self.knobs = knobs
            self.taskSize = taskSize
            self.mean = mean
        }
    }

    /// What the search found.
    public struct Advice: Sendable {
        /// The service whose knobs were searched.
        public var service: String
        /// The p95 adhoc wait to meet, seconds (mean over the seeds).
        public var target: Double
        /// The policy as it is.
        public var current: Candidate
        /// The cheapest setting that meets the target and kills no more than the current one:
        /// cheaper than the current policy when that meets the target too, at any cost when it
        /// does not (a tighter target is a request for shorter waits); `nil` when there is none.
        public var best: Candidate?
        /// Settings tried (the current one included).
        public var tried: Int
    }

    /// The policy as the user gave it (scenario services included).
    public var policy: Policy
    /// The workloads to judge on, one per seed.
    public var workloads: [(seed: UInt64, workload: Workload)]
    /// ECS and worker behaviour (sizes and prices included).
    public var ecs: ECSModel
    /// The service to advise on.
    public var service: String

    /// Creates an advisor for `service`.
    public init(policy: Policy, workloads: [(seed: UInt64, workload: Workload)], service: String, ecs: ECSModel = ECSModel()) {
        self.policy = policy
        self.workloads = workloads
        self.service = service
        self.ecs = ecs
    }

    /// The grid: workers per task 1, 2, 3, 4, 6, 8 (maxTasks rounded up to keep the current
    /// number of slots), maxWait 15, 30, 60 s, scale-down window 1, 2, 5 min, interval 2, 5,
    /// 10 s: 162 settings, and the current one first (once, if it is on the grid).
    public func grid() -> [Knobs] {
        guard let adhoc = policy.services.first(where: { $0.name == service }) else { return [] }
        let current = Knobs(adhoc, interval: policy.interval)
        let slots = adhoc.maxTasks * adhoc.workersPerTask
        var knobs = [current]
        for workers in [1, 2, 3, 4, 6, 8] {
            for maxWait in [15, 30, 60] {
                for window in [60, 120, 300] {
                    for interval in [2, 5, 10] {
                        var candidate = current
                        candidate.workersPerTask = workers
                        candidate.maxTasks = max(adhoc.minTasks, 1, (slots + workers - 1) / workers)
                        candidate.maxWait = .seconds(maxWait)
                        candidate.scaleDownWindow = .seconds(window)
                        candidate.interval = .seconds(interval)
                        if candidate != current { knobs.append(candidate) }
                    }
                }
            }
        }
        return knobs
    }

    /// The policy with `knobs` applied to the service.
    public func policy(with knobs: Knobs) -> Policy {
        policy.withServices(interval: knobs.interval, reactInterval: knobs.reactInterval) { service in
            guard service.name == self.service else { return }
            service.workersPerTask = knobs.workersPerTask
            service.maxTasks = knobs.maxTasks
            service.target.maxWait = knobs.maxWait
            service.scaleDown.stabilizationWindow = knobs.scaleDownWindow
            service.target.backlogPerWorker = knobs.backlogPerWorker
        }
    }

    /// The service's knobs as the policy sets them; `nil` when the policy has no such service.
    public var currentKnobs: Knobs? {
        policy.services.first { $0.name == service }.map { Knobs($0, interval: policy.interval, reactInterval: policy.reactInterval) }
    }

    /// How many of the settings that came closest to the target are tried again with the knobs
    /// that buy waits (`refinements`).
    public static let refined = 12

    /// The second round: each of `candidates` that misses `goal` (kills no more than `today`,
    /// and costs less than `today` when that meets the goal, or a saving is out of reach), the
    /// `refined` closest to the goal first, with `backlogPerWorker` 0.5, with the queue watch
    /// every second, and with both; none already tried.
    package func refinements(of candidates: [Candidate], goal: Double, today: Candidate) -> [Knobs] {
        let todayMeets = today.mean.adhocP95 <= goal + 0.1
        let near = candidates.filter {
            $0.mean.adhocP95 > goal + 0.1 && $0.mean.killed <= today.mean.killed && (!todayMeets || $0.mean.cost < today.mean.cost)
        }.sorted { ($0.mean.adhocP95, $0.mean.cost) < ($1.mean.adhocP95, $1.mean.cost) }.prefix(Self.refined)
        var tried = Set(candidates.map(\.knobs))
        var knobs: [Knobs] = []
        for candidate in near {
            var backlog = candidate.knobs
            backlog.backlogPerWorker = 0.5
            var react = candidate.knobs
            if react.interval > .seconds(1) { react.reactInterval = .seconds(1) }
            var both = backlog
            both.reactInterval = react.reactInterval
            for variant in [backlog, react, both] where tried.insert(variant).inserted { knobs.append(variant) }
        }
        return knobs
    }

    /// Runs every setting of `grid` (default: `grid()`) on every workload, the current setting
    /// first; `target` is the p95 adhoc wait to meet (default: the current policy's).
    /// `progress` hears a line now and then.
    public func run(target: Double? = nil, grid custom: [Knobs]? = nil, progress: (String) -> Void = { _ in }) -> Advice? {
        guard let current = currentKnobs else { return nil }
        let knobs = custom.map { [current] + $0.filter { $0 != current } } ?? grid()
        func evaluate(_ settings: [Knobs], first: Int, of total: Int) -> [Candidate] {
            settings.enumerated().map { index, setting in
                if (first + index) % 20 == 0 { progress("advise: \(first + index) of \(total) settings") }
                let changed = policy(with: setting)
                let results = workloads.map { seed, workload in
                    Simulation(policy: changed, workload: workload, ecs: ecs, seed: seed, sampleInterval: workload.duration + 1)
                        .runOurs(taskStartLead: .seconds(ecs.taskStart.upperBound))
                }
                return Candidate(knobs: setting, taskSize: ecs.sizing.size(workers: setting.workersPerTask), mean: MeanFigures(results))
            }
        }
        var candidates = evaluate(knobs, first: 0, of: knobs.count)
        let today = candidates[0]
        let goal = target ?? today.mean.adhocP95
        let second = refinements(of: candidates, goal: goal, today: today)
        candidates += evaluate(second, first: candidates.count, of: candidates.count + second.count)
        // "The same p95": within a tenth of a second of the goal, which rounding in a report hides.
        let todayMeets = today.mean.adhocP95 <= goal + 0.1
        let fitting = candidates.dropFirst().filter {
            $0.mean.adhocP95 <= goal + 0.1 && $0.mean.killed <= today.mean.killed && (!todayMeets || $0.mean.cost < today.mean.cost)
        }
        let best = fitting.min { ($0.mean.cost, $0.mean.adhocP95) < ($1.mean.cost, $1.mean.adhocP95) }
        return Advice(service: service, target: goal, current: today, best: best, tried: candidates.count)
    }
}

extension Advisor.Advice {
    /// The advice in plain text: the two settings side by side, the saving, and the policy keys
    /// to change.
    public func render(scenario: String, seeds: [UInt64]) -> String {
        func describe(_ name: String, _ candidate: Advisor.Candidate) -> [String] {
            let knobs = candidate.knobs
            return [
                name, String(knobs.workersPerTask), candidate.taskSize.summary, String(knobs.maxTasks),
                "\(Int(knobs.maxWait.inSeconds)) s", "\(Int(knobs.scaleDownWindow.inSeconds)) s", "\(Int(knobs.interval.inSeconds)) s",
                knobs.reactInterval > .zero ? knobs.reactInterval.compactDescription : "off", format(knobs.backlogPerWorker),
                seconds(candidate.mean.adhocP95), seconds(candidate.mean.adhocP99), dollars(candidate.mean.cost),
                format(candidate.mean.taskHours), String(candidate.mean.killed),
            ]
        }
        var lines = [
            "advice for \(service) on \(scenario), seeds \(seeds.map(String.init).joined(separator: ",")): \(tried) settings tried, target p95 adhoc ≤ \(seconds(target)), no more queries killed than today"
                + (current.mean.adhocP95 <= target + 0.1 ? ", for less than today" : " (today misses it: at any cost)"),
            "",
        ]
        var rows = [[
            "", "workers/task", "task size", "maxTasks", "maxWait", "scale-down window", "interval", "reactInterval", "backlog/worker",
            "adhoc p95", "p99", "cost", "task-h", "killed",
        ]]
        rows.append(describe("current policy", current))
        if let best { rows.append(describe("cheapest meeting the target", best)) }
        lines.append(BenchmarkTable.table(rows))
        lines.append("")
        guard let best else {
            lines.append(current.mean.adhocP95 <= target + 0.1
                ? "No setting tried meets the target for less than the current policy costs; keep it."
                : "No setting tried meets the target; the waits are the task starts', which no knob here shortens.")
            return lines.joined(separator: "\n")
        }
        let saving = 1 - best.mean.cost / max(current.mean.cost, 1e-9)
        let percent = String((abs(saving) * 1000).rounded() / 10)
        if saving >= 0 {
            lines.append("Saves \(percent) % of the cost (\(dollars(current.mean.cost - best.mean.cost)) a day of this load) at p95 \(seconds(best.mean.adhocP95)) against \(seconds(current.mean.adhocP95)).")
        } else {
            lines.append("Costs \(percent) % more (\(dollars(best.mean.cost - current.mean.cost)) a day of this load) for p95 \(seconds(best.mean.adhocP95)) against \(seconds(current.mean.adhocP95)).")
        }
        lines.append("")
        lines.append("Policy change (policies.yaml):")
        let (old, new) = (current.knobs, best.knobs)
        if old.interval != new.interval { lines.append("  interval: \(Int(old.interval.inSeconds))s → \(Int(new.interval.inSeconds))s") }
        if old.reactInterval != new.reactInterval {
            lines.append("  reactInterval: \(old.reactInterval.compactDescription) → \(new.reactInterval.compactDescription)   (the queue watch)")
        }
        let path = "  services[\(service)]"
        if old.workersPerTask != new.workersPerTask {
            lines.append("\(path).workersPerTask: \(old.workersPerTask) → \(new.workersPerTask)   (and WORKERS_COUNT=\(new.workersPerTask), task size \(best.taskSize.summary) in the task definition)")
        }
        if old.maxTasks != new.maxTasks {
            lines.append("\(path).maxTasks: \(old.maxTasks) → \(new.maxTasks)   (at least today's \(old.maxTasks * old.workersPerTask) worker slots)")
        }
        if old.maxWait != new.maxWait { lines.append("\(path).target.maxWait: \(Int(old.maxWait.inSeconds))s → \(Int(new.maxWait.inSeconds))s") }
        if old.backlogPerWorker != new.backlogPerWorker {
            lines.append("\(path).target.backlogPerWorker: \(format(old.backlogPerWorker)) → \(format(new.backlogPerWorker))")
        }
        if old.scaleDownWindow != new.scaleDownWindow {
            lines.append("\(path).scaleDown.stabilizationWindow: \(Int(old.scaleDownWindow.inSeconds))s → \(Int(new.scaleDownWindow.inSeconds))s")
        }
        return lines.joined(separator: "\n")
    }
}
