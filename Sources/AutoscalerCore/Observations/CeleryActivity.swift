/// What Celery's workers said of themselves in one remote-control round (Redash v7–v8): the
/// `inspect active`, `inspect reserved` and `inspect active_queues` broadcasts through kombu's
/// Redis transport.
///
/// Celery keeps neither running tasks nor a worker registry in Redis, so this is the only way to
/// know which queries run where. A node that was reached and did not answer makes the round
/// incomplete, and an incomplete round knows nothing: its counts are never read as zero.
public struct CeleryActivity: Hashable, Sendable {
    /// Worker nodes the broadcast reached: the subscribers `PUBLISH` counted. `nil` when the
    /// broadcast could not be sent.
    public var reached: Int?
    /// The nodes that answered every question, by node name (`celery@ip-10-0-1-23`).
    public var nodes: [CeleryNode]
    /// Why the round knows nothing, when it does not (`nil` for a complete round).
    public var problem: String?
    /// How long the round took, from the broadcast to the last reply or the timeout.
    public var elapsed: Duration
    /// When the round started.
    public var observedAt: Instant
    /// Bytes of replies read, for the cost figures.
    public var replyBytes: Int = 0
    /// Redis round trips and commands the round took.
    public var roundTrips = 0
    public var commands = 0

    /// Creates an activity reading.
    public init(reached: Int?, nodes: [CeleryNode], problem: String? = nil, elapsed: Duration, observedAt: Instant, replyBytes: Int = 0) {
        self.reached = reached
        self.nodes = nodes
        self.problem = problem
        self.elapsed = elapsed
        self.observedAt = observedAt
        self.replyBytes = replyBytes
    }

    /// Every node reached answered, and some node was reached: only then are the counts the
    /// truth. A broadcast that reached nobody says nothing (no worker subscribed to remote
    /// control, a read replica, another database), so it is not a zero.
    public var isComplete: Bool {
        guard problem == nil, let reached, reached > 0 else { return false }
        return nodes.count == reached
    }

    /// Who holds a prefetched message with task id `taskID`: the node that lists it as reserved
    /// (or already active), or nobody; unknown unless the round is complete and the id is known.
    public func holder(of taskID: String?) -> PrefetchedMessage.Holder {
        guard isComplete, let taskID else { return .unknown }
        if let node = nodes.first(where: { node in node.reserved.contains { $0.id == taskID } || node.active.contains { $0.id == taskID } }) {
            return .node(node.name)
        }
        return .none
    }

    /// The nodes as listeners, when the round is complete.
    public var listeners: [QueueListener]? {
        guard isComplete else { return nil }
        return nodes.map { QueueListener(name: $0.name, hostname: $0.hostname, queues: $0.queues) }
    }

    /// Tasks executing from `queue` on any node; `nil` unless the round is complete.
    public func running(on queue: String) -> Int? {
        guard isComplete else { return nil }
        return nodes.reduce(0) { $0 + $1.active.filter { $0.queue == queue }.count }
    }

    /// The worker nodes consuming any of `queues`, as the busy-task mapping takes them: one busy
    /// identity per executing task, whatever queue it came from (protection follows the node: a
    /// task from a queue outside the policy still runs on it), and one idle identity for a node
    /// executing nothing, so that every answering node is known to the mapping.
    public func workerIdentities(on queues: [String]) -> [WorkerIdentity] {
        let wanted = Set(queues)
        var identities: [WorkerIdentity] = []
        for node in nodes where !wanted.isDisjoint(with: node.queues) {
            if node.active.isEmpty {
                identities.append(WorkerIdentity(name: node.name, hostname: node.hostname, ipAddress: nil, isBusy: false))
            }
            for (index, task) in node.active.enumerated() {
                let process = task.workerPID.map(String.init) ?? "\(index)"
                identities.append(WorkerIdentity(name: "\(node.name)#\(process)#\(task.id)", hostname: node.hostname, ipAddress: nil, isBusy: true))
            }
        }
        return identities
    }
}

/// One Celery worker node's answer.
public struct CeleryNode: Hashable, Sendable {
    /// The node name, `celery@<hostname>` by default (Redash's healthcheck pings `celery@$HOSTNAME`).
    public var name: String
    /// The queues it consumes (`inspect active_queues`).
    public var queues: [String]
    /// The tasks its processes execute (`inspect active`).
    public var active: [CeleryActiveTask]
    /// The messages it prefetched and has not started (`inspect reserved`): under `-Ofair` with
    /// prefetch multiplier 1, up to one more per busy process, waiting behind its queries.
    public var reserved: [CeleryActiveTask]

    /// Creates a node reading.
    public init(name: String, queues: [String], active: [CeleryActiveTask], reserved: [CeleryActiveTask] = []) {
        self.name = name
        self.queues = queues
        self.active = active
        self.reserved = reserved
    }

    /// The host part of the node name: on Fargate the task's `ip-a-b-c-d` name.
    public var hostname: String {
        guard let at = name.firstIndex(of: "@") else { return name }
        return String(name[name.index(after: at)...])
    }
}

/// A task a Celery worker process is executing.
public struct CeleryActiveTask: Hashable, Sendable {
    /// The task id (Redash's job id).
    public var id: String
    /// The task name (`redash.tasks.execute_query`).
    public var name: String?
    /// The queue it came from (`delivery_info.routing_key`).
    public var queue: String?
    /// When the process started it (`time_start`), when that is a plausible wall-clock time.
    public var startedAt: Instant?
    /// The pool process executing it.
    public var workerPID: Int?

    /// Creates an active task.
    public init(id: String, name: String? = nil, queue: String?, startedAt: Instant? = nil, workerPID: Int? = nil) {
        self.id = id
        self.name = name
        self.queue = queue
        self.startedAt = startedAt
        self.workerPID = workerPID
    }
}

/// Whether and how the Celery remote-control round runs (`celery:` in the policy).
public struct CelerySettings: Hashable, Sendable {
    /// Broadcast `inspect active` and `active_queues` (off by default: it writes to Redis).
    public var inspect: Bool
    /// How long to wait for the nodes' replies; a node silent for longer is unknown.
    public var replyTimeout: Duration
    /// How often the round runs when no Celery service can scale in (every tick otherwise).
    public var idlePeriod: Duration

    /// kombu's `visibility_timeout` on Redash's broker: a prefetched message whose holder died
    /// goes back on its queue this long after it was fetched.
    public var visibilityTimeout: Duration

    public static let defaultReplyTimeout: Duration = .seconds(1)
    public static let defaultIdlePeriod: Duration = .seconds(60)
    /// kombu's default, which Redash v8 keeps (it sets no `broker_transport_options`).
    public static let defaultVisibilityTimeout: Duration = .seconds(3600)

    /// Creates Celery settings.
    public init(
        inspect: Bool = false, replyTimeout: Duration = CelerySettings.defaultReplyTimeout, idlePeriod: Duration = CelerySettings.defaultIdlePeriod,
        visibilityTimeout: Duration = CelerySettings.defaultVisibilityTimeout
    ) {
        self.inspect = inspect
        self.replyTimeout = replyTimeout
        self.idlePeriod = idlePeriod
        self.visibilityTimeout = visibilityTimeout
    }
}

/// One round asked of the probe: how long to wait for replies, and kombu's visibility timeout
/// (when stranded messages come back).
public struct CeleryInspectRequest: Hashable, Sendable {
    public var replyTimeout: Duration
    public var visibilityTimeout: Duration
    /// The most tasks a node can run, and hold prefetched, at once: its pool (`WORKERS_COUNT`,
    /// the policy's `workersPerTask`). A node claiming more is not believed, and the round is
    /// then incomplete (`nil`: no limit).
    public var poolLimit: Int?
    /// Whether to ask the nodes now; otherwise the last complete round's answer stands, when it
    /// is younger than `standsFor` (so that a tick between rounds does not read as "running
    /// unknown", and a dry-run's proposal does not flip with the rounds' cadence).
    public var asks: Bool
    public var standsFor: Duration

    public init(
        replyTimeout: Duration, visibilityTimeout: Duration = CelerySettings.defaultVisibilityTimeout, poolLimit: Int? = nil, asks: Bool = true,
        standsFor: Duration = CelerySettings.defaultIdlePeriod * 2
    ) {
        self.replyTimeout = replyTimeout
        self.visibilityTimeout = visibilityTimeout
        self.poolLimit = poolLimit
        self.asks = asks
        self.standsFor = standsFor
    }
}
