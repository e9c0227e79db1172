import AutoscalerCore
import RedisClient

/// The queues Redis knows, for the check of the policy's queue names (misnamed queues, queues
/// with work that no service consumes).
///
/// RQ registers every queue in the set `rq:queues`; the length of those outside the policy is
/// the next round trip's read (`QueueLengthRead`). kombu keeps no list of queues, only a
/// binding per queue (`_kombu.binding.<name>`): for Celery, the names Redash uses in some
/// version and the policy's are looked up, with their lengths, in one round trip.
enum QueueRegistryRead {
    /// Queue names Redash uses in some version, looked for in Celery's bindings.
    static let redashQueueNames = ["queries", "scheduled_queries", "celery", "schemas", "periodic", "emails", "default"]
    /// Names listed from `rq:queues` at the most, and lengths read of those outside the policy.
    static let listLimit = 1_000
    static let outsideLimit = 100

    /// RQ's registry of queues.
    struct RQ: RedisRead {
        var commands: [[String]] { [["SCARD", "rq:queues"], ["SRANDMEMBER", "rq:queues", String(QueueRegistryRead.listLimit)]] }

        func interpret(_ replies: inout ReplyCursor) -> Result<Set<String>, UntrustedReply> {
            Result { () throws(UntrustedReply) -> Set<String> in
                let count = try replies.next().count("rq:queues")
                guard count <= QueueRegistryRead.listLimit else { throw UntrustedReply("rq:queues lists \(count) queues; not read") }
                var names = Set<String>()
                for member in try replies.next().elements("rq:queues") {
                    guard let key = try member.optionalText("rq:queues member"), key.hasPrefix("rq:queue:") else { continue }
                    names.insert(String(key.dropFirst("rq:queue:".count)))
                }
                return names
            }
        }

        /// The next round trip's reads: the length of every listed queue the policy does not
        /// consume, by name, at most `outsideLimit`.
        static func followUps(_ names: Set<String>, policyQueues: [String]) -> [QueueLengthRead] {
            names.subtracting(policyQueues).sorted().prefix(QueueRegistryRead.outsideLimit).map { QueueLengthRead(queue: $0, key: "rq:queue:\($0)") }
        }

        /// What the registry says, once the lengths are read.
        static func known(_ names: Set<String>, outside: [(QueueLengthRead, Result<Int, UntrustedReply>)]) -> Result<KnownQueues, UntrustedReply> {
            Result { () throws(UntrustedReply) -> KnownQueues in
                var known = KnownQueues(names: names)
                for (read, length) in outside {
                    let pending = try length.get()
                    if pending > 0 { known.pendingOutsidePolicy[read.queue] = pending }
                }
                return known
            }
        }
    }

    /// Celery's bindings and lists of the names Redash uses and the policy's.
    struct Celery: RedisRead {
        let policyQueues: [String]

        var candidates: [String] {
            var names = QueueRegistryRead.redashQueueNames
            for queue in policyQueues where !names.contains(queue) { names.append(queue) }
            return names
        }

        var commands: [[String]] { candidates.flatMap { [["EXISTS", "_kombu.binding.\($0)"], ["LLEN", $0]] } }

        func interpret(_ replies: inout ReplyCursor) -> Result<KnownQueues, UntrustedReply> {
            Result { () throws(UntrustedReply) -> KnownQueues in
                var known = KnownQueues()
                let consumed = Set(policyQueues)
                for name in candidates {
                    let bound = try replies.next().count("_kombu.binding.\(name)") > 0
                    let waiting = try replies.next().count(name)
                    if bound || waiting > 0 { known.names.insert(name) }
                    if waiting > 0, !consumed.contains(name) { known.pendingOutsidePolicy[name] = waiting }
                }
                return known
            }
        }
    }
}

/// The length of one list (`LLEN`).
struct QueueLengthRead: RedisRead {
    let queue: String
    let key: String

    var commands: [[String]] { [["LLEN", key]] }

    func interpret(_ replies: inout ReplyCursor) -> Result<Int, UntrustedReply> {
        Result { () throws(UntrustedReply) -> Int in try replies.next().count(key) }
    }
}

/// Which queue system the keys belong to: RQ registers queues and workers in sets; kombu keeps
/// bindings per exchange. A failure when no key tells yet, or when a reply cannot be trusted:
/// an error there (a key of the wrong type) may hide the other system's keys, and a system
/// detected once is kept for good, so it is not guessed from the rest (the probe fuzzer found
/// an error read as 0 RQ queues). RQ's keys win when both are present.
struct LayoutDetectionRead: RedisRead {
    let queues: [String]

    var commands: [[String]] {
        [["SCARD", "rq:queues"], ["SCARD", "rq:workers"], ["EXISTS", "_kombu.binding.celery"]] + queues.map { ["EXISTS", "_kombu.binding.\($0)"] }
    }

    /// The system found, and the evidence, for the report and the log.
    struct Detection: Sendable {
        var system: QueueSystem
        var evidence: String
    }

    func interpret(_ replies: inout ReplyCursor) -> Result<Detection, UntrustedReply> {
        Result { () throws(UntrustedReply) -> Detection in
            let rqQueues = try replies.next().count("rq:queues")
            let rqWorkers = try replies.next().count("rq:workers")
            var bindings = 0
            for name in ["celery"] + queues { bindings += try replies.next().count("_kombu.binding.\(name)") }
            if rqQueues + rqWorkers > 0 {
                return Detection(system: .rq, evidence: "\(rqQueues) RQ queue(s), \(rqWorkers) RQ worker(s) registered")
            }
            guard bindings > 0 else { throw UntrustedReply("no RQ registry or kombu binding yet") }
            return Detection(system: .celery, evidence: "\(bindings) kombu binding(s)")
        }
    }
}
