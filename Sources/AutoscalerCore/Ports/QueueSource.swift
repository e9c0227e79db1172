/// Where the reconciler reads Redash's queues: the Redis probes in production, a fake in tests.
public protocol QueueSource: Sendable {
    /// Reads `queues`, stamped `now` (one tick, one instant). With `scheduler`, the report also
    /// carries Redash's scheduler state (for the forecast).
    func probe(queues: [String], scheduler: SchedulerStateRequest?, now: Instant) async -> ProbeReport
}
