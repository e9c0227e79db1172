/// What one probe saw of one Redash queue at one moment.
///
/// Produced by the Redis probes (Celery or RQ layout) and by the simulator; consumed by the
/// scaling rule. Counts are exact at `observedAt`; `nil` means "not knowable", never zero.
public struct QueueObservation: Hashable, Sendable {
    /// The queue name as Redash knows it (`queries`, `scheduled_queries`, `celery`, …).
    public var queue: String
    /// Jobs waiting to be picked up by a worker: listed and prefetched, whoever may take them.
    public var pending: Int
    /// Jobs a worker has started and not finished; `nil` where the queue system does not record
    /// them (Celery acknowledges a message when its task starts, and then it leaves Redis).
    public var running: Int?
    /// How long the oldest pending job has waited; `nil` when the queue is empty or the age
    /// cannot be read from the message.
    public var oldestAge: Duration?

    /// Pending jobs a new task could pick up (all of them unless `waiting` says otherwise).
    public var servable: Int { waiting?.servable ?? pending }

    /// How long the oldest servable job has waited.
    public var oldestServableAge: Duration? {
        guard let waiting else { return oldestAge }
        return waiting.oldestServableAge(now: observedAt)
    }
    /// Busy and idle workers listening on this queue, where the queue system records them
    /// (RQ does; Celery keeps no worker registry in Redis).
    public var workers: WorkerCounts?
    /// When the probe read these values.
    public var observedAt: Instant
    /// What the pending jobs are (listed, prefetched and by whom), where the queue system can
    /// tell; `nil`: every pending job is in the queue itself (RQ, a simulation).
    public var waiting: WaitingWork?

    /// Creates an observation.
    public init(
        queue: String, pending: Int, running: Int?, oldestAge: Duration? = nil,
        workers: WorkerCounts? = nil, observedAt: Instant, waiting: WaitingWork? = nil
    ) {
        self.waiting = waiting
        self.queue = queue
        self.pending = pending
        self.running = running
        self.oldestAge = oldestAge
        self.workers = workers
        self.observedAt = observedAt
    }
}

/// Workers registered for a queue, split by state.
public struct WorkerCounts: Hashable, Sendable {
    /// Workers executing a job.
    public var busy: Int
    /// Workers waiting for a job.
    public var idle: Int

    /// Creates worker counts.
    public init(busy: Int, idle: Int) {
        self.busy = busy
        self.idle = idle
    }
}

/// The outcome of reading one queue: a value, or the reason there is none.
///
/// A failed read is never turned into a zero: "Redis unreachable" and "queue empty" must stay
/// distinguishable, or a lost connection would look like an idle queue and cause a scale-in.
public enum QueueReading: Hashable, Sendable {
    /// The probe read the queue.
    case observed(QueueObservation)
    /// The probe could not read the queue; `reason` says why, for logs and the decision reason.
    case unavailable(reason: String)
}
