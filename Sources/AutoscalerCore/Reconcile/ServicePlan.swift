/// What the step decided for one service at one tick: the rule's decision, what to do about it,
/// which tasks to protect or release, and whether it may be written at all (`authority`). The
/// applier carries it out, or reports it when the authority withholds it.
public struct ServicePlan: Hashable, Sendable {
    /// The scaling rule's verdict with its reason and figures.
    public var decision: Decision
    /// What to do with desiredCount.
    public var action: ScaleAction
    /// Scale-in protection to set (protect or renew) and release, before any desiredCount change.
    public var protection: ProtectionPlan
    /// How long a protection set now lasts.
    public var protectionDuration: Duration
    /// Busy tasks as the step saw them.
    public var busyTasks: BusyTasks
    /// Things worth telling an operator (an outside change noticed, busy workers unmapped).
    public var notices: [StepNotice]
    /// Whether the plan may be written this tick, and in which mode.
    public var authority: WriteAuthority

    /// Creates a plan.
    public init(
        decision: Decision, action: ScaleAction, protection: ProtectionPlan = ProtectionPlan(),
        protectionDuration: Duration = ServicePolicy.defaultTaskProtection, busyTasks: BusyTasks = .notApplicable,
        notices: [StepNotice] = [], authority: WriteAuthority = WriteAuthority()
    ) {
        self.authority = authority
        self.decision = decision
        self.action = action
        self.protection = protection
        self.protectionDuration = protectionDuration
        self.busyTasks = busyTasks
        self.notices = notices
    }

    /// The count to send once the protection plan has been carried out: a scale-in goes ahead
    /// only when every task that should be protected is (ECS picks which task to stop, so an
    /// unprotected busy task could lose its query).
    public func desiredCountToSend(after protection: ProtectionResult) -> SendDecision {
        guard case .set(let count) = action else { return .nothing }
        guard decision.direction == .down, !self.protection.protect.isEmpty else { return .send(count) }
        switch protection {
        case .applied(let change) where change.refused.isEmpty: return .send(count)
        case .nothingToDo: return .send(count)
        case .applied(let change):
            return .withhold("\(change.refused.count) busy task(s) could not be protected (\(change.refused.map(\.reason).joined(separator: ", "))); not scaling in this tick")
        case .failed(let error): return .withhold("busy tasks could not be protected (\(error)); not scaling in this tick")
        case .notSent: return .withhold("busy tasks were not protected; not scaling in this tick")
        }
    }

    /// Whether this plan lowers desiredCount around busy tasks (busy-aware scale-in on and the
    /// workers read): a worker read idle may have taken a job since, so the plan is made again
    /// from a second reading just before it is written (the controller's recheck, and the
    /// simulator's model of it).
    public var needsRecheckBeforeWrite: Bool {
        guard case .set(let count) = action, let current = decision.current, count < current else { return false }
        switch busyTasks {
        case .mapped, .none: return true
        case .notApplicable, .unknown: return false
        }
    }

    /// What `desiredCountToSend(after:)` allows.
    public enum SendDecision: Hashable, Sendable {
        case nothing
        case send(Int)
        case withhold(String)
    }
}

/// What a plan does with desiredCount.
public enum ScaleAction: Hashable, Sendable {
    /// The decision keeps the count.
    case none
    /// Set desiredCount (a scale-in only once protection holds).
    case set(Int)
    /// Someone else changed desiredCount; it is left alone until then, though the decision
    /// would change it.
    case respectOutsideChange(until: Instant)
    /// A scale-in the decision asks for is refused this tick (busy tasks could not be read).
    case withhold(reason: String)
}

/// Busy tasks as the step saw them.
public enum BusyTasks: Hashable, Sendable {
    /// Busy-aware scale-in is off, ECS could not be read, or the queue system keeps no worker
    /// registry (Celery): only the running-jobs floor holds.
    case notApplicable
    /// No busy worker and nothing to release: the tasks were not read.
    case none
    /// The tasks could not be read.
    case unknown(reason: String)
    /// Busy workers mapped to tasks.
    case mapped(busyTasks: Int?, unmappedBusyWorkers: Int)

    /// The busy-task floor the rule keeps: `nil` when unknown (only the running-jobs floor holds).
    public var floor: Int? {
        switch self {
        case .none: 0
        case .mapped(let count, _): count
        case .notApplicable, .unknown: nil
        }
    }

    /// Busy workers that matched no task (0 unless mapped).
    public var unmappedBusyWorkers: Int {
        if case .mapped(_, let unmapped) = self { return unmapped }
        return 0
    }
}

/// Something the step noticed that an operator should hear about.
public enum StepNotice: Hashable, Sendable {
    /// desiredCount changed to `to` without this controller; left alone until `until`.
    case outsideChange(from: Int, to: Int, until: Instant)
    /// Busy workers that match no task: only the running-jobs floor protects them.
    case unmappedBusyWorkers(Int)
    /// Work on queues none of the service's live workers listens on (`listenedTo` is what they
    /// do listen on): left out of the demand, since a new task would not take it either.
    case unconsumedQueues([String], pending: Int, listenedTo: [String])
    /// Messages kombu keeps in `unacked` with no live holder (a node killed at ECS's
    /// stopTimeout): left out of the demand until kombu gives them back, from `returnsAt` on.
    case strandedMessages(count: Int, fetchedAt: Instant?, returnsAt: Instant?)
    /// Messages busy nodes prefetched behind their running queries (Celery's prefetch): left out
    /// of the demand, since a new task cannot take them.
    case heldMessages(count: Int)
    /// Work waits on queues no live worker listens on, but the service's own workers could not
    /// be told apart (tasks not matched): still counted as demand.
    case unlistenedQueues([String])
    /// Prefetched messages whose holder is unknown (no complete remote-control round): counted
    /// as demand, as before; `celery.inspect` would tell held and stranded ones apart.
    case unclassifiedMessages(count: Int)
    /// Celery nodes that stopped answering because ECS is stopping their tasks: their queries
    /// still run until the tasks stop, and are kept counted.
    case drainingNodes([String], running: Int)
    /// Tasks asked for have not started for longer than tasks take to start (`timeout`), with
    /// ECS's own reason when its events give one: no more are asked for until they do.
    case capacityStalled(missing: Int, since: Instant, timeout: Duration, reason: String?)
}
