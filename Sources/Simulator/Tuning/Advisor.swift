import AutoscalerCore

/// `simulate --advise`: searches our own knobs for the adhoc worker service — the task shape
/// (`workersPerTask`, with `maxTasks` keeping the same number of worker slots, and the task's
/// Fargate size and price), `maxWait`, the scale-down window — and the reconcile interval, for
/// the cheapest setting whose mean p95 adhoc wait meets a target (by default the current
/// policy's) without killing more queries than the current policy, on the same workloads.
public struct Advisor: Sendable {
    /// One point of the search.
    public struct Knobs: Hashable, Sendable {
        public var workersPerTask: Int
        public var maxTasks: Int
        public var maxWait: Duration
        public var scaleDownWindow: Duration
        public var interval: Duration

        /// The knobs of `service` under `policy`.
        public init(_ service: ServicePolicy, interval: Duration) {
            workersPerTask = service.workersPerTask
            maxTasks = service.maxTasks
            maxWait = service.target.maxWait
            scaleDownWindow = service.scaleDown.stabilizationWindow
            self.interval = interval
        }
    }

    /// One setting's figures over the workloads.
    public struct Candidate: Sendable {
        public var knobs: Knobs
        /// The adhoc service's Fargate task size under these knobs.
        public var taskSize: TaskSize
        /// Means over the seeds (kills summed).
        public var mean: MeanFigures
    }

    /// What the search found.
    public struct Advice: Sendable {
        /// The service whose knobs were searched.
        public var service: String
        /// The p95 adhoc wait to meet, seconds (mean over the seeds).
        public var target: Double
        /// The policy as it is.
        public var current: Candidate
        /// The cheapest setting that meets the target and kills no more than the current one;
        /// `nil` when none costs less than the current policy.
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
        policy.withServices(interval: knobs.interval) { service in
            guard service.name == self.service else { return }
            service.workersPerTask = knobs.workersPerTask
            service.maxTasks = knobs.maxTasks
            service.target.maxWait = knobs.maxWait
            service.scaleDown.stabilizationWindow = knobs.scaleDownWindow
        }
    }

    /// The service's knobs as the policy sets them; `nil` when the policy has no such service.
    public var currentKnobs: Knobs? {
        policy.services.first { $0.name == service }.map { Knobs($0, interval: policy.interval) }
    }

    /// Runs every setting of `grid` (default: `grid()`) on every workload, the current setting
    /// first; `target` is the p95 adhoc wait to meet (default: the current policy's).
    /// `progress` hears a line now and then.
    public func run(target: Double? = nil, grid custom: [Knobs]? = nil, progress: (String) -> Void = { _ in }) -> Advice? {
        guard let current = currentKnobs else { return nil }
        let knobs = custom.map { [current] + $0.filter { $0 != current } } ?? grid()
        var candidates: [Candidate] = []
        for (index, setting) in knobs.enumerated() {
            if index % 20 == 0 { progress("advise: \(index) of \(knobs.count) settings") }
            let changed = policy(with: setting)
            let results = workloads.map { seed, workload in
                Simulation(policy: changed, workload: workload, ecs: ecs, seed: seed, sampleInterval: workload.duration + 1)
                    .runOurs(taskStartLead: .seconds(ecs.taskStart.upperBound))
            }
            candidates.append(Candidate(knobs: setting, taskSize: ecs.sizing.size(workers: setting.workersPerTask), mean: MeanFigures(results)))
        }
        let today = candidates[0]
        let goal = target ?? today.mean.adhocP95
        // "The same p95": within a tenth of a second of the goal, which rounding in a report hides.
        let fitting = candidates.dropFirst().filter {
            $0.mean.adhocP95 <= goal + 0.1 && $0.mean.killed <= today.mean.killed && $0.mean.cost < today.mean.cost
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
                seconds(candidate.mean.adhocP95), seconds(candidate.mean.adhocP99), dollars(candidate.mean.cost),
                format(candidate.mean.taskHours), String(candidate.mean.killed),
            ]
        }
        var lines = [
            "advice for \(service) on \(scenario), seeds \(seeds.map(String.init).joined(separator: ",")): \(tried) settings tried, target p95 adhoc ≤ \(seconds(target)), no more queries killed than today",
            "",
        ]
        var rows = [["", "workers/task", "task size", "maxTasks", "maxWait", "scale-down window", "interval", "adhoc p95", "p99", "cost", "task-h", "killed"]]
        rows.append(describe("current policy", current))
        if let best { rows.append(describe("cheapest meeting the target", best)) }
        lines.append(BenchmarkTable.table(rows))
        lines.append("")
        guard let best else {
            lines.append("No setting of the grid meets the target for less than the current policy costs; keep it.")
            return lines.joined(separator: "\n")
        }
        let saving = 1 - best.mean.cost / max(current.mean.cost, 1e-9)
        lines.append("Saves \(String((saving * 1000).rounded() / 10)) % of the cost (\(dollars(current.mean.cost - best.mean.cost)) a day of this load) at p95 \(seconds(best.mean.adhocP95)) against \(seconds(current.mean.adhocP95)).")
        lines.append("")
        lines.append("Policy change (policies.yaml):")
        let (old, new) = (current.knobs, best.knobs)
        if old.interval != new.interval { lines.append("  interval: \(Int(old.interval.inSeconds))s → \(Int(new.interval.inSeconds))s") }
        let path = "  services[\(service)]"
        if old.workersPerTask != new.workersPerTask {
            lines.append("\(path).workersPerTask: \(old.workersPerTask) → \(new.workersPerTask)   (and WORKERS_COUNT=\(new.workersPerTask), task size \(best.taskSize.summary) in the task definition)")
        }
        if old.maxTasks != new.maxTasks {
            lines.append("\(path).maxTasks: \(old.maxTasks) → \(new.maxTasks)   (at least today's \(old.maxTasks * old.workersPerTask) worker slots)")
        }
        if old.maxWait != new.maxWait { lines.append("\(path).target.maxWait: \(Int(old.maxWait.inSeconds))s → \(Int(new.maxWait.inSeconds))s") }
        if old.scaleDownWindow != new.scaleDownWindow {
            lines.append("\(path).scaleDown.stabilizationWindow: \(Int(old.scaleDownWindow.inSeconds))s → \(Int(new.scaleDownWindow.inSeconds))s")
        }
        return lines.joined(separator: "\n")
    }
}
