/// One service's part of a tick, as a pure function: from what was observed, what is
/// remembered, the policy and the moment, to a plan and the memory after it. The controller,
/// the simulator and the tests all call it; none has a copy of its own.
///
/// In order:
/// 1. An outside change of desiredCount (console, Terraform, another autoscaler) is noticed
///    against the memory and left alone for the policy's `externalChangeHold`.
/// 2. Busy RQ workers are mapped to tasks: every busy task becomes a floor, and the protection
///    plan protects busy tasks (renewing those that will soon run out) and releases idle ones.
///    When the tasks could not be read, no scale-in this tick.
/// 3. Scheduled work due within the lead time becomes predicted demand.
/// 4. What a new task could pick up: work on queues the service's workers do not listen on,
///    and messages prefetched by busy nodes or stranded by killed ones, are left out of the
///    demand and named in notices.
/// 5. The scaling rule decides; the recommendation is remembered for the windows.
///
/// `settle` then takes what the applier did and returns the memory after it (cooldowns start
/// only when a change was accepted) and the outcome to report.
public enum ServiceStep {
    /// What the step needs to know about the controller around it.
    public struct Context: Hashable, Sendable {
        /// Time between two ticks: the forecast asks this much further ahead.
        public var interval: Duration
        /// How long a new task takes to start: scheduled work due within it (plus a tick) is
        /// asked for now.
        public var taskStartLead: Duration

        /// How long tasks may take to start before the capacity counts as stalled (the policy's
        /// `ecs.taskStartTimeout`); `nil`: the learned p90 start time plus a margin.
        public var taskStartTimeout: Duration?

        /// A Fargate task takes 30–90 s to start.
        public static let defaultTaskStartLead: Duration = .seconds(90)

        /// Creates a context.
        public init(interval: Duration, taskStartLead: Duration = Context.defaultTaskStartLead, taskStartTimeout: Duration? = nil) {
            self.interval = interval
            self.taskStartLead = taskStartLead
            self.taskStartTimeout = taskStartTimeout
        }

        /// How far ahead scheduled work is asked for.
        public var forecastLead: Duration { taskStartLead + interval }
    }

    /// Whether the service's tasks must be read this tick: busy-aware scale-in is on, the queue
    /// system records workers, ECS was read, and some worker is busy or some task is still
    /// protected by this controller (to release it); or work waits on a queue no live worker
    /// listens on while the service runs tasks, whose workers then tell which queues it consumes.
    public static func needsTasks(
        policy: ServicePolicy, workers: [WorkerIdentity]?, service: ServiceState?, memory: ServiceMemory, observation: ServiceObservation? = nil
    ) -> Bool {
        guard let service else { return false }
        if let observation, service.running > 0,
           !consumption(observation, policy: policy, activeTasks: []).unproven.isEmpty {
            return true
        }
        if let observation, CeleryDrain.needsTasks(observation, memory: memory) { return true }
        guard policy.protectBusyTasks, let workers else { return false }
        return workers.contains(where: \.isBusy) || !memory.protectedByUs.isEmpty
    }

    /// Plans one tick of one service.
    public static func plan(
        _ observation: ServiceObservation, memory: ServiceMemory, policy: ServicePolicy, context: Context, now: Instant
    ) -> (plan: ServicePlan, memory: ServiceMemory) {
        var memory = memory
        var notices: [StepNotice] = []
        var state = observation.service
        // Queries of Celery nodes draining (their tasks being stopped) still run.
        var observation = observation
        let drain = CeleryDrain.apply(observation, memory: memory, policy: policy)
        observation.queues = drain.queues
        memory.celeryNodes = drain.nodes
        if !drain.draining.isEmpty { notices.append(.drainingNodes(drain.draining, running: drain.drainingRunning)) }

        // 1. Who changed desiredCount since the last tick?
        if let state {
            if let seen = memory.lastSeenDesired, state.desired != seen, memory.lastSetByUs != state.desired {
                let until = now + policy.externalChangeHold
                if policy.externalChangeHold > .zero { memory.outsideChangeUntil = until }
                notices.append(.outsideChange(from: seen, to: state.desired, until: until))
            }
            memory.lastSeenDesired = state.desired
        }

        // 2. Busy tasks: the floor, and what protection they need.
        let busy: BusyTasks
        var activeTasks: [TaskSnapshot] = []
        var busyWorkersByTask: [String: Int] = [:]
        if state == nil || !policy.protectBusyTasks {
            busy = .notApplicable
        } else if let workers = observation.workers {
            switch observation.tasks {
            case .notRead:
                busy = .none
            case .unavailable(let reason):
                busy = .unknown(reason: reason)
            case .observed(let tasks):
                activeTasks = tasks.filter { $0.phase != .stopping }
                let mapping = WorkerTaskMapping.map(
                    workers: workers, tasks: activeTasks.map { TaskAddress(id: $0.id, privateIP: $0.privateIP) })
                busy = .mapped(busyTasks: mapping.busyTasks, unmappedBusyWorkers: mapping.unmappedBusy)
                busyWorkersByTask = mapping.busyWorkers
                if mapping.unmappedBusy > 0 { notices.append(.unmappedBusyWorkers(mapping.unmappedBusy)) }
            }
        } else {
            busy = .notApplicable
        }
        state?.busyTasks = busy.floor

        // Start times, learned from the tasks read; and whether the capacity asked for is late.
        if let tasks = observation.tasks.snapshots { memory.startTimes = memory.startTimes.learning(from: tasks) }
        var stall: StepNotice?
        if let state {
            memory.shortSince = state.running < state.desired ? memory.shortSince ?? now : nil
            let timeout = TaskStartWatch.timeout(learned: memory.startTimes, configured: context.taskStartTimeout)
            if let since = memory.shortSince, now - since > timeout {
                stall = .capacityStalled(
                    missing: state.desired - state.running, since: since, timeout: timeout, reason: TaskStartWatch.reason(in: state.events))
            }
        }

        // 3. Scheduled work about to fall due, as far ahead as this service's tasks take to start.
        let lead = (memory.startTimes.p90 ?? context.taskStartLead) + context.interval
        let predicted = observation.scheduledDue.flatMap {
            ScheduledForecast.demand(due: $0, policy: policy, leadTime: lead)
        }

        // 4. What a new task could take: not work on queues the service's workers ignore, not
        // messages held by busy nodes or stranded by killed ones (the rule leaves those out).
        let consumption = consumption(observation, policy: policy, activeTasks: activeTasks)
        notices += servabilityNotices(observation, policy: policy, consumption: consumption, now: now)

        // 5. The rule; an operator's hold overrides its count (the rule's recommendation still
        // enters the history, so the stabilization window is right when the hold ends).
        var decision = ScalingRule.decide(DecisionInput(
            policy: policy, queues: observation.queues, service: state, predicted: predicted, history: memory.history,
            now: now, expectedRuntimes: observation.expectedRuntimes, unconsumedQueues: Set(consumption.unconsumed)))
        memory.history.record(decision, policy: policy)
        let hold = observation.hold.flatMap { $0.isActive(at: now) ? $0 : nil }
        if let hold, let state {
            // Within the policy's bounds: the policy is the reviewed limit, a hold a moment's wish.
            let count = min(max(hold.tasks, policy.minTasks), policy.maxTasks)
            let bounded = count == hold.tasks ? "" : " (kept within \(policy.minTasks)…\(policy.maxTasks) tasks: \(count))"
            decision = Decision(
                service: decision.service, at: decision.at, current: state.desired, desired: count,
                recommendation: decision.recommendation, code: .operatorHold, reason: hold.explanation + bounded, figures: decision.figures)
        }

        // Capacity that does not arrive: no more is asked for until tasks start (never less).
        if let stall, case .capacityStalled(let missing, let since, let timeout, let reason) = stall, let state,
           let desired = decision.desired, desired > state.desired, decision.code != .operatorHold {
            notices.append(stall)
            decision = Decision(
                service: decision.service, at: decision.at, current: state.desired, desired: state.desired,
                recommendation: decision.recommendation, code: .capacityStalled,
                reason: decision.reason + "; but \(missing) task(s) asked for have not started for \((now - since).compactDescription) (tasks start within "
                    + "\(timeout.compactDescription))" + (reason.map { ": ECS says \"\($0)\"" } ?? "") + "; not asking for more until they do",
                figures: decision.figures)
        } else if let stall {
            notices.append(stall)
        }

        var protection = ProtectionPlan()
        if case .mapped = busy, let state {
            let renewBefore = now + policy.taskProtection / 3
            protection = ScaleInProtection.plan(
                tasks: activeTasks.map {
                    TaskActivity(id: $0.id, busyWorkers: busyWorkersByTask[$0.id] ?? 0, isProtected: $0.isProtected(at: now))
                },
                desired: decision.desired ?? state.desired, isDeploymentInProgress: state.isDeploymentInProgress,
                renewing: Set(activeTasks.filter { ($0.protectedUntil ?? now) <= renewBefore }.map(\.id)))
        }

        let action: ScaleAction
        if !decision.isChange {
            action = .none
        } else if hold == nil, let until = memory.outsideChangeUntil, now < until {
            action = .respectOutsideChange(until: until)
        } else if decision.direction == .down, case .unknown(let reason) = busy {
            action = .withhold(reason: "busy tasks could not be read (\(reason)); not scaling in this tick")
        } else if let desired = decision.desired {
            action = .set(desired)
        } else {
            action = .none
        }
        let plan = ServicePlan(
            decision: decision, action: action, protection: protection, protectionDuration: policy.taskProtection,
            busyTasks: busy, notices: notices, authority: observation.authority)
        return (plan, memory)
    }

    /// Whether the last tick's observation, with the queues read now, would scale the service
    /// up: the queue watch between reconciles (`Policy.reactInterval`) starts the next reconcile
    /// at once when it would. Nothing is remembered: the reconcile plans for itself.
    public static func wouldScaleUp(
        _ observation: ServiceObservation, queues: [String: QueueReading], memory: ServiceMemory, policy: ServicePolicy, context: Context, now: Instant
    ) -> Bool {
        var observation = observation
        for (queue, reading) in queues where policy.queues.contains(queue) { observation.queues[queue] = reading }
        let plan = plan(observation, memory: memory, policy: policy, context: context, now: now).plan
        guard case .set(let count) = plan.action, let current = observation.service?.desired else { return false }
        return count > current
    }

    /// Which of the service's queues with waiting work its live workers do not listen on.
    static func consumption(_ observation: ServiceObservation, policy: ServicePolicy, activeTasks: [TaskSnapshot]) -> QueueConsumption.Finding {
        let waiting = Set(policy.queues.filter { queue in
            if case .observed(let reading)? = observation.queues[queue] { return reading.pending > 0 }
            return false
        })
        var tasks = activeTasks.isEmpty ? observation.tasks.snapshots?.filter { $0.phase == .running } : activeTasks.filter { $0.phase == .running }
        if tasks?.isEmpty == true { tasks = nil }
        return QueueConsumption.find(
            queues: policy.queues, waiting: waiting, listeners: observation.listeners,
            tasks: tasks?.map { TaskAddress(id: $0.id, privateIP: $0.privateIP) })
    }

    /// What the operator should hear of work the rule leaves out, or of work that may be.
    static func servabilityNotices(
        _ observation: ServiceObservation, policy: ServicePolicy, consumption: QueueConsumption.Finding, now: Instant
    ) -> [StepNotice] {
        var notices: [StepNotice] = []
        var held = 0
        var unclassified = 0
        var stranded: [PrefetchedMessage] = []
        var unconsumedPending = 0
        for queue in policy.queues {
            guard case .observed(let reading)? = observation.queues[queue] else { continue }
            if consumption.unconsumed.contains(queue) {
                unconsumedPending += reading.pending
                continue
            }
            held += reading.waiting?.held.count ?? 0
            unclassified += reading.waiting?.unclassified.count ?? 0
            stranded += reading.waiting?.stranded ?? []
        }
        if !consumption.unconsumed.isEmpty {
            notices.append(.unconsumedQueues(consumption.unconsumed, pending: unconsumedPending, listenedTo: consumption.listenedTo))
        }
        if !stranded.isEmpty {
            notices.append(.strandedMessages(
                count: stranded.count, fetchedAt: stranded.compactMap(\.deliveredAt).min(),
                returnsAt: stranded.compactMap { $0.returnsAt(visibilityTimeout: observation.visibilityTimeout) }.min()))
        }
        if held > 0 { notices.append(.heldMessages(count: held)) }
        if unclassified > 0 { notices.append(.unclassifiedMessages(count: unclassified)) }
        if !consumption.unproven.isEmpty, (observation.service?.running ?? 0) > 0 { notices.append(.unlistenedQueues(consumption.unproven)) }
        return notices
    }

    /// The memory after the applier's `result`, and the outcome to report.
    public static func settle(_ plan: ServicePlan, memory: ServiceMemory, result: ApplyResult) -> (memory: ServiceMemory, outcome: ServiceOutcome) {
        var memory = memory
        if case .applied(let change) = result.protection {
            memory.protectedByUs.formUnion(change.protected)
            memory.protectedByUs.subtract(change.released)
        }
        let lostLease: Bool
        if case .notSent(.notLeader) = result.scale { lostLease = true } else { lostLease = false }
        if plan.authority.withheld == .notLeader || lostLease {
            // Not in charge (a standby, or a leader whose lease ran out mid-tick): a change seen
            // next tick may be anyone's. (Dry-run and paused services keep what they saw, so
            // that a hand's change made meanwhile is still recognised as one when the service
            // becomes active.)
            memory.lastSeenDesired = nil
        }
        let outcome: ServiceOutcome
        switch plan.action {
        case .none:
            outcome = .unchanged
        case .respectOutsideChange(let until):
            outcome = .externalChangeRespected(until: until)
        case .withhold(let reason):
            outcome = .withheld(reason)
        case .set(let count):
            switch result.scale {
            case .sent:
                memory.history.recordApplied(plan.decision)
                memory.lastSetByUs = count
                memory.lastSeenDesired = count
                outcome = .applied
            case .notSent(.dryRun): outcome = .dryRun
            case .notSent(.paused): outcome = .paused
            case .notSent(.notLeader): outcome = .notLeader
            case .notSent(.competingAutoscaler):
                outcome = .withheld(
                    "an Application Auto Scaling target (\(plan.authority.competitor ?? "?")) also sets its desiredCount, and the two would undo each other: deregister it, or suspend its dynamic scaling (docs/migration.md)")
            case .withheld(let reason): outcome = .withheld(reason)
            case .failed(let error): outcome = .failed(error)
            case .nothingToSend: outcome = .unchanged
            }
        }
        return (memory, outcome)
    }
}
