import AutoscalerCore

/// Our controller on simulated time: the production `ScalingRule`, `ScalingHistory`,
/// `ScaleInProtection` and `ScheduledForecast`, fed what the Redis probes and ECS would report.
public struct QueueDrivenAutoscaler: SimulatedAutoscaler {
    public let name: String
    public let tickInterval: Double
    let policy: Policy
    let isBusyAware: Bool
    var forecast: SimulatedScheduleForecast?
    var histories: [String: ScalingHistory] = [:]
    /// The decisions of the last tick, for tests that compare with the pure core.
    public private(set) var lastDecisions: [Decision] = []
    /// Every input the rule saw with the decision it made, when recording is on (tests only).
    public var isRecording = false
    public private(set) var records: [(input: DecisionInput, decision: Decision)] = []

    /// - Parameters:
    ///   - busyAware: protect busy tasks and count busy tasks as a floor (the busy-aware
    ///     scale-in of the controller).
    ///   - forecast: scheduled work the metadata database would predict; `nil` runs without.
    public init(policy: Policy, busyAware: Bool = true, forecast: SimulatedScheduleForecast? = nil, name: String? = nil) {
        self.policy = policy
        self.isBusyAware = busyAware
        self.forecast = forecast
        self.tickInterval = policy.interval.inSeconds
        self.name = name ?? "redash-autoscaler"
    }

    public mutating func tick(_ view: ClusterView) -> AutoscalerActions {
        var actions = AutoscalerActions()
        lastDecisions = []
        for (index, service) in policy.services.enumerated() {
            let serviceView = view.services[index]
            var readings: [String: QueueReading] = [:]
            for queue in service.queues {
                if let observation = view.queues[queue] { readings[queue] = .observed(observation) }
            }
            let state = ServiceState(
                desired: serviceView.desired, running: serviceView.running, pending: serviceView.pending,
                busyTasks: isBusyAware ? serviceView.tasks.filter { $0.busyWorkers > 0 }.count : nil,
                observedAt: view.now)
            let predicted = forecast?.demand(for: service, at: view.now)
            let input = DecisionInput(
                policy: service, queues: readings, service: state, predicted: predicted,
                history: histories[service.name] ?? ScalingHistory(), now: view.now)
            let decision = ScalingRule.decide(input)
            if isRecording { records.append((input, decision)) }
            var history = input.history
            history.record(decision, policy: service)
            if decision.isChange, let desired = decision.desired {
                history.recordApplied(decision)
                actions.desired[service.name] = desired
            }
            histories[service.name] = history
            lastDecisions.append(decision)
            if isBusyAware {
                let plan = ScaleInProtection.plan(
                    tasks: serviceView.tasks, desired: decision.desired ?? serviceView.desired,
                    isDeploymentInProgress: false)
                if !plan.isEmpty { actions.protection[service.name] = plan }
            }
        }
        return actions
    }
}

/// What Redash's metadata database would forecast: scheduled queries about to fall due, with the
/// runtime their data source's history predicts.
public struct SimulatedScheduleForecast: Sendable {
    struct Due {
        var due: Double
        var arrival: Double
        var expectedRuntime: Double
    }

    let start: Instant
    let dueByQueue: [String: [Due]]
    /// How far ahead capacity is asked for: the slowest task start plus one tick.
    public let leadTime: Duration

    /// Reads the scheduled jobs of `workload`.
    public init(workload: Workload, leadTime: Duration) {
        start = workload.start
        self.leadTime = leadTime
        var byQueue: [String: [Due]] = [:]
        for job in workload.jobs where job.kind == .scheduled {
            guard let due = job.due else { continue }
            byQueue[job.queue, default: []].append(
                Due(due: due, arrival: job.arrival, expectedRuntime: job.expectedRuntime ?? job.runtime))
        }
        dueByQueue = byQueue.mapValues { $0.sorted { $0.due < $1.due } }
    }

    func demand(for service: ServicePolicy, at now: Instant) -> PredictedDemand? {
        let elapsed = now - start
        var due: [DueQuery] = []
        for queue in service.queues {
            guard let list = dueByQueue[queue] else { continue }
            // Binary search for the first query due after `elapsed - 60 s`.
            var low = 0, high = list.count
            let from = elapsed.inSeconds - 60
            while low < high {
                let mid = (low + high) / 2
                if list[mid].due < from { low = mid + 1 } else { high = mid }
            }
            var index = low
            while index < list.count, list[index].due <= elapsed.inSeconds + leadTime.inSeconds {
                // Once Redash has enqueued it, the queue signal takes over.
                if list[index].arrival > elapsed.inSeconds {
                    due.append(DueQuery(
                        dueIn: .seconds(list[index].due - elapsed.inSeconds),
                        expectedRuntime: .seconds(list[index].expectedRuntime)))
                }
                index += 1
            }
        }
        return ScheduledForecast.demand(due: due, policy: service, leadTime: leadTime)
    }
}
