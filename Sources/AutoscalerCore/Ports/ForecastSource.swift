/// Where the reconciler reads what Redash's metadata predicts: the metadata cache over
/// PostgreSQL in production.
public protocol ForecastSource: Sendable {
    /// What the probe should read of Redash's scheduler state for the next forecast: the data
    /// sources (for their pause keys) and the locks of queries due now. `nil` before the first
    /// metadata read.
    func schedulerRequest() async -> SchedulerStateRequest?
    /// The scheduled work due soon, per queue, with the scheduler's state from Redis.
    func snapshot(now: Instant, scheduler: RedashSchedulerState?, schedulerIsStale: Bool) async -> ForecastSnapshot
}

/// What the forecast says at one tick.
public struct ForecastSnapshot: Hashable, Sendable {
    /// Scheduled queries due soon, per queue; `nil` before the metadata was first read.
    public var due: [String: [DueQuery]]?
    /// The median runtime per queue, for `target.drainTime`.
    public var runtimes: [String: Duration]
    /// Scheduled queries whose schedule could not be read.
    public var skippedSchedules: Int
    /// What Redash's next refresh should find due, for the live check.
    public var nextRefresh: RefreshPrediction?
    /// Data source names by the queue they route adhoc or scheduled queries to.
    public var routedQueues: [String: [String]]
    /// Why the forecast is off or stale, when it is.
    public var problem: String?
    /// Scheduled queries Redash will not enqueue while their lock stands, because the job the
    /// lock points at will not run: lock key, why, and until when.
    public var blockedLocks: [String: JobLock]

    /// Creates a snapshot.
    public init(
        due: [String: [DueQuery]]?, runtimes: [String: Duration] = [:], skippedSchedules: Int = 0, nextRefresh: RefreshPrediction? = nil,
        routedQueues: [String: [String]] = [:], problem: String? = nil, blockedLocks: [String: JobLock] = [:]
    ) {
        self.blockedLocks = blockedLocks
        self.due = due
        self.runtimes = runtimes
        self.skippedSchedules = skippedSchedules
        self.nextRefresh = nextRefresh
        self.routedQueues = routedQueues
        self.problem = problem
    }
}
