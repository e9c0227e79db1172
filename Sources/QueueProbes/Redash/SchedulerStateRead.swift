import AutoscalerCore
import RedisClient

/// What Redash's scheduler keeps in Redis (`RedashSchedulerState`): the hash `sq:executed_at`,
/// a pause key `ds:<id>:pause` per data source, and the locks
/// `query_hash_job:<data source>:<query hash>` of queries that are due now. The job each lock
/// points at is the next round trip's read (`LockedJobRead`), on the queues' Redis.
///
/// An error reply or a wrong type fails the whole reading: half a state would make the forecast
/// lie. Unreadable `sq:executed_at` entries are left out, as Redash would fail to use them too.
struct SchedulerStateRead: RedisRead {
    let request: SchedulerStateRequest
    let now: Instant

    static let executionsKey = "sq:executed_at"
    /// `sq:executed_at` fields read at the most (one per scheduled query).
    static let executionsLimit = 200_000

    static func pauseKey(_ dataSource: Int) -> String { "ds:\(dataSource):pause" }

    var commands: [[String]] {
        [["HGETALL", Self.executionsKey]] + request.dataSources.map { ["EXISTS", Self.pauseKey($0)] }
            + request.locks.flatMap { [["GET", $0], ["PTTL", $0]] }
    }

    /// The first round trip's reading.
    struct Reading: Sendable {
        var executions: [Int: Instant]
        var paused: Set<Int>
        /// Each lock asked for, in order: the job it points at (nil: free) and its time to live
        /// in milliseconds (negative: none, or gone).
        var locks: [(key: String, job: String?, ttl: Int)]
    }

    func interpret(_ replies: inout ReplyCursor) -> Result<Reading, UntrustedReply> {
        Result { () throws(UntrustedReply) -> Reading in
            let elements = try replies.next().elements("HGETALL \(Self.executionsKey)")
            guard elements.count <= Self.executionsLimit * 2 else {
                throw UntrustedReply("\(Self.executionsKey) holds \(elements.count / 2) entries, more than \(Self.executionsLimit); not trusted")
            }
            var executions: [Int: Instant] = [:]
            var fields = ReplyCursor(elements[...])
            for _ in 0..<(elements.count / 2) {
                let (idReply, timeReply) = (fields.next(), fields.next())
                if let idText = (try? idReply.optionalText(Self.executionsKey)) ?? nil, let id = Int(idText),
                   let text = (try? timeReply.optionalText(Self.executionsKey)) ?? nil,
                   let started = try? PlausibleTime.epoch(text, Self.executionsKey, now: now, maximumAge: nil) {
                    executions[id] = started
                }
            }
            var paused = Set<Int>()
            for dataSource in request.dataSources {
                if try replies.next().count("EXISTS \(Self.pauseKey(dataSource))") > 0 { paused.insert(dataSource) }
            }
            let locks = request.locks.map { key in
                let (value, ttl) = (replies.next(), replies.next())
                let job = (try? value.optionalText("lock")).flatMap { $0?.isEmpty == false ? $0 : nil }
                return (key: key, job: job, ttl: (try? ttl.integerValue("PTTL \(key)")) ?? -1)
            }
            return Reading(executions: executions, paused: paused, locks: locks)
        }
    }
}

/// The status of the RQ job a lock points at (`rq:job:<id>` field `status`); an unreadable
/// status is unknown (the lock is then taken as free, as Redash would re-enqueue).
struct LockedJobRead: RedisRead {
    let job: String

    var commands: [[String]] { [["HGET", "rq:job:\(job)", "status"]] }

    func interpret(_ replies: inout ReplyCursor) -> String? {
        (try? replies.next().optionalText("rq:job:\(job)")) ?? nil
    }
}

/// Redash's scheduler state from both round trips. Pure.
enum SchedulerStateAssembly {
    /// Redash's lock lifetime (`REDASH_JOB_EXPIRY_TIME`, 12 h), for a lock without one.
    static let lockLifetime: Duration = .seconds(43_200)

    /// Which started jobs a worker really runs, from the queue probe.
    struct Liveness {
        var running: Set<String>
        var abandoned: Set<String>
    }

    /// The next round trip's reads: the job of each held lock (RQ; Celery's locks are not read).
    static func followUps(_ reading: SchedulerStateRead.Reading) -> [LockedJobRead] {
        reading.locks.compactMap { $0.job.map(LockedJobRead.init(job:)) }
    }

    /// The state. `statuses` (by lock key) is nil where locks are not interpreted (Celery).
    static func state(
        _ reading: SchedulerStateRead.Reading, statuses: [String: String?]?, request: SchedulerStateRequest, liveness: Liveness, now: Instant
    ) -> RedashSchedulerState {
        var locks: [String: JobLock] = [:]
        if let statuses {
            for lock in reading.locks {
                guard let job = lock.job else { continue }
                let expiresAt = lock.ttl >= 0 ? now + .milliseconds(lock.ttl) : now + lockLifetime
                switch statuses[lock.key] ?? nil {
                case "queued", "deferred", "scheduled":
                    locks[lock.key] = .waiting
                case "started" where liveness.abandoned.contains(job) && !liveness.running.contains(job):
                    locks[lock.key] = .abandoned(expiresAt: expiresAt)
                default:
                    // Running, finished, failed or gone: Redash re-enqueues a finished or
                    // failed one, and a running one restarted the clock at its start.
                    break
                }
            }
        }
        return RedashSchedulerState(
            executions: reading.executions, pausedDataSources: reading.paused, dataSources: request.dataSources, locks: locks,
            checkedLocks: Set(request.locks), readAt: now)
    }
}

extension RESPValue {
    /// An integer reply that may be negative (PTTL's -1 and -2).
    func integerValue(_ what: String) throws(UntrustedReply) -> Int {
        if let message = errorMessage { throw UntrustedReply("\(what): \(message)") }
        guard case .integer(let value) = self else { throw UntrustedReply("\(what): not an integer (\(kind))") }
        return value
    }
}
