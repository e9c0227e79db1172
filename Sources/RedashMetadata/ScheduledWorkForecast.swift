import AutoscalerCore

/// A scheduled query's lock whose job will not run, and until when Redash is held back by it.
public struct BlockedLock: Hashable, Sendable {
    public var until: Instant
    public var cause: BlockCause
}

/// Scheduled work Redash will enqueue in each of the next minutes, per scheduled queue.
public struct ScheduledWorkForecast: Sendable, Equatable {
    public var generatedAt: Instant
    public var horizonMinutes: Int
    public var queues: [QueueForecast]
    /// Scheduled queries whose schedule could not be read (Redash would disable them).
    public var skipped: [RedashMetadataReader.ScheduledQueries.Skipped]
    /// Scheduled queries that never ran: due at once in Redash ≥ v25.1, never in v7–v10.
    public var neverRun: Int
    /// Paused data sources (Redis `ds:<id>:pause`) and how many scheduled queries they hold:
    /// Redash's scheduler skips those queries until the data source resumes.
    public var pausedDataSources: [Int] = []
    public var pausedQueries = 0
    /// Queries due now whose job still waits in its queue (no second copy is enqueued).
    public var waitingBehindLock = 0
    /// Queries held back by a lock whose job will not run (an abandoned job, a dead node's task,
    /// a job in a queue nobody consumes, a stranded message), by lock key, with why and until when.
    public var blockedLocks: [String: BlockedLock] = [:]
    /// How many queries are held back so.
    public var blockedByLock: Int { blockedLocks.count }
    /// The refresh grid the forecast used.
    public var grid: RedashRefreshGrid
    /// What Redash's next refresh will find due (`outdated_queries_count`), for the live check.
    public var nextRefresh: RefreshPrediction
    /// Lock keys of queries due now: the probe reads them, so that a query whose job still waits
    /// is not counted again. At most `lockLookupLimit`, the most overdue first.
    public var locksToCheck: [String]
    /// The rules this forecast applied, in words (`forecast` prints them).
    public var rules: [String]

    public struct QueueForecast: Sendable, Equatable {
        public var queue: String
        /// One entry per minute from now, `minutes[0]` being the coming minute (and anything overdue).
        public var minutes: [Minute]
        /// The same runs as `DueQuery` values (time until Redash enqueues them), for the step.
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
    /// Lock lookups per scheduler-state read, at the most.
    public static let lockLookupLimit = 500

    /// The lock Redash takes while a query's job waits or runs.
    public static func lockKey(dataSource: Int, queryHash: String) -> String {
        "query_hash_job:\(dataSource):\(queryHash)"
    }

    /// Applies Redash's rule to every scheduled query: the previous run is the scheduler's
    /// execution time from Redis (by query id) when known, else the latest result's
    /// `retrieved_at`; each run is enqueued at the first refresh of the grid after it falls due.
    /// Queries with the same text and data source (Redash's `query_hash:data_source_id` key)
    /// count once per refresh, as Redash enqueues them once. Queries of a paused data source are
    /// left out; a query whose lock holds a waiting job gets its next run one interval after that
    /// job can start.
    ///
    /// - Parameter neverRunIsDue: the schema era's rule for queries that never ran (true for
    ///   Redash ≥ v25.1).
    public static func build(
        queries: [ScheduledQuery], skipped: [RedashMetadataReader.ScheduledQueries.Skipped] = [], routes: [DataSourceRoute],
        scheduler: RedashSchedulerState, neverRunIsDue: Bool, stats: [String: RuntimeStats], now: Instant, horizonMinutes: Int,
        refreshPeriod: Duration = RedashRefreshGrid.redashPeriod
    ) -> ScheduledWorkForecast {
        let queueOf = Dictionary(routes.map { ($0.id, $0.scheduledQueue) }, uniquingKeysWith: { first, _ in first })
        let horizon = Duration.seconds(60 * horizonMinutes)
        let grid = RedashRefreshGrid(period: refreshPeriod, anchor: scheduler.refreshAnchor, lateness: scheduler.refreshLateness)
        let nextRefresh = grid.nextRefresh(after: now)
        var buckets: [String: [Minute]] = [:]
        var due: [String: [DueQuery]] = [:]
        var dueAtNextRefresh = Set<String>()
        var enqueuedAtNextRefresh = Set<String>()
        var overdue: [(key: String, since: Instant)] = []
        var result = ScheduledWorkForecast(
            generatedAt: now, horizonMinutes: horizonMinutes, queues: [], skipped: skipped, neverRun: 0, grid: grid,
            nextRefresh: RefreshPrediction(at: nextRefresh, dueQueries: 0), locksToCheck: [], rules: [])
        // Queries with the same text on the same data source are one group to Redash.
        var groups: [String: [ScheduledQuery]] = [:]
        var order: [String] = []
        for query in queries {
            if scheduler.pausedDataSources.contains(query.dataSourceID) {
                result.pausedQueries += 1
                continue
            }
            let identity = "\(query.queryHash):\(query.dataSourceID)"
            if groups[identity] == nil { order.append(identity) }
            groups[identity, default: []].append(query)
        }
        for identity in order {
            let members = groups[identity]!
            let first = members[0]
            let queue = queueOf[first.dataSourceID] ?? "scheduled_queries"
            if buckets[queue] == nil {
                buckets[queue] = (0..<horizonMinutes).map { Minute(offset: $0, queries: 0, expectedWork: 0) }
            }
            let key = lockKey(dataSource: first.dataSourceID, queryHash: first.queryHash)
            let lock = scheduler.locks[key]
            switch lock {
            case .waiting: result.waitingBehindLock += 1
            case .blocked(let until, let cause): result.blockedLocks[key] = BlockedLock(until: until, cause: cause)
            case nil: break
            }
            var dueAtNext = false
            var runtimes: [Int: Double] = [:]
            let group = members.map { query -> RedashScheduleRule.Member in
                let previous = scheduler.executions[query.id] ?? query.lastRetrievedAt
                if previous == nil, RedashScheduleRule.isActive(query.schedule, at: now) { result.neverRun += 1 }
                runtimes[query.id] = query.lastRuntime ?? stats[queue]?.p50 ?? defaultRuntime
                // What Redash's next refresh finds due, waiting jobs included (it counts them).
                if RedashScheduleRule.isDue(
                    previous: previous, schedule: query.schedule, failures: query.failures, neverRunIsDue: neverRunIsDue, at: nextRefresh + grid.lateness) {
                    dueAtNext = true
                    if lock == nil {
                        let since = previous.flatMap { RedashScheduleRule.nextIteration(after: $0, schedule: query.schedule, failures: query.failures) } ?? now
                        overdue.append((key, since))
                    }
                }
                return RedashScheduleRule.Member(
                    id: query.id, previous: previous, isOwnExecution: scheduler.executions[query.id] != nil, schedule: query.schedule,
                    failures: query.failures, runtime: .seconds(runtimes[query.id] ?? defaultRuntime))
            }
            if dueAtNext { dueAtNextRefresh.insert(identity) }
            for (time, query) in RedashScheduleRule.enqueueTimes(
                group: group, neverRunIsDue: neverRunIsDue, lock: lock, now: now, horizon: horizon, grid: grid) {
                if abs((time - nextRefresh).inSeconds) < 0.001 { enqueuedAtNextRefresh.insert(identity) }
                let runtime = runtimes[query] ?? defaultRuntime
                let minute = min(horizonMinutes - 1, max(0, Int(((time - now).inSeconds / 60).rounded(.down))))
                buckets[queue]![minute].queries += 1
                buckets[queue]![minute].expectedWork += runtime
                due[queue, default: []].append(DueQuery(dueIn: time - now, expectedRuntime: .seconds(runtime)))
            }
        }
        result.queues = buckets.keys.sorted().map { queue in
            QueueForecast(queue: queue, minutes: buckets[queue]!, due: (due[queue] ?? []).sorted { $0.dueIn < $1.dueIn })
        }
        result.pausedDataSources = scheduler.pausedDataSources.sorted()
        result.nextRefresh.dueQueries = dueAtNextRefresh.count
        result.nextRefresh.enqueues = enqueuedAtNextRefresh.count
        result.locksToCheck = overdue.sorted { $0.since < $1.since }.prefix(lockLookupLimit).map(\.key)
        result.rules = [
            grid.anchor.map { "runs are enqueued on Redash's \(refreshPeriod.compactDescription) refresh grid, anchored at its refresh of \($0)" }
                ?? "runs are enqueued on a \(refreshPeriod.compactDescription) refresh grid of unknown phase (redash:status not recent): assumed halfway",
            "a run's clock restarts when a worker starts it (sq:executed_at, else the latest result's retrieved_at); later runs are projected as successes (no back-off)",
            neverRunIsDue
                ? "queries that never ran are due at once (Redash v25.1 and later)"
                : "queries that never ran are never due (Redash v7 to v10)",
            "a query whose job still waits behind its lock (query_hash_job:…) gets no second run; a lock whose job will not run (abandoned, on a dead node, in a queue nobody consumes, stranded) holds it until the lock expires or the message comes back",
            grid.lateness > .zero
                ? "a query due within \(grid.lateness.compactDescription) after a refresh is taken at that refresh, which may run that late (the earlier of the two it may land on)"
                : "a query is enqueued at the first refresh after it falls due",
        ]
        return result
    }
}
