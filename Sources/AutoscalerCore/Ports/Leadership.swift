/// Whether this controller may write: the leader lease in PostgreSQL in production.
public protocol Leadership: Sendable {
    /// Takes the lease if it is free, or confirms it is still held. Any doubt means false.
    func acquireOrConfirm(now: Instant) async -> Bool
    /// Gives the lease up (at shutdown).
    func release() async
}
