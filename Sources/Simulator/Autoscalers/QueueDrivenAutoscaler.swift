import AutoscalerCore

/// Our controller on simulated time: the production `ServiceStep` (the rule, the history, the
/// outside-change rule, busy tasks, protection, the forecast), fed what the Redis probes and ECS
/// would report, its plans carried out by the simulated ECS as a live applier would.
public struct QueueDrivenAutoscaler: SimulatedAutoscaler {
    public let name: String
    public let tickInterval: Double
    let policy: Policy
    let context: ServiceStep.Context
    var forecast: SimulatedScheduleForecast?
    var memories: [String: ServiceMemory] = [:]
    /// Every observation with the plan the step made, when recording is on (tests only).
    public var isRecording = false
    public private(set) var records: [Record] = []

    /// One service's tick as the step saw and planned it.
    public struct Record: Sendable {
        public var service: String
        public var now: Instant
        public var observation: ServiceObservation
        public var memory: ServiceMemory
        public var plan: ServicePlan
        /// Every task ECS would list, read or not.
        public var tasks: [TaskSnapshot]
        /// Made from the second reading before a scale-in (`recheck`), within the tick at `now`.
        public var isRecheck = false
    }

    /// - Parameters:
    ///   - busyAware: protect busy tasks and count them as a floor (the policy's
    ///     `protectBusyTasks`); `false` turns it off for every service.
    ///   - forecast: scheduled work the metadata database would predict; `nil` runs without.
    ///   - taskStartLead: how far ahead of scheduled work capacity is asked for.
    public init(
        policy: Policy, busyAware: Bool = true, forecast: SimulatedScheduleForecast? = nil, name: String? = nil,
        taskStartLead: Duration = ServiceStep.Context.defaultTaskStartLead
    ) {
        self.policy = busyAware ? policy : policy.withServices { $0.protectBusyTasks = false }
        self.forecast = forecast
        self.tickInterval = policy.interval.inSeconds
        self.context = ServiceStep.Context(interval: policy.interval, taskStartLead: taskStartLead)
        self.name = name ?? "redash-autoscaler"
    }

    public mutating func tick(_ view: ClusterView) -> AutoscalerActions {
        var actions = AutoscalerActions()
        lastTick = LastTick(now: view.now, memories: memories, services: view.services)
        for (index, service) in policy.services.enumerated() {
            step(service, view.services[index], queues: view.queues, now: view.now, into: &actions)
        }
        return actions
    }

    /// Before a scale-in lands, as the controller: the services that scale in are planned again
    /// from the memory before the tick, with the queues and workers read now and what the tick
    /// read of ECS (the service and its tasks).
    public mutating func recheck(_ actions: AutoscalerActions, _ view: ClusterView) -> AutoscalerActions {
        guard let last = lastTick else { return actions }
        var actions = actions
        // The controller stamps both readings with its tick's time, and plans at it.
        let queues = view.queues.mapValues { observation in
            var observation = observation
            observation.observedAt = last.now
            return observation
        }
        for (index, service) in policy.services.enumerated() {
            var serviceView = last.services[index]
            guard last.rechecking.contains(service.name) else { continue }
            actions.desired[service.name] = nil
            actions.protection[service.name] = nil
            memories[service.name] = last.memories[service.name]
            serviceView.workers = view.services[index].workers
            step(service, serviceView, queues: queues, now: last.now, isRecheck: true, into: &actions)
        }
        return actions
    }

    /// The queue watch between ticks (`Policy.reactInterval`), as the controller's loop runs it.
    public var reactInterval: Double { policy.reactInterval.inSeconds }

    /// What the controller's `needsEarlyReconcile` answers: when a queue's length has changed
    /// since the watch last read them whole, whether a service's last observation, with the
    /// queues read now, would scale it up.
    public mutating func wantsEarlyTick(_ view: ClusterView) -> Bool {
        guard watchGate.needsWholeReading(lengths: view.queues.mapValues(\.pending)) else { return false }
        let readings = view.queues.mapValues { QueueReading.observed($0) }
        return policy.services.contains { service in
            guard let observation = lastObservations[service.name] else { return false }
            return ServiceStep.wouldScaleUp(
                observation, queues: readings, memory: memories[service.name] ?? ServiceMemory(), policy: service, context: context, now: view.now)
        }
    }

    /// What each service's last plan was made from.
    var lastObservations: [String: ServiceObservation] = [:]
    /// The lengths the watch last read the queues whole at.
    var watchGate = QueueWatchGate()

    /// Our controller reads again before a scale-in around busy tasks.
    public var rechecksBeforeScaleIn: Bool { !(lastTick?.rechecking.isEmpty ?? true) }

    /// What the last tick started from, for `recheck`.
    struct LastTick {
        var now: Instant
        var memories: [String: ServiceMemory]
        var services: [ServiceView]
        /// The services whose plan needs the second reading (`ServicePlan.needsRecheckBeforeWrite`).
        var rechecking: Set<String> = []
    }
    var lastTick: LastTick?

    /// One service's plan, carried out as a live applier would, into `actions`.
    private mutating func step(
        _ service: ServicePolicy, _ serviceView: ServiceView, queues: [String: QueueObservation], now: Instant, isRecheck: Bool = false,
        into actions: inout AutoscalerActions
    ) {
        var readings: [String: QueueReading] = [:]
        for queue in service.queues {
            if let observation = queues[queue] { readings[queue] = .observed(observation) }
        }
        let state = ServiceState(
            desired: serviceView.desired, running: serviceView.running, pending: serviceView.pending,
            isDeploymentInProgress: serviceView.isDeploying, observedAt: now)
        let memory = memories[service.name] ?? ServiceMemory()
        let needsTasks = ServiceStep.needsTasks(policy: service, workers: serviceView.workers, service: state, memory: memory)
        let observation = ServiceObservation(
            queues: readings, service: state, workers: serviceView.workers,
            tasks: needsTasks ? .observed(serviceView.tasks) : .notRead,
            scheduledDue: forecast?.due(for: service, at: now, leadTime: context.forecastLead))
        let (plan, planned) = ServiceStep.plan(observation, memory: memory, policy: service, context: context, now: now)
        lastObservations[service.name] = observation
        if plan.needsRecheckBeforeWrite { lastTick?.rechecking.insert(service.name) } else { lastTick?.rechecking.remove(service.name) }
        if isRecording { records.append(Record(
            service: service.name, now: now, observation: observation, memory: memory, plan: plan, tasks: serviceView.tasks, isRecheck: isRecheck)) }
        // The simulated ECS accepts every call: protection first, then the count.
        let protection: ProtectionResult = plan.protection.isEmpty
            ? .nothingToDo : .applied(ProtectionChange(protected: plan.protection.protect, released: plan.protection.release))
        if !plan.protection.isEmpty { actions.protection[service.name] = (plan.protection, plan.protectionDuration) }
        let scale: ScaleResult
        switch plan.desiredCountToSend(after: protection) {
        case .nothing: scale = .nothingToSend
        case .withhold(let reason): scale = .withheld(reason)
        case .send(let count):
            actions.desired[service.name] = count
            scale = .sent
        }
        memories[service.name] = ServiceStep.settle(plan, memory: planned, result: ApplyResult(protection: protection, scale: scale)).memory
    }
}

extension Simulation {
    /// Our controller on this simulation's policy, with the forecast its workload's scheduled
    /// queries give: the "ours" rows of the report, its variants and the advisor's settings.
    public func runOurs(name: String? = nil, taskStartLead: Duration, scenario: String = "") -> SimulationResult {
        var autoscaler = QueueDrivenAutoscaler(policy: policy, forecast: SimulatedScheduleForecast(workload: workload), name: name, taskStartLead: taskStartLead)
        return run(&autoscaler, scenario: scenario)
    }
}

extension Policy {
    /// The same policy with every service changed by `change` and, when given, another
    /// interval (the simulator's variants).
    package func withServices(interval: Duration? = nil, reactInterval: Duration? = nil, _ change: (inout ServicePolicy) -> Void = { _ in }) -> Policy {
        Policy(cluster: cluster, region: region, interval: interval ?? self.interval, redis: redis, database: database, services: services.map { service in
            var service = service
            change(&service)
            return service
        }, reactInterval: reactInterval ?? self.reactInterval)
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

    /// Reads the scheduled jobs of `workload`.
    public init(workload: Workload) {
        start = workload.start
        var byQueue: [String: [Due]] = [:]
        for job in workload.jobs where job.kind == .scheduled {
            guard let due = job.due else { continue }
            byQueue[job.queue, default: []].append(
                Due(due: due, arrival: job.arrival, expectedRuntime: job.expectedRuntime ?? job.runtime))
        }
        dueByQueue = byQueue.mapValues { $0.sorted { $0.due < $1.due } }
    }

    /// The scheduled queries of `service`'s queues due within `leadTime` of `now` (or up to a
    /// minute overdue) that Redash has not enqueued yet: what the controller's forecast passes on.
    func due(for service: ServicePolicy, at now: Instant, leadTime: Duration) -> [DueQuery] {
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
        return due
    }
}
