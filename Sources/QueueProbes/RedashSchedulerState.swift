import AutoscalerCore
import RedisClient

/// Reads what Redash's scheduler keeps in Redis (`RedashSchedulerState`): the hash
/// `sq:executed_at`, a pause key `ds:<id>:pause` per data source, and the locks
/// `query_hash_job:<data source>:<query hash>` of queries that are due now, with the status of
/// the job each points at (RQ's `rq:job:<id>` hash).
public enum RedashSchedulerStateReader {
    public static let executionsKey = "sq:executed_at"
    /// Redash's lock lifetime (`REDASH_JOB_EXPIRY_TIME`, 12 h), for a lock without one.
    static let lockLifetime: Duration = .seconds(43_200)
    /// `sq:executed_at` fields read at the most (one per scheduled query).
    static let executionsLimit = 200_000

    static func pauseKey(_ dataSource: Int) -> String { "ds:\(dataSource):pause" }

    /// The first round trip's commands, to pipeline with others.
    static func commands(_ request: SchedulerStateRequest) -> [[String]] {
        [["HGETALL", executionsKey]] + request.dataSources.map { ["EXISTS", pauseKey($0)] }
            + request.locks.flatMap { [["GET", $0], ["PTTL", $0]] }
    }

    /// The second round trip's commands: the status of each job a lock points at.
    static func jobStatusCommands(_ replies: [RESPValue], locks: Int) -> [[String]] {
        lockJobs(replies, locks: locks).compactMap { $0.map { ["HGET", "rq:job:\($0)", "status"] } }
    }

    /// The job id of each lock (nil when the lock is free), from the first round trip's replies.
    static func lockJobs(_ replies: [RESPValue], locks: Int) -> [String?] {
        let base = replies.count - locks * 2
        guard base >= 1 else { return Array(repeating: nil, count: locks) }
        return (0..<locks).map { index in
            (try? replies[base + index * 2].optionalText("lock")).flatMap { $0?.isEmpty == false ? $0 : nil }
        }
    }

    /// Which started jobs a worker really runs, from the queue probe.
    struct Liveness {
        var running: Set<String>
        var abandoned: Set<String>
    }

    /// Reads the replies. An error reply or a wrong type fails the whole reading: half a state
    /// would make the forecast lie. Unreadable `sq:executed_at` entries are left out, as Redash
    /// would fail to use them too. `jobStatuses` nil (Celery): locks are not interpreted.
    static func interpret(
        _ replies: [RESPValue], jobStatuses: [RESPValue]?, request: SchedulerStateRequest, liveness: Liveness, now: Instant
    ) -> Result<RedashSchedulerState, UntrustedReply> {
        Result { () throws(UntrustedReply) -> RedashSchedulerState in
            guard replies.count == 1 + request.dataSources.count + request.locks.count * 2 else {
                throw UntrustedReply("\(executionsKey): \(replies.count) replies for \(1 + request.dataSources.count + request.locks.count * 2) commands")
            }
            let elements = try replies[0].elements("HGETALL \(executionsKey)")
            guard elements.count <= executionsLimit * 2 else {
                throw UntrustedReply("\(executionsKey) holds \(elements.count / 2) entries, more than \(executionsLimit); not trusted")
            }
            var executions: [Int: Instant] = [:]
            var index = 0
            while index + 1 < elements.count {
                if let idText = (try? elements[index].optionalText(executionsKey)) ?? nil, let id = Int(idText),
                   let text = (try? elements[index + 1].optionalText(executionsKey)) ?? nil,
                   let started = try? PlausibleTime.epoch(text, executionsKey, now: now, maximumAge: nil) {
                    executions[id] = started
                }
                index += 2
            }
            var paused = Set<Int>()
            for (offset, dataSource) in request.dataSources.enumerated() {
                if try replies[1 + offset].count("EXISTS \(pauseKey(dataSource))") > 0 { paused.insert(dataSource) }
            }
            var locks: [String: JobLock] = [:]
            if let jobStatuses {
                let base = 1 + request.dataSources.count
                let jobs = lockJobs(replies, locks: request.locks.count)
                var statusIndex = 0
                for (offset, key) in request.locks.enumerated() {
                    guard let job = jobs[offset] else { continue }
                    let status = statusIndex < jobStatuses.count ? (try? jobStatuses[statusIndex].optionalText("rq:job:\(job)")) ?? nil : nil
                    statusIndex += 1
                    let ttl = (try? replies[base + offset * 2 + 1].integerValue("PTTL \(key)")) ?? -1
                    let expiresAt = ttl >= 0 ? now + .milliseconds(ttl) : now + lockLifetime
                    switch status {
                    case "queued", "deferred", "scheduled":
                        locks[key] = .waiting
                    case "started" where liveness.abandoned.contains(job) && !liveness.running.contains(job):
                        locks[key] = .abandoned(expiresAt: expiresAt)
                    default:
                        // Running, finished, failed or gone: Redash re-enqueues a finished or
                        // failed one, and a running one restarted the clock at its start.
                        break
                    }
                }
            }
            return RedashSchedulerState(
                executions: executions, pausedDataSources: paused, dataSources: request.dataSources, locks: locks,
                checkedLocks: Set(request.locks), readAt: now)
        }
    }

    /// Reads it all in its own round trips (the `forecast` command). An error when Redis cannot
    /// be read. `layout` decides whether locks are interpreted (RQ only).
    public static func read(_ client: RedisClient, request: SchedulerStateRequest, layout: QueueLayout, now: Instant) async throws -> RedashSchedulerState {
        let replies = try await client.pipeline(commands(request))
        var statuses: [RESPValue]?
        if layout == .rq {
            let details = jobStatusCommands(replies, locks: request.locks.count)
            statuses = details.isEmpty ? [] : try await client.pipeline(details)
        }
        switch interpret(replies, jobStatuses: statuses, request: request, liveness: Liveness(running: [], abandoned: []), now: now) {
        case .success(let state): return state
        case .failure(let problem): throw RedisError(.protocolViolation, server: "", problem.message)
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
