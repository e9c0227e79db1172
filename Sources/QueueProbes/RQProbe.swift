import AutoscalerCore
import RedisClient

/// RQ (Redash v10 with RQ 1.5, v25+ with RQ 1.16):
/// - pending: `rq:queue:<name>`, a list of job ids, oldest at index 0;
/// - oldest age: `enqueued_at` of that job's hash `rq:job:<id>`;
/// - running: `rq:wip:<name>`, the started-job registry, a sorted set scored by a deadline. RQ
///   1.16 scores a heartbeat deadline (about now + 65 s, refreshed every 5 s): a score in the
///   past is a job whose worker died, abandoned. RQ 1.5 scores start + timeout, and `+inf` for a
///   job without a time limit (Redash's default): such an entry stays when its worker is
///   SIGKILLed, so it counts as running only while a live worker's `current_job` is that job;
/// - workers: `rq:workers:<name>`, a set of `rq:worker:<name>` hashes; a hash that expired or
///   records a `death` is not a worker.
/// Jobs in `rq:queue:<name>:intermediate` (RQ 1.16) have been dequeued: they are in the started
/// registry once running, or being cleaned up by RQ, so they are not counted again.
///
/// Every reply is checked: an error reply, a wrong type, an implausible time or a registry larger
/// than any worker pool makes the queue unavailable, with the reason.
enum RQProbe {
    /// Started-registry entries and registered workers read per queue at the most. A Redash
    /// queue has at most a few hundred worker processes; more entries than this is not a
    /// registry RQ keeps, and is not trusted.
    static let registryLimit = 1_000

    /// Probes `queues`. `extra` commands ride along in the first round trip; `detail` makes more
    /// commands for the second round trip from their replies. Both sets of replies are returned.
    static func probe(
        queues: [String], pipeline: RedisPipeline, now: Instant, report: inout ProbeReport, readsStatus: Bool = true,
        appending extra: [[String]] = [], detail: ([RESPValue]) -> [[String]] = { _ in [] }
    ) async throws -> (first: [RESPValue], detail: [RESPValue]) {
        let nowScore = String(format: "%.6f", now.secondsSinceEpoch)
        let limit = String(registryLimit)
        var commands: [[String]] = []
        for queue in queues {
            commands.append(["LLEN", "rq:queue:\(queue)"])
            commands.append(["LINDEX", "rq:queue:\(queue)", "0"])
            commands.append(["ZCOUNT", "rq:wip:\(queue)", nowScore, "+inf"])
            // Ids and scores, not a count: a worker killed mid-job still says `busy` in its
            // hash, and an RQ 1.5 entry scored +inf outlives its worker.
            commands.append(["ZRANGEBYSCORE", "rq:wip:\(queue)", nowScore, "+inf", "WITHSCORES", "LIMIT", "0", limit])
            commands.append(["ZCOUNT", "rq:wip:\(queue)", "-inf", "(" + nowScore])
            commands.append(["SCARD", "rq:workers:\(queue)"])
            commands.append(["SRANDMEMBER", "rq:workers:\(queue)", limit])
        }
        commands.append(["SCARD", "rq:workers:periodic"])
        if readsStatus { commands.append(SchedulerHealth.command) }
        let all = try await pipeline(commands + extra)
        report.roundTrips += 1
        report.commands += commands.count + extra.count
        let replies = Array(all.prefix(commands.count))
        let extraReplies = Array(all.dropFirst(commands.count))

        struct Partial {
            var pending: Int
            var oldestID: String?
            var live: [(id: String, isTimeless: Bool)]
            var expired: Int
            var workerKeys: [String]
        }
        var partials: [String: Partial] = [:]
        var problems: [String: String] = [:]
        for (index, queue) in queues.enumerated() {
            let base = index * 7
            do throws(UntrustedReply) {
                let pending = try replies[base].count("rq:queue:\(queue)")
                let oldest = try replies[base + 1].optionalText("rq:queue:\(queue)[0]")
                let liveCount = try replies[base + 2].count("rq:wip:\(queue)")
                if liveCount > registryLimit {
                    throw UntrustedReply("rq:wip:\(queue) holds \(liveCount) live entries, more than \(registryLimit) workers could run; not trusted")
                }
                let live = try Self.registryEntries(replies[base + 3], queue: queue)
                let expired = try replies[base + 4].count("rq:wip:\(queue) (expired)")
                let workerCount = try replies[base + 5].count("rq:workers:\(queue)")
                if workerCount > registryLimit {
                    throw UntrustedReply("rq:workers:\(queue) lists \(workerCount) workers, more than \(registryLimit); not trusted")
                }
                let keys = try replies[base + 6].elements("rq:workers:\(queue)").map { (reply: RESPValue) throws(UntrustedReply) -> String in
                    guard let key = try reply.optionalText("rq:workers:\(queue) member") else { throw UntrustedReply("rq:workers:\(queue): a nil member") }
                    return key
                }
                partials[queue] = Partial(pending: pending, oldestID: oldest, live: live, expired: expired, workerKeys: keys.sorted())
            } catch {
                problems[queue] = error.message
            }
        }
        let periodicWorkers = try? replies[queues.count * 7].count("rq:workers:periodic")
        report.periodicWorkers = periodicWorkers
        if readsStatus { report.takeSchedulerHealth(replies[queues.count * 7 + 1], now: now) }

        // Second round trip: the oldest job's enqueue time and each worker's hash.
        var details: [[String]] = []
        let oldestQueues = queues.filter { partials[$0]?.oldestID != nil && (partials[$0]?.pending ?? 0) > 0 }
        for queue in oldestQueues { details.append(["HGET", "rq:job:\(partials[queue]!.oldestID!)", "enqueued_at"]) }
        var workerKeys: [String] = []
        var seen = Set<String>()
        for queue in queues { for key in partials[queue]?.workerKeys ?? [] where seen.insert(key).inserted { workerKeys.append(key) } }
        for key in workerKeys {
            details.append(["HMGET", key, "state", "current_job", "hostname", "ip_address", "last_heartbeat", "death"])
        }
        let extraDetail = detail(extraReplies)
        var answers: [RESPValue] = []
        if !details.isEmpty || !extraDetail.isEmpty {
            answers = try await pipeline(details + extraDetail)
            report.roundTrips += 1
            report.commands += details.count + extraDetail.count
        }
        var enqueuedAt: [String: Result<Instant?, UntrustedReply>] = [:]
        for (offset, queue) in oldestQueues.enumerated() {
            enqueuedAt[queue] = Result { () throws(UntrustedReply) -> Instant? in
                guard let text = try answers[offset].optionalText("rq:job enqueued_at") else { return nil }
                return try PlausibleTime.iso(text, "enqueued_at of the oldest job of \(queue)", now: now)
            }
        }
        var workers: [String: WorkerRecord] = [:]
        // A worker hash that cannot be read makes every queue listing it unavailable: skipping
        // it would count one worker fewer, and would take the job it holds for an abandoned one
        // (the probe fuzzer found an error reply read as "no such worker").
        var unreadableWorkers: [String: String] = [:]
        for (offset, key) in workerKeys.enumerated() {
            let fields: [String?]
            do throws(UntrustedReply) {
                let replies = try answers[oldestQueues.count + offset].elements(key)
                guard replies.count == 6 else { throw UntrustedReply("\(key): \(replies.count) fields for the 6 asked") }
                fields = try replies.map { (reply: RESPValue) throws(UntrustedReply) -> String? in try reply.optionalText(key) }
            } catch {
                unreadableWorkers[key] = error.message
                continue
            }
            // All fields nil: the hash expired (worker gone without unregistering).
            guard fields.contains(where: { $0 != nil }), fields[5] == nil else { continue }
            let name = key.hasPrefix("rq:worker:") ? String(key.dropFirst("rq:worker:".count)) : key
            workers[key] = WorkerRecord(
                name: name, state: fields[0], currentJob: fields[1].flatMap { $0.isEmpty ? nil : $0 },
                hostname: fields[2], ipAddress: fields[3].flatMap { $0 == "unknown" ? nil : $0 },
                lastHeartbeat: fields[4].flatMap { try? PlausibleTime.iso($0, "last_heartbeat", now: now, maximumAge: nil) })
        }
        for queue in queues where problems[queue] == nil {
            if let key = partials[queue]?.workerKeys.first(where: { unreadableWorkers[$0] != nil }) { problems[queue] = unreadableWorkers[key] }
        }

        // An entry without a deadline runs only while a live worker holds it.
        let heldByWorkers = Set(workers.values.compactMap(\.currentJob))
        for queue in queues {
            if let problem = problems[queue] {
                report.readings[queue] = .unavailable(reason: problem)
                continue
            }
            guard let partial = partials[queue] else { continue }
            let running = partial.live.filter { !$0.isTimeless || heldByWorkers.contains($0.id) }.map(\.id)
            let phantoms = partial.live.filter { $0.isTimeless && !heldByWorkers.contains($0.id) }.map(\.id)
            report.runningJobIDs.formUnion(running)
            report.abandonedJobIDs.formUnion(phantoms)
            report.abandonedJobs[queue] = partial.expired + phantoms.count
            if case .failure(let problem)? = enqueuedAt[queue] {
                report.readings[queue] = .unavailable(reason: problem.message)
                continue
            }
            report.workers[queue] = partial.workerKeys.compactMap { workers[$0] }
        }
        // Busy only while the job is running; otherwise the worker died mid-job and its hash has
        // not expired yet.
        let runningJobs = report.runningJobIDs
        for queue in queues where report.readings[queue] == nil {
            guard let partial = partials[queue] else { continue }
            var live = report.workers[queue] ?? []
            for index in live.indices where live[index].isBusy {
                if let job = live[index].currentJob, runningJobs.contains(job) { continue }
                live[index].hasAbandonedJob = true
            }
            report.workers[queue] = live
            let busy = live.filter(\.isBusy).count
            let running = partial.live.filter { !$0.isTimeless || heldByWorkers.contains($0.id) }.count
            var oldest: Duration?
            if partial.pending > 0, case .success(let enqueued)? = enqueuedAt[queue], let enqueued { oldest = max(.zero, now - enqueued) }
            report.readings[queue] = .observed(QueueObservation(
                queue: queue, pending: partial.pending, running: running, oldestAge: oldest,
                workers: WorkerCounts(busy: busy, idle: live.count - busy), observedAt: now))
        }
        return (extraReplies, Array(answers.dropFirst(details.count)))
    }

    /// `ZRANGEBYSCORE … WITHSCORES`: id, score pairs; a score of `inf` is a job without a deadline.
    static func registryEntries(_ reply: RESPValue, queue: String) throws(UntrustedReply) -> [(id: String, isTimeless: Bool)] {
        let elements = try reply.elements("rq:wip:\(queue)")
        guard elements.count % 2 == 0 else { throw UntrustedReply("rq:wip:\(queue): an odd WITHSCORES reply") }
        var entries: [(id: String, isTimeless: Bool)] = []
        entries.reserveCapacity(elements.count / 2)
        var index = 0
        while index < elements.count {
            guard let id = try elements[index].optionalText("rq:wip:\(queue) member"),
                  let scoreText = try elements[index + 1].optionalText("rq:wip:\(queue) score"),
                  let score = Double(scoreText.lowercased() == "inf" || scoreText.lowercased() == "+inf" ? "inf" : scoreText)
            else { throw UntrustedReply("rq:wip:\(queue): an entry without a score") }
            entries.append((id, score == .infinity))
            index += 2
        }
        return entries
    }
}

extension ProbeReport {
    /// Reads `SchedulerHealth.command`'s reply into `scheduler`, or a note saying why it could not.
    mutating func takeSchedulerHealth(_ reply: RESPValue, now: Instant) {
        switch SchedulerHealth.read(reply, periodicWorkers: periodicWorkers, now: now) {
        case .success(let health): scheduler = health
        case .failure(let problem): notes.append(problem.message)
        }
    }
}

extension SchedulerHealth {
    static let command = ["HMGET", "redash:status", "last_refresh_at", "started_at", "outdated_queries_count"]

    /// `HMGET redash:status last_refresh_at started_at outdated_queries_count`. An unreadable
    /// field makes the whole reading unreadable (with the reason), never a crash or a zero.
    static func read(_ reply: RESPValue, periodicWorkers: Int?, now: Instant) -> Result<SchedulerHealth, UntrustedReply> {
        Result { () throws(UntrustedReply) -> SchedulerHealth in
            let fields = try reply.elements("redash:status")
            guard fields.count == 3 else { throw UntrustedReply("redash:status: \(fields.count) fields for 3 asked") }
            func time(_ index: Int, _ field: String) throws(UntrustedReply) -> Instant? {
                guard let text = try fields[index].optionalText("redash:status \(field)") else { return nil }
                return try PlausibleTime.epoch(text, "redash:status \(field)", now: now, maximumAge: nil)
            }
            let last = try time(0, "last_refresh_at")
            let started = try time(1, "started_at")
            var count: Int?
            if let text = try fields[2].optionalText("redash:status outdated_queries_count") {
                guard let value = Int(text.trimmingWhitespace), value >= 0, value < 10_000_000 else {
                    throw UntrustedReply("redash:status outdated_queries_count: \(PlausibleTime.printable(text)) is not a count")
                }
                count = value
            }
            let since = last.map { now - $0 }
            return SchedulerHealth(
                lastRefreshAt: last, sinceLastRefresh: since, periodicWorkers: periodicWorkers,
                // No last_refresh_at at all (a new Redis, a Redash that has not refreshed yet, not
                // Redash's Redis) cannot be judged: not stale, and `isJudged` is false.
                isStale: since.map { $0 > SchedulerHealth.staleAfter } ?? false, lastRefreshStartedAt: started, outdatedQueries: count)
        }
    }
}
