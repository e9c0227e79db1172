/// What the jobs waiting on one queue are, as far as a new task of its service is concerned.
///
/// Demand is only work a new task could pick up now. On Celery-era Redash a message can be
/// waiting and still be out of a new task's reach: a busy node prefetched it (it runs when that
/// node frees a process), or a node that held it was killed (kombu gives it back only after its
/// visibility timeout). RQ has no prefetch: every listed job is servable, unless no worker of the
/// service listens on the queue (decided per service, `QueueConsumption`).
public struct WaitingWork: Hashable, Sendable {
    /// Jobs in the queue's own lists: a free worker of the queue takes them.
    public var listed: Int
    /// How long the oldest of them has waited; `nil` when none carries an enqueue time.
    public var oldestListedAge: Duration?
    /// Celery: messages workers took from the queue and have not started (kombu's `unacked`).
    public var prefetched: [PrefetchedMessage]

    /// Creates a breakdown.
    public init(listed: Int, oldestListedAge: Duration? = nil, prefetched: [PrefetchedMessage] = []) {
        self.listed = listed
        self.oldestListedAge = oldestListedAge
        self.prefetched = prefetched
    }

    /// Prefetched messages whose holder is known to be a live node.
    public var held: [PrefetchedMessage] { prefetched.filter { if case .node = $0.holder { true } else { false } } }
    /// Prefetched messages no live node holds: stranded until kombu gives them back.
    public var stranded: [PrefetchedMessage] { prefetched.filter { $0.holder == .none } }
    /// Prefetched messages whose holder is not known (no complete remote-control round): counted
    /// as waiting, as the controller did before it could tell.
    public var unclassified: [PrefetchedMessage] { prefetched.filter { $0.holder == .unknown } }

    /// Jobs a new task could pick up: the listed ones and the unclassified prefetched ones.
    public var servable: Int { listed + unclassified.count }

    /// How long the oldest servable job has waited, at `now`.
    public func oldestServableAge(now: Instant) -> Duration? {
        let prefetched = unclassified.compactMap(\.enqueuedAt).min().map { max(.zero, now - $0) }
        switch (oldestListedAge, prefetched) {
        case (let listed?, let prefetched?): return max(listed, prefetched)
        case (let listed?, nil): return listed
        case (nil, let prefetched?): return prefetched
        case (nil, nil): return nil
        }
    }
}

/// One message in kombu's `unacked` hash.
public struct PrefetchedMessage: Hashable, Sendable {
    /// Who holds it.
    public enum Holder: Hashable, Sendable {
        /// Not known: no complete remote-control round, or a message without a task id.
        case unknown
        /// A live node lists it as reserved (or already active).
        case node(String)
        /// No live node reports it: its holder was killed (SIGKILL at ECS's stopTimeout).
        case none
    }

    /// kombu's delivery tag (the hash field).
    public var deliveryTag: String
    /// The Celery task id (`headers.id`; Redash's job id).
    public var taskID: String?
    /// When Redash enqueued it (`enqueue_time`), when the message says.
    public var enqueuedAt: Instant?
    /// When a node fetched it (`unacked_index`): kombu gives it back once this is older than
    /// the visibility timeout.
    public var deliveredAt: Instant?
    public var holder: Holder

    /// Creates a message.
    public init(deliveryTag: String, taskID: String?, enqueuedAt: Instant? = nil, deliveredAt: Instant? = nil, holder: Holder = .unknown) {
        self.deliveryTag = deliveryTag
        self.taskID = taskID
        self.enqueuedAt = enqueuedAt
        self.deliveredAt = deliveredAt
        self.holder = holder
    }

    /// When kombu puts it back on its queue: a live consumer's scan (every 100 s) restores
    /// entries fetched longer ago than its visibility timeout (kombu 4.6.3's mutex can delay
    /// that by up to 300 s more). `nil` when the fetch time is unknown.
    public func returnsAt(visibilityTimeout: Duration) -> Instant? {
        deliveredAt.map { $0 + visibilityTimeout }
    }
}
