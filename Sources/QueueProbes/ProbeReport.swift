import AutoscalerCore

/// Everything one probe of Redis saw.
public struct ProbeReport: Sendable {
    /// The queue system the keys belong to.
    public var layout: QueueLayout
    /// How the layout was known: configured, or what detection found.
    public var layoutSource: String
    /// One reading per queue asked for.
    public var readings: [String: QueueReading]
    /// RQ workers registered for each queue (empty for Celery).
    public var workers: [String: [WorkerRecord]]
    /// Whether Redash's scheduler looks alive.
    public var scheduler: SchedulerHealth?
    /// Redis round trips this probe took.
    public var roundTrips: Int
    /// Commands it sent.
    public var commands: Int
    /// When it read.
    public var observedAt: Instant
    /// Things worth telling an operator that did not stop the reading (a foreign message).
    public var notes: [String] = []
}

/// One RQ worker as its hash in Redis describes it.
public struct WorkerRecord: Hashable, Sendable {
    /// The worker name (the part of `rq:worker:<name>` after the prefix).
    public var name: String
    /// `busy`, `idle`, `started`, `suspended`.
    public var state: String?
    /// The job it runs, when busy.
    public var currentJob: String?
    /// The host it runs on (on Fargate, the task's hostname, such as `ip-10-0-1-23.ec2.internal`).
    public var hostname: String?
    /// The address Redis saw it connect from (RQ 1.16 and later).
    public var ipAddress: String?
    /// Its last heartbeat.
    public var lastHeartbeat: Instant?
    /// True when the hash says busy but its job is no longer live in the started registry: the
    /// worker died mid-job and its hash has not expired yet.
    public var hasAbandonedJob = false

    /// Whether the worker is running a job.
    public var isBusy: Bool {
        !hasAbandonedJob && (state == "busy" || (currentJob.map { !$0.isEmpty } ?? false))
    }
}

/// Redash's scheduler writes `redash:status.last_refresh_at` every 30 s (refresh_queries, in
/// every version); when it stops, scheduled queries stop.
public struct SchedulerHealth: Hashable, Sendable {
    /// When refresh_queries last finished; `nil` when Redash has never written it.
    public var lastRefreshAt: Instant?
    /// How long ago that was.
    public var sinceLastRefresh: Duration?
    /// Workers registered on the periodic queue (RQ only; `nil` for Celery, which has no registry).
    public var periodicWorkers: Int?
    /// True when the last refresh is older than `SchedulerHealth.staleAfter`, or never happened.
    public var isStale: Bool

    /// Six refresh cycles: one missed beat is noise, six is a dead scheduler.
    public static let staleAfter: Duration = .seconds(180)
}
