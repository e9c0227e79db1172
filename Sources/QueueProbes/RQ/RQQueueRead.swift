import AutoscalerCore
import Foundation
import RedisClient

/// The first read of one RQ queue (Redash v10 with RQ 1.5, v25+ with RQ 1.16):
/// - pending: `rq:queue:<name>`, a list of job ids, oldest at index 0;
/// - running: `rq:wip:<name>`, the started-job registry, a sorted set scored by a deadline. RQ
///   1.16 scores a heartbeat deadline (about now + 65 s, refreshed every 5 s): a score in the
///   past is a job whose worker died, abandoned. RQ 1.5 scores start + timeout, and `+inf` for a
///   job without a time limit (Redash's default): such an entry stays when its worker is
///   SIGKILLed, so it runs only while a live worker's `current_job` is that job (decided once
///   the worker hashes are read, `RQQueueAssembly`);
/// - workers: `rq:workers:<name>`, the keys of the `rq:worker:<name>` hashes.
/// Jobs in `rq:queue:<name>:intermediate` (RQ 1.16) have been dequeued: they are in the started
/// registry once running, or being cleaned up by RQ, so they are not counted again.
///
/// The oldest job's enqueue time and the worker hashes are the next round trip's reads
/// (`RQOldestJobRead`, `RQWorkerRead`).
struct RQQueueRead: RedisRead {
    let queue: String
    let now: Instant

    /// Started-registry entries and registered workers read per queue at the most. A Redash
    /// queue has at most a few hundred worker processes; more entries than this is not a
    /// registry RQ keeps, and is not trusted.
    static let registryLimit = 1_000

    var commands: [[String]] {
        let nowScore = String(format: "%.6f", now.secondsSinceEpoch)
        let limit = String(Self.registryLimit)
        return [
            ["LLEN", "rq:queue:\(queue)"],
            ["LINDEX", "rq:queue:\(queue)", "0"],
            ["ZCOUNT", "rq:wip:\(queue)", nowScore, "+inf"],
            // Ids and scores, not a count: a worker killed mid-job still says `busy` in its
            // hash, and an RQ 1.5 entry scored +inf outlives its worker.
            ["ZRANGEBYSCORE", "rq:wip:\(queue)", nowScore, "+inf", "WITHSCORES", "LIMIT", "0", limit],
            ["ZCOUNT", "rq:wip:\(queue)", "-inf", "(" + nowScore],
            ["SCARD", "rq:workers:\(queue)"],
            ["SRANDMEMBER", "rq:workers:\(queue)", limit],
        ]
    }

    /// What the first round trip says of the queue.
    struct Listing: Sendable {
        var pending: Int
        /// The id at the head of the list.
        var oldestID: String?
        /// Started-registry entries whose deadline has not passed; `isTimeless` for `+inf`.
        var live: [(id: String, isTimeless: Bool)]
        /// Entries past their deadline: abandoned.
        var expired: Int
        /// Keys of the registered workers' hashes, sorted.
        var workerKeys: [String]
    }

    func interpret(_ replies: inout ReplyCursor) -> Result<Listing, UntrustedReply> {
        Result { () throws(UntrustedReply) -> Listing in
            let pending = try replies.next().count("rq:queue:\(queue)")
            let oldest = try replies.next().optionalText("rq:queue:\(queue)[0]")
            let liveCount = try replies.next().count("rq:wip:\(queue)")
            if liveCount > Self.registryLimit {
                throw UntrustedReply("rq:wip:\(queue) holds \(liveCount) live entries, more than \(Self.registryLimit) workers could run; not trusted")
            }
            let live = try Self.registryEntries(replies.next(), queue: queue)
            let expired = try replies.next().count("rq:wip:\(queue) (expired)")
            let workerCount = try replies.next().count("rq:workers:\(queue)")
            if workerCount > Self.registryLimit {
                throw UntrustedReply("rq:workers:\(queue) lists \(workerCount) workers, more than \(Self.registryLimit); not trusted")
            }
            let keys = try replies.next().elements("rq:workers:\(queue)").map { (reply: RESPValue) throws(UntrustedReply) -> String in
                guard let key = try reply.optionalText("rq:workers:\(queue) member") else { throw UntrustedReply("rq:workers:\(queue): a nil member") }
                return key
            }
            return Listing(pending: pending, oldestID: oldest, live: live, expired: expired, workerKeys: keys.sorted())
        }
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

/// The enqueue time of a queue's oldest job: `enqueued_at` of its hash `rq:job:<id>`
/// (`%Y-%m-%dT%H:%M:%S.%fZ`, UTC). `nil` when the hash or the field is gone (the job was just
/// taken).
struct RQOldestJobRead: RedisRead {
    let queue: String
    let jobID: String
    let now: Instant

    var commands: [[String]] { [["HGET", "rq:job:\(jobID)", "enqueued_at"]] }

    func interpret(_ replies: inout ReplyCursor) -> Result<Instant?, UntrustedReply> {
        Result { () throws(UntrustedReply) -> Instant? in
            guard let text = try replies.next().optionalText("rq:job enqueued_at") else { return nil }
            return try PlausibleTime.iso(text, "enqueued_at of the oldest job of \(queue)", now: now)
        }
    }
}

/// One RQ worker's hash `rq:worker:<name>`. A hash whose fields are all gone expired (the
/// worker left without unregistering), and one that records a `death` is not a worker: both
/// read as `nil`. A hash that cannot be read is a failure: skipping it would count one worker
/// fewer, and would take the job it holds for an abandoned one (the probe fuzzer found an error
/// reply read as "no such worker").
struct RQWorkerRead: RedisRead {
    let key: String
    let now: Instant

    static let fields = ["state", "current_job", "hostname", "ip_address", "last_heartbeat", "death", "queues"]

    var commands: [[String]] { [["HMGET", key] + Self.fields] }

    func interpret(_ replies: inout ReplyCursor) -> Result<WorkerRecord?, UntrustedReply> {
        Result { () throws(UntrustedReply) -> WorkerRecord? in
            let values = try replies.next().elements(key)
            guard values.count == Self.fields.count else { throw UntrustedReply("\(key): \(values.count) fields for the \(Self.fields.count) asked") }
            let fields = try values.map { (reply: RESPValue) throws(UntrustedReply) -> String? in try reply.optionalText(key) }
            let (state, currentJob, hostname, address, heartbeat, death, queues) = (fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6])
            guard fields.contains(where: { $0 != nil }), death == nil else { return nil }
            return WorkerRecord(
                name: key.hasPrefix("rq:worker:") ? String(key.dropFirst("rq:worker:".count)) : key, state: state,
                currentJob: currentJob.flatMap { $0.isEmpty ? nil : $0 }, hostname: hostname,
                ipAddress: address.flatMap { $0 == "unknown" ? nil : $0 },
                lastHeartbeat: heartbeat.flatMap { try? PlausibleTime.iso($0, "last_heartbeat", now: now, maximumAge: nil) },
                queues: queues.map { $0.split(separator: ",").map { String($0).trimmingWhitespace }.filter { !$0.isEmpty } })
        }
    }
}

/// Every RQ worker: `rq:workers`, the keys of all `rq:worker:<name>` hashes (a SIGKILLed
/// worker's key stays after its hash expires; the hash read tells). Their `queues` say which
/// queues have a live listener (`QueueConsumption`).
struct RQWorkerRegistryRead: RedisRead {
    var commands: [[String]] { [["SCARD", "rq:workers"], ["SRANDMEMBER", "rq:workers", String(RQQueueRead.registryLimit)]] }

    func interpret(_ replies: inout ReplyCursor) -> Result<[String], UntrustedReply> {
        Result { () throws(UntrustedReply) -> [String] in
            let count = try replies.next().count("rq:workers")
            guard count <= RQQueueRead.registryLimit else {
                throw UntrustedReply("rq:workers lists \(count) workers, more than \(RQQueueRead.registryLimit); not trusted")
            }
            return try replies.next().elements("rq:workers").map { (reply: RESPValue) throws(UntrustedReply) -> String in
                guard let key = try reply.optionalText("rq:workers member") else { throw UntrustedReply("rq:workers: a nil member") }
                return key
            }.sorted()
        }
    }
}
