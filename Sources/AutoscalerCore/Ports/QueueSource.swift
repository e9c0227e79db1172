/// Where the reconciler reads Redash's queues: the Redis probes in production, a fake in tests.
public protocol QueueSource: Sendable {
    /// Reads `queues`, stamped `now` (one tick, one instant). With `scheduler`, the report also
    /// carries Redash's scheduler state (for the forecast).
    func probe(queues: [String], scheduler: SchedulerStateRequest?, now: Instant) async -> ProbeReport
    /// The same, and with `activity`, Celery's workers asked what they execute (Redash v7–v8).
    func probe(queues: [String], scheduler: SchedulerStateRequest?, activity: CeleryInspectRequest?, now: Instant) async -> ProbeReport
}

extension QueueSource {
    /// A source that cannot ask Celery's workers reads the queues only.
    public func probe(queues: [String], scheduler: SchedulerStateRequest?, activity: CeleryInspectRequest?, now: Instant) async -> ProbeReport {
        await probe(queues: queues, scheduler: scheduler, now: now)
    }
}
