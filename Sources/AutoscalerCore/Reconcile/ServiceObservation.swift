/// What the reconciler gathered about one service for one tick: the queues it consumes, what ECS
/// says of it and of its tasks, the RQ workers, and the scheduled work a forecast expects.
/// Values only; the step decides from them.
public struct ServiceObservation: Hashable, Sendable {
    /// The readings of the service's queues, keyed by queue name; a queue without an entry
    /// counts as missing.
    public var queues: [String: QueueReading]
    /// What ECS reported; `nil` when it could not be read. Its `busyTasks` is set by the step.
    public var service: ServiceState?
    /// The RQ workers registered on the service's queues; `nil` where the queue system keeps no
    /// worker registry (Celery).
    public var workers: [WorkerIdentity]?
    /// The service's tasks, when they were read (see `ServiceStep.needsTasks`).
    public var tasks: TaskReading
    /// Scheduled queries a forecast expects on the service's queues; `nil` without a forecast.
    public var scheduledDue: [DueQuery]?
    /// Typical runtime of a job per queue, for `target.drainTime`.
    public var expectedRuntimes: [String: Duration]
    /// An operator's hold on the service, if one is set.
    public var hold: OperatorHold?
    /// Whether a plan may be written this tick (modes, kill switch, `--dry-run`, the lease).
    public var authority: WriteAuthority
    /// Every live worker and the queues it listens on (RQ's registry, a complete Celery round);
    /// `nil` when not known.
    public var listeners: [QueueListener]?
    /// kombu's visibility timeout, for when stranded messages come back.
    public var visibilityTimeout: Duration
    /// The Celery nodes of a complete remote-control round; `nil` without one.
    public var celeryNodes: [CeleryNode]?

    /// Creates an observation.
    public init(
        queues: [String: QueueReading], service: ServiceState?, workers: [WorkerIdentity]? = nil, tasks: TaskReading = .notRead,
        scheduledDue: [DueQuery]? = nil, expectedRuntimes: [String: Duration] = [:], hold: OperatorHold? = nil,
        authority: WriteAuthority = WriteAuthority(), listeners: [QueueListener]? = nil,
        visibilityTimeout: Duration = CelerySettings.defaultVisibilityTimeout, celeryNodes: [CeleryNode]? = nil
    ) {
        self.celeryNodes = celeryNodes
        self.authority = authority
        self.listeners = listeners
        self.visibilityTimeout = visibilityTimeout
        self.hold = hold
        self.queues = queues
        self.service = service
        self.workers = workers
        self.tasks = tasks
        self.scheduledDue = scheduledDue
        self.expectedRuntimes = expectedRuntimes
    }
}

/// The outcome of reading a service's tasks.
public enum TaskReading: Hashable, Sendable {
    /// Not read this tick: busy-aware scale-in is off, or there was nothing to protect or release.
    case notRead
    /// The read failed; busy tasks may be unprotected.
    case unavailable(reason: String)
    /// The tasks ECS reported.
    case observed([TaskSnapshot])
}

extension TaskReading {
    /// The tasks, when they were read.
    public var snapshots: [TaskSnapshot]? {
        if case .observed(let tasks) = self { return tasks }
        return nil
    }
}

/// One ECS task as the step needs it.
public struct TaskSnapshot: Hashable, Sendable {
    /// Where a task is in its life, as far as scaling is concerned.
    public enum Phase: String, Hashable, Sendable {
        /// Placed, not yet running (ECS `PROVISIONING`, `PENDING`, `ACTIVATING`).
        case starting
        /// Running.
        case running
        /// Being stopped or stopped; its workers are going away.
        case stopping
    }

    /// The task ARN (or any stable id).
    public var id: String
    /// Its ENI's private IPv4 address (awsvpc), when ECS reports one.
    public var privateIP: String?
    public var phase: Phase
    /// When its scale-in protection runs out; `nil` when it is not protected.
    public var protectedUntil: Instant?

    /// Creates a task snapshot.
    public init(id: String, privateIP: String?, phase: Phase, protectedUntil: Instant? = nil, createdAt: Instant? = nil, startedAt: Instant? = nil) {
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.id = id
        self.privateIP = privateIP
        self.phase = phase
        self.protectedUntil = protectedUntil
    }

    /// When ECS created it and when it started running, for the learned start time.
    public var createdAt: Instant?
    public var startedAt: Instant?

    /// Whether protection is on at `now`.
    public func isProtected(at now: Instant) -> Bool {
        protectedUntil.map { $0 > now } ?? false
    }

    /// The task's short id: the last part of its ARN.
    public var shortID: String {
        ARN.lastPart(id)
    }
}
