import AutoscalerCore

/// Scheduled work expected in each of the next minutes, per scheduled queue.
public struct ScheduledWorkForecast: Sendable, Equatable {
    public var generatedAt: Instant
    public var horizonMinutes: Int
    public var queues: [QueueForecast]
    /// Scheduled queries whose schedule could not be read (Redash would disable them).
    public var skipped: [RedashMetadataReader.ScheduledQueries.Skipped]
    /// Scheduled queries that never ran: Redash's rule never finds them due.
    public var neverRun: Int
    /// Paused data sources (Redis `ds:<id>:pause`) and how many scheduled queries they hold:
    /// Redash's scheduler skips those queries until the data source resumes.
    public var pausedDataSources: [Int] = []
    public var pausedQueries = 0

    public struct QueueForecast: Sendable, Equatable {
        public var queue: String
        /// One entry per minute from now, `minutes[0]` being the coming minute (and anything overdue).
        public var minutes: [Minute]
        /// The same queries as `DueQuery` values, for the scaling rule.
        public var due: [DueQuery]
    }

    public struct Minute: Sendable, Equatable {
        public var offset: Int
        public var queries: Int
        /// Sum of expected runtimes, seconds.
        public var expectedWork: Double
    }

    /// Default expected runtime when neither the query nor its queue has any history.
    public static let defaultRuntime = 30.0

    /// Applies Redash's rule to every scheduled query: the previous run is the scheduler's
    /// execution time from Redis (`executions`, by query id) when known, else the latest
    /// result's `retrieved_at`. Queries with the same text and data source (Redash's
    /// `query_hash:data_source_id` key) that fall due in the same minute count once, as Redash
    /// enqueues them once. Queries of a `paused` data source are left out.
    public static func build(
        queries: [ScheduledQuery], skipped: [RedashMetadataReader.ScheduledQueries.Skipped] = [], routes: [DataSourceRoute],
        executions: [Int: Instant], paused: Set<Int> = [], stats: [String: RuntimeStats], now: Instant, horizonMinutes: Int
    ) -> ScheduledWorkForecast {
        let queueOf = Dictionary(routes.map { ($0.id, $0.scheduledQueue) }, uniquingKeysWith: { first, _ in first })
        let horizon = Duration.seconds(60 * horizonMinutes)
        var buckets: [String: [Minute]] = [:]
        var due: [String: [DueQuery]] = [:]
        var seen = Set<String>()
        var neverRun = 0
        var pausedQueries = 0
        for query in queries {
            if paused.contains(query.dataSourceID) {
                pausedQueries += 1
                continue
            }
            let queue = queueOf[query.dataSourceID] ?? "scheduled_queries"
            if buckets[queue] == nil {
                buckets[queue] = (0..<horizonMinutes).map { Minute(offset: $0, queries: 0, expectedWork: 0) }
            }
            let previous = executions[query.id] ?? query.lastRetrievedAt
            if previous == nil, RedashScheduleRule.isActive(query.schedule, at: now) { neverRun += 1 }
            let runtime = query.lastRuntime ?? stats[queue]?.p50 ?? defaultRuntime
            for time in RedashScheduleRule.occurrences(previous: previous, schedule: query.schedule, failures: query.failures, now: now, horizon: horizon) {
                let minute = min(horizonMinutes - 1, max(0, Int(((time - now).inSeconds / 60).rounded(.down))))
                guard seen.insert("\(query.queryHash):\(query.dataSourceID):\(minute)").inserted else { continue }
                buckets[queue]![minute].queries += 1
                buckets[queue]![minute].expectedWork += runtime
                due[queue, default: []].append(DueQuery(dueIn: time - now, expectedRuntime: .seconds(runtime)))
            }
        }
        let forecasts = buckets.keys.sorted().map { queue in
            QueueForecast(queue: queue, minutes: buckets[queue]!, due: (due[queue] ?? []).sorted { $0.dueIn < $1.dueIn })
        }
        return ScheduledWorkForecast(
            generatedAt: now, horizonMinutes: horizonMinutes, queues: forecasts, skipped: skipped, neverRun: neverRun,
            pausedDataSources: paused.sorted(), pausedQueries: pausedQueries)
    }
}
