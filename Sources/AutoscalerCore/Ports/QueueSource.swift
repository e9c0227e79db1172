/// Where the reconciler reads Redash's queues: the Redis probes in production, a fake in tests.
public protocol QueueSource: Sendable {
    /// Reads `queues`, stamped `now` (one tick, one instant). With `scheduler`, the report also
    /// carries Redash's scheduler state (for the forecast).
    func probe(queues: [String], scheduler: SchedulerStateRequest?, now: Instant) async -> ProbeReport
    /// The same, and with `activity`, Celery's workers asked what they execute (Redash v7–v8).
    func probe(queues: [String], scheduler: SchedulerStateRequest?, activity: CeleryInspectRequest?, now: Instant) async -> ProbeReport
    /// The number of messages in each of `queues` and nothing else (the queue watch's cheap
    /// read); nil when they cannot be read alone (the layout not known yet, a failed read), which
    /// calls for the whole probe.
    func lengths(queues: [String]) async -> QueueLengths?
}

/// The number of messages in each queue, read alone, and what reading them cost.
public struct QueueLengths: Sendable, Equatable {
    public var lengths: [String: Int]
    /// Redis commands sent.
    public var commands: Int

    public init(lengths: [String: Int], commands: Int) {
        self.lengths = lengths
        self.commands = commands
    }
}

extension QueueSource {
    /// A source that cannot ask Celery's workers reads the queues only.
    public func probe(queues: [String], scheduler: SchedulerStateRequest?, activity: CeleryInspectRequest?, now: Instant) async -> ProbeReport {
        await probe(queues: queues, scheduler: scheduler, now: now)
    }

    /// A source that cannot read lengths alone is always probed whole.
    public func lengths(queues: [String]) async -> QueueLengths? { nil }
}
