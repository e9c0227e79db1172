/// Where the reconciler reads Redash's queues: the Redis probes in production, a fake in tests.
public protocol QueueSource: Sendable {
    /// Reads `queues`, stamped `now` (one tick, one instant). With `dataSources`, the report
    /// also carries Redash's scheduler state for them (for the forecast).
    func probe(queues: [String], dataSources: [Int]?, now: Instant) async -> ProbeReport
}
