import AutoscalerCore
import RedisClient

/// RQ (Redash v10 with RQ 1.5, v25+ with RQ 1.16):
/// - pending: `rq:queue:<name>`, a list of job ids, oldest at index 0;
/// - oldest age: `enqueued_at` of that job's hash `rq:job:<id>`;
/// - running: `rq:wip:<name>`, the started-job registry, a sorted set scored by a deadline
///   (start + timeout in RQ 1.5, +inf without timeout; a heartbeat deadline in RQ 1.16). A score
///   in the past is a job whose worker died: abandoned, not running;
/// - workers: `rq:workers:<name>`, a set of `rq:worker:<name>` hashes; a hash that expired or
///   records a `death` is not a worker.
/// Jobs in `rq:queue:<name>:intermediate` (RQ 1.16) have been dequeued: they are in the started
/// registry once running, or being cleaned up by RQ, so they are not counted again.
enum RQProbe {
    /// Probes `queues`; `extra` commands ride along in the first round trip and their replies
    /// are returned.
    static func probe(
        queues: [String], client: RedisClient, now: Instant, report: inout ProbeReport, appending extra: [[String]] = []
    ) async throws -> [RESPValue] {
        let nowScore = String(format: "%.6f", now.secondsSinceEpoch)
        var commands: [[String]] = []
        for queue in queues {
            commands.append(["LLEN", "rq:queue:\(queue)"])
            commands.append(["LINDEX", "rq:queue:\(queue)", "0"])
            // Ids, not a count: a worker killed mid-job still says `busy` in its hash, and only
            // a live entry here tells the two apart. Bounded by the number of workers.
            commands.append(["ZRANGEBYSCORE", "rq:wip:\(queue)", nowScore, "+inf"])
            commands.append(["SMEMBERS", "rq:workers:\(queue)"])
        }
        commands.append(["HGET", "redash:status", "last_refresh_at"])
        commands.append(["SCARD", "rq:workers:periodic"])
        let all = try await client.pipeline(commands + extra)
        report.roundTrips += 1
        report.commands += commands.count + extra.count
        let replies = Array(all.prefix(commands.count))

        struct Partial {
            var pending: Int
            var oldestID: String?
            var runningJobs: [String]
            var workerKeys: [String]
        }
        var partials: [String: Partial] = [:]
        var problems: [String: String] = [:]
        for (index, queue) in queues.enumerated() {
            let base = index * 4
            let length = replies[base], head = replies[base + 1], wip = replies[base + 2], members = replies[base + 3]
            if let message = [length, head].compactMap(\.errorMessage).first {
                problems[queue] = "rq:queue:\(queue): \(message)"
                continue
            }
            if let message = wip.errorMessage {
                problems[queue] = "rq:wip:\(queue): \(message)"
                continue
            }
            if let message = members.errorMessage {
                problems[queue] = "rq:workers:\(queue): \(message)"
                continue
            }
            guard let pending = length.integer, let running = wip.array else {
                problems[queue] = "unexpected reply to LLEN/ZRANGEBYSCORE"
                continue
            }
            partials[queue] = Partial(
                pending: pending, oldestID: head.string, runningJobs: running.compactMap(\.string),
                workerKeys: (members.array ?? []).compactMap(\.string).sorted())
        }
        report.scheduler = SchedulerHealth.from(
            lastRefresh: replies[replies.count - 2], periodicWorkers: replies[replies.count - 1].integer, now: now)

        // Second round trip: the oldest job's enqueue time and each worker's hash.
        var detail: [[String]] = []
        let oldestQueues = queues.filter { partials[$0]?.oldestID != nil }
        for queue in oldestQueues { detail.append(["HGET", "rq:job:\(partials[queue]!.oldestID!)", "enqueued_at"]) }
        var workerKeys: [String] = []
        var seen = Set<String>()
        for queue in queues { for key in partials[queue]?.workerKeys ?? [] where seen.insert(key).inserted { workerKeys.append(key) } }
        for key in workerKeys {
            detail.append(["HMGET", key, "state", "current_job", "hostname", "ip_address", "last_heartbeat", "death"])
        }
        var enqueuedAt: [String: Instant?] = [:]
        var workers: [String: WorkerRecord] = [:]
        if !detail.isEmpty {
            let details = try await client.pipeline(detail)
            report.roundTrips += 1
            report.commands += detail.count
            for (offset, queue) in oldestQueues.enumerated() {
                enqueuedAt[queue] = details[offset].string.flatMap(CivilTime.parseTimestamp)
            }
            for (offset, key) in workerKeys.enumerated() {
                guard let fields = details[oldestQueues.count + offset].array, fields.count == 6 else { continue }
                // All fields nil: the hash expired (worker gone without unregistering).
                guard fields.contains(where: { !$0.isNull }), fields[5].isNull else { continue }
                let name = key.hasPrefix("rq:worker:") ? String(key.dropFirst("rq:worker:".count)) : key
                workers[key] = WorkerRecord(
                    name: name, state: fields[0].string, currentJob: fields[1].string.flatMap { $0.isEmpty ? nil : $0 },
                    hostname: fields[2].string, ipAddress: fields[3].string.flatMap { $0 == "unknown" ? nil : $0 },
                    lastHeartbeat: fields[4].string.flatMap(CivilTime.parseTimestamp))
            }
        }

        let liveJobs = Set(partials.values.flatMap(\.runningJobs))
        for queue in queues {
            if let problem = problems[queue] {
                report.readings[queue] = .unavailable(reason: problem)
                continue
            }
            guard let partial = partials[queue] else { continue }
            var live = partial.workerKeys.compactMap { workers[$0] }
            // A worker is busy only while its job is live in a started registry; otherwise it
            // died mid-job and its hash has not expired yet.
            for index in live.indices where live[index].isBusy {
                if let job = live[index].currentJob, liveJobs.contains(job) { continue }
                live[index].hasAbandonedJob = true
            }
            report.workers[queue] = live
            let busy = live.filter(\.isBusy).count
            var oldest: Duration?
            if partial.pending > 0, let enqueued = enqueuedAt[queue] ?? nil {
                oldest = max(.zero, now - enqueued)
            }
            report.readings[queue] = .observed(QueueObservation(
                queue: queue, pending: partial.pending, running: partial.runningJobs.count, oldestAge: oldest,
                workers: WorkerCounts(busy: busy, idle: live.count - busy), observedAt: now))
        }
        return Array(all.dropFirst(commands.count))
    }
}

extension SchedulerHealth {
    static func from(lastRefresh reply: RESPValue, periodicWorkers: Int?, now: Instant) -> SchedulerHealth {
        let last = reply.string.flatMap(Double.init).map { Instant(secondsSinceEpoch: $0) }
        let since = last.map { now - $0 }
        return SchedulerHealth(
            lastRefreshAt: last, sinceLastRefresh: since, periodicWorkers: periodicWorkers,
            isStale: since.map { $0 > SchedulerHealth.staleAfter } ?? true)
    }
}
