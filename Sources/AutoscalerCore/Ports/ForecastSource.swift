/// Where the reconciler reads what Redash's metadata predicts: the metadata cache over
/// PostgreSQL in production.
public protocol ForecastSource: Sendable {
    /// Redash's data sources, for the scheduler state the probe reads (empty before the first read).
    func dataSourceIDs() async -> [Int]
    /// The scheduled work due soon, per queue, with the scheduler's state from Redis.
    func snapshot(now: Instant, scheduler: RedashSchedulerState?) async -> ForecastSnapshot
}

/// What the forecast says at one tick.
public struct ForecastSnapshot: Hashable, Sendable {
    /// Scheduled queries due soon, per queue; `nil` before the metadata was first read.
    public var due: [String: [DueQuery]]?
    /// The median runtime per queue, for `target.drainTime`.
    public var runtimes: [String: Duration]
    /// Scheduled queries whose schedule could not be read.
    public var skippedSchedules: Int
    /// Why the forecast is off or stale, when it is.
    public var problem: String?

    /// Creates a snapshot.
    public init(due: [String: [DueQuery]]?, runtimes: [String: Duration] = [:], skippedSchedules: Int = 0, problem: String? = nil) {
        self.due = due
        self.runtimes = runtimes
        self.skippedSchedules = skippedSchedules
        self.problem = problem
    }
}
