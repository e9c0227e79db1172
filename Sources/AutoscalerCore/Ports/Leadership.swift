/// Whether this controller may write: the leader lease in PostgreSQL in production.
public protocol Leadership: Sendable {
    /// Takes the lease if it is free (or expired), or renews it. Any doubt means not leading.
    func acquireOrConfirm(now: Instant) async -> LeaseStatus
    /// How long a write started now may take and still land inside the lease, by this
    /// controller's own monotonic clock; `nil` when it may not write now. Asked just before
    /// every write: a leader that stalled (stopped, starved) past its lease finds out here.
    func writeWindow() async -> Duration?
    /// Gives the lease up (at shutdown), so that a standby takes over at once.
    func release() async
}

/// What a lease check found.
public struct LeaseStatus: Hashable, Sendable {
    public var isLeader: Bool
    /// The lease's generation: one more at every change of leader. Recorded with each decision.
    public var generation: Int64?

    public init(isLeader: Bool, generation: Int64? = nil) {
        self.isLeader = isLeader
        self.generation = generation
    }
}
