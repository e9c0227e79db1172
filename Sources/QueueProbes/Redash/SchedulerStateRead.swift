import AutoscalerCore
import Foundation
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

/// What Redis says of the job a lock points at.
struct LockedJob: Hashable, Sendable {
    /// RQ's `status`, or Celery's result `status`; `nil` when Redis keeps none (a Celery task
    /// that never started reads `PENDING`).
    var status: String?
    /// The queue an RQ job was enqueued on (`origin`).
    var origin: String?
    /// The Celery node that started the task (`result.hostname` of a `STARTED` result).
    var node: String?
}

/// The job a lock points at.
/// - RQ (Redash v10, v25+): `status` and `origin` of `rq:job:<id>`.
/// - Celery (Redash v8): the task's result `celery-task-meta-<id>`, a JSON object with `status`
///   and, once started, `result.hostname`. No key: `PENDING` (never started, stranded, or expired
///   after `result_expires`, 4 h in Redash).
/// An unreadable reply is an unknown job (the lock is then taken as free, as Redash would
/// re-enqueue).
struct LockedJobRead: RedisRead {
    let job: String
    let system: QueueSystem

    var commands: [[String]] {
        switch system {
        case .rq: [["HMGET", "rq:job:\(job)", "status", "origin"]]
        case .celery: [["GET", "celery-task-meta-\(job)"]]
        }
    }

    private struct CeleryResult: Decodable {
        var status: String?
        var hostname: String?

        init(from decoder: any Decoder) throws {
            let object = try decoder.container(keyedBy: Keys.self)
            status = try? object.decode(String.self, forKey: .status)
            hostname = try? object.nestedContainer(keyedBy: Keys.self, forKey: .result).decode(String.self, forKey: .hostname)
        }

        enum Keys: String, CodingKey { case status, result, hostname }
    }

    func interpret(_ replies: inout ReplyCursor) -> LockedJob {
        switch system {
        case .rq:
            guard let fields = try? replies.next().elements("rq:job:\(job)"), fields.count == 2 else { return LockedJob() }
            return LockedJob(status: (try? fields[0].optionalText("status")) ?? nil, origin: (try? fields[1].optionalText("origin")) ?? nil)
        case .celery:
            let reply = replies.next()
            guard reply.errorMessage == nil else { return LockedJob() }
            guard let text = (try? reply.optionalText("celery-task-meta-\(job)")) ?? nil else { return LockedJob(status: "PENDING") }
            guard let result = try? JSONDecoder().decode(CeleryResult.self, from: Data(text.utf8)) else { return LockedJob() }
            return LockedJob(status: result.status, node: result.hostname)
        }
    }
}

/// Redash's scheduler state from both round trips. Pure.
enum SchedulerStateAssembly {
    /// Redash's lock lifetime (`REDASH_JOB_EXPIRY_TIME`, 12 h), for a lock without one.
    static let lockLifetime: Duration = .seconds(43_200)

    /// What the queue probe knows of which jobs can run.
    struct Liveness {
        /// RQ: the started jobs a worker runs, and those none does.
        var running: Set<String> = []
        var abandoned: Set<String> = []
        /// Every live worker with its queues, when known.
        var listeners: [QueueListener]?
        /// Celery: the remote-control round, when one ran.
        var celery: CeleryActivity?
        /// Celery: prefetched messages no live node holds, by task id, with when kombu gives
        /// each back.
        var stranded: [String: Instant?] = [:]
    }

    /// The next round trip's reads: the job of each held lock, by lock key.
    static func followUps(_ reading: SchedulerStateRead.Reading, system: QueueSystem) -> [(key: String, read: LockedJobRead)] {
        reading.locks.compactMap { lock in lock.job.map { (lock.key, LockedJobRead(job: $0, system: system)) } }
    }

    /// The state. `jobs` (by lock key) is nil where locks are not interpreted.
    static func state(
        _ reading: SchedulerStateRead.Reading, jobs: [String: LockedJob]?, system: QueueSystem?, request: SchedulerStateRequest,
        liveness: Liveness, visibilityTimeout: Duration = CelerySettings.defaultVisibilityTimeout, now: Instant
    ) -> RedashSchedulerState {
        var locks: [String: JobLock] = [:]
        var held = Set<String>()
        if let jobs {
            for lock in reading.locks {
                guard let id = lock.job, let job = jobs[lock.key] else { continue }
                if isHeldByRedash(job, system: system) { held.insert(lock.key) }
                let expiresAt = lock.ttl >= 0 ? now + .milliseconds(lock.ttl) : now + lockLifetime
                let found = system == .celery
                    ? celeryLock(task: id, job, expiresAt: expiresAt, liveness: liveness)
                    : rqLock(job: id, job, expiresAt: expiresAt, liveness: liveness)
                if let found { locks[lock.key] = found }
            }
        }
        var state = RedashSchedulerState(
            executions: reading.executions, pausedDataSources: reading.paused, dataSources: request.dataSources, locks: locks,
            checkedLocks: Set(request.locks), readAt: now)
        state.heldLocks = held
        state.refreshLateness = system == .celery ? RedashRefreshGrid.celeryLateness : RedashRefreshGrid.rqLateness
        return state
    }

    /// Redash's own rule, whatever the controller makes of the job: v10/v25+ free a lock whose
    /// job is gone, finished or failed; v8 one whose result is SUCCESS, FAILURE or REVOKED.
    static func isHeldByRedash(_ job: LockedJob, system: QueueSystem?) -> Bool {
        switch system {
        case .celery: !["SUCCESS", "FAILURE", "REVOKED"].contains(job.status ?? "PENDING")
        case .rq, nil: job.status.map { !["finished", "failed"].contains($0) } ?? false
        }
    }

    /// Redash v10 and v25+: a lock is free when the job is gone, finished or failed.
    static func rqLock(job id: String, _ job: LockedJob, expiresAt: Instant, liveness: Liveness) -> JobLock? {
        switch job.status {
        case "queued", "deferred", "scheduled":
            // No live worker listens on its queue while others do: nobody takes it (with no
            // worker at all, a service scaled to zero may yet start one that does).
            if let origin = job.origin, let listeners = liveness.listeners, !listeners.isEmpty,
               !listeners.contains(where: { $0.queues.contains(origin) }) {
                return .blocked(until: expiresAt, cause: .unconsumedQueue(job: id, queue: origin))
            }
            return .waiting
        case "started" where liveness.abandoned.contains(id) && !liveness.running.contains(id):
            return .blocked(until: expiresAt, cause: .abandonedJob(job: id))
        default:
            // Running, finished, failed or gone: Redash re-enqueues a finished or failed one,
            // and a running one restarted the clock at its start.
            return nil
        }
    }

    /// Redash v8: a lock is free only when the task's result is `SUCCESS`, `FAILURE` or
    /// `REVOKED`; `PENDING` (no result at all) and `STARTED` hold it.
    static func celeryLock(task id: String, _ job: LockedJob, expiresAt: Instant, liveness: Liveness) -> JobLock? {
        switch job.status {
        case "PENDING", "RECEIVED", "RETRY":
            if let returns = liveness.stranded[id] {
                // Back on its queue when kombu restores it (then it runs), at the latest when
                // the lock expires.
                return .blocked(until: min(returns ?? expiresAt, expiresAt), cause: .strandedMessage(task: id))
            }
            return .waiting
        case "STARTED":
            guard let activity = liveness.celery, activity.isComplete, let node = job.node,
                  !activity.nodes.contains(where: { $0.name == node }) else { return nil }
            // Started on a node that no longer answers: the query died with it, and its result
            // stays STARTED for 4 h, then PENDING, until the lock's 12 h run out.
            return .blocked(until: expiresAt, cause: .deadNode(task: id, node: (try? CeleryRound.printable(node, "a node name")) ?? "?"))
        default:
            return nil
        }
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
