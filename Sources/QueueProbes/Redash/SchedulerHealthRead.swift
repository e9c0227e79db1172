import AutoscalerCore
import RedisClient

/// Redash's scheduler health: `redash:status`, which `refresh_queries` writes every 30 s in
/// every version. An unreadable field makes the whole reading unreadable (with the reason),
/// never a crash or a zero.
struct SchedulerHealthRead: RedisRead {
    let now: Instant

    var commands: [[String]] { [["HMGET", "redash:status", "last_refresh_at", "started_at", "outdated_queries_count"]] }

    func interpret(_ replies: inout ReplyCursor) -> Result<SchedulerHealth, UntrustedReply> {
        Result { () throws(UntrustedReply) -> SchedulerHealth in
            let values = try replies.next().elements("redash:status")
            guard values.count == 3 else { throw UntrustedReply("redash:status: \(values.count) fields for 3 asked") }
            var fields = ReplyCursor(values[...])
            func time(_ field: String) throws(UntrustedReply) -> Instant? {
                guard let text = try fields.next().optionalText("redash:status \(field)") else { return nil }
                return try PlausibleTime.epoch(text, "redash:status \(field)", now: now, maximumAge: nil)
            }
            let last = try time("last_refresh_at")
            let started = try time("started_at")
            var count: Int?
            if let text = try fields.next().optionalText("redash:status outdated_queries_count") {
                guard let value = Int(text.trimmingWhitespace), value >= 0, value < 10_000_000 else {
                    throw UntrustedReply("redash:status outdated_queries_count: \(PlausibleTime.printable(text)) is not a count")
                }
                count = value
            }
            let since = last.map { now - $0 }
            return SchedulerHealth(
                lastRefreshAt: last, sinceLastRefresh: since, periodicWorkers: nil,
                // No last_refresh_at at all (a new Redis, a Redash that has not refreshed yet, not
                // Redash's Redis) cannot be judged: not stale, and `isJudged` is false.
                isStale: since.map { $0 > SchedulerHealth.staleAfter } ?? false, lastRefreshStartedAt: started, outdatedQueries: count)
        }
    }
}

/// How many RQ workers consume `periodic` (Redash's periodic jobs; RQ only).
struct PeriodicWorkersRead: RedisRead {
    var commands: [[String]] { [["SCARD", "rq:workers:periodic"]] }

    func interpret(_ replies: inout ReplyCursor) -> Int? {
        try? replies.next().count("rq:workers:periodic")
    }
}
