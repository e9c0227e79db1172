/// Where the controller keeps what must outlive it: the decision log and when each service was
/// last scaled (so cooldowns survive a restart). PostgreSQL in production.
public protocol DecisionStore: Sendable {
    /// Appends one decision with what became of it (`applied`, `dry-run`, `failed`, `hold`) and
    /// the lease generation it was made under.
    func record(_ decision: Decision, mode: String, controller: String, generation: Int64?) async throws
    /// Saves when a service was last scaled up and down.
    func saveHistory(service: String, lastScaleUp: Instant?, lastScaleDown: Instant?, at now: Instant) async throws
    /// Last scale-up and scale-down per service.
    func loadActionTimes() async throws -> [String: ActionTimes]
    /// Saves how long a service's tasks took to start (seconds, newest last).
    func saveStartTimes(service: String, samples: [Double], at now: Instant) async throws
    /// Task start times per service.
    func loadStartTimes() async throws -> [String: [Double]]
}

/// When a service was last scaled each way.
public struct ActionTimes: Hashable, Sendable {
    public var lastScaleUp: Instant?
    public var lastScaleDown: Instant?

    public init(lastScaleUp: Instant?, lastScaleDown: Instant?) {
        self.lastScaleUp = lastScaleUp
        self.lastScaleDown = lastScaleDown
    }
}
