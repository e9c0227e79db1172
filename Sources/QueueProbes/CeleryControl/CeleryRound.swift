import AutoscalerCore
import RedisClient
import Synchronization

/// One round of Celery's remote control through kombu's Redis transport, as Celery 4 (Redash
/// v7–v8) and 5 speak it: the one way to learn which tasks Celery's workers are executing.
///
/// On the probe's own Redis connection:
/// 1. `SADD` binds a reply queue of ours (`ReplyBinding`), and three `PUBLISH`es on the
///    `celery.pidbox` fanout channel (`/<db>.celery.pidbox`, kombu's fanout prefix) ask
///    `active`, `reserved` and `active_queues`; each `PUBLISH` returns how many worker nodes it
///    reached;
/// 2. the nodes `LPUSH` their replies onto the reply list; it is polled with `LLEN` until every
///    node reached has answered all three, or the reply timeout passes (every 5 ms for the first
///    100 ms, every 20 ms after);
/// 3. `LRANGE` reads the replies, and the binding and the list are removed in the same round trip.
/// The broadcast carries an `expires` header at the timeout (Celery's own callers use it to drop
/// late replies; nodes answer regardless). A node that answers after the round removed its
/// binding finds no reply queue, and kombu drops the reply; one that answers in between
/// recreates the list, and the next round deletes it again.
struct CeleryRound {
    /// Replies read at the most: three per node, and a Redash fleet has far fewer nodes.
    static let replyLimit = 3_000
    /// The questions of a round.
    static let questions = 3
    /// Tasks one node may list: more is not a Celery pool.
    static let activeLimit = 10_000

    let binding: ReplyBinding
    let activeTicket: String
    let reservedTicket: String
    let queuesTicket: String
    let database: Int
    let timeout: Duration
    let now: Instant
    /// The most tasks one node may list as active or reserved (its pool); `nil`: no limit.
    var poolLimit: Int?

    init(database: Int, timeout: Duration, now: Instant, poolLimit: Int? = nil, ids: () -> String) {
        self.poolLimit = poolLimit
        binding = ReplyBinding(now: now, random: ids())
        activeTicket = ids()
        queuesTicket = ids()
        reservedTicket = ids()
        self.database = database
        self.timeout = timeout
        self.now = now
    }

    /// The `celery.pidbox` fanout channel of Redis database `database`.
    static func channel(database: Int) -> String { "/\(database).celery.pidbox" }

    /// Runs the round: `sleep` waits between polls, `elapsed` says how long the round has taken.
    /// Returns what the nodes said and the members to carry to the next round.
    func run(
        pipeline: RedisPipeline, leftovers: [String], sweep: Bool, elapsed: @Sendable () -> Duration,
        sleep: @Sendable (Duration) async throws -> Void
    ) async -> (activity: CeleryActivity, leftovers: [String]) {
        let cost = Mutex(ProbeCost())
        let counted: RedisPipeline = { commands in
            let replies = try await pipeline(commands)
            cost.withLock { $0.add(commands: commands.count) }
            return replies
        }
        var (activity, carried) = await ask(counted, leftovers: leftovers, elapsed: elapsed, sleep: sleep)
        if sweep { await ReplyBinding.sweepStale(through: counted, now: now) }
        let total = cost.withLock { $0 }
        (activity.roundTrips, activity.commands) = (total.roundTrips, total.commands)
        return (activity, carried)
    }

    private func failed(_ problem: String, reached: Int? = nil, elapsed: Duration) -> CeleryActivity {
        CeleryActivity(reached: reached, nodes: [], problem: problem, elapsed: elapsed, observedAt: now)
    }

    private static func describe(_ error: any Error) -> String {
        (error as? RedisError)?.description ?? "\(error)"
    }

    private func ask(
        _ pipeline: RedisPipeline, leftovers: [String], elapsed: @Sendable () -> Duration, sleep: @Sendable (Duration) async throws -> Void
    ) async -> (CeleryActivity, [String]) {
        let channel = Self.channel(database: database)
        // Earlier rounds' members and lists go first: removing them again is harmless.
        let earlier = ReplyBinding.removalCommands(leftovers)
        let expires = now + timeout
        let commands: [[String]] = earlier + [
            binding.bindCommand,
            ["PUBLISH", channel, ControlEnvelope.broadcast(method: "active", ticket: activeTicket, routingKey: binding.routingKey, expires: expires)],
            ["PUBLISH", channel, ControlEnvelope.broadcast(method: "active_queues", ticket: queuesTicket, routingKey: binding.routingKey, expires: expires)],
            ["PUBLISH", channel, ControlEnvelope.broadcast(method: "reserved", ticket: reservedTicket, routingKey: binding.routingKey, expires: expires)],
        ]
        // Until its clean-up is confirmed, this round's member is carried to the next round.
        let carried = [binding.member]
        let reached: Int
        do {
            var replies = ReplyCursor(try await pipeline(commands).dropFirst(earlier.count))
            do throws(UntrustedReply) {
                // Without the binding kombu drops the replies: no use waiting for them.
                _ = try replies.next().count("SADD \(ReplyBinding.bindingKey)")
                let active = try replies.next().count("PUBLISH \(channel)")
                let queues = try replies.next().count("PUBLISH \(channel)")
                let reserved = try replies.next().count("PUBLISH \(channel)")
                reached = max(active, queues, reserved)
            } catch {
                return (failed(error.message, elapsed: elapsed()), await ReplyBinding.remove(carried, through: pipeline))
            }
        } catch {
            // The binding may or may not be in place: unbind it, on a best effort.
            let reason = "the broadcast was not sent: \(Self.describe(error))"
            return (failed(reason, elapsed: elapsed()), leftovers + (await ReplyBinding.remove(carried, through: pipeline)))
        }

        while reached > 0 {
            let soFar = elapsed()
            if soFar >= timeout { break }
            do {
                try await sleep(min(soFar < .milliseconds(100) ? .milliseconds(5) : .milliseconds(20), timeout - soFar))
                let count = try await pipeline([["LLEN", binding.queue]])[0].count("LLEN \(binding.queue)")
                if count >= reached * Self.questions { break }
            } catch {
                let reason = "waiting for the replies: \(Self.describe(error))"
                return (failed(reason, reached: reached, elapsed: elapsed()), await ReplyBinding.remove(carried, through: pipeline))
            }
        }
        let entries: [RESPValue]
        do {
            let replies = try await pipeline([["LRANGE", binding.queue, "0", String(Self.replyLimit - 1)]] + ReplyBinding.removalCommands(carried))
            entries = try replies[0].elements("LRANGE \(binding.queue)")
        } catch let error as UntrustedReply {
            return (failed(error.message, reached: reached, elapsed: elapsed()), carried)
        } catch {
            let reason = "reading the replies: \(Self.describe(error))"
            return (failed(reason, reached: reached, elapsed: elapsed()), await ReplyBinding.remove(carried, through: pipeline))
        }
        do throws(UntrustedReply) {
            guard reached > 0 else {
                return (failed("the broadcast reached no Celery node: none is subscribed to remote control on this Redis and database", reached: 0, elapsed: elapsed()), carried)
            }
            let (nodes, bytes) = try nodes(from: entries)
            var activity = CeleryActivity(reached: reached, nodes: nodes, elapsed: elapsed(), observedAt: now, replyBytes: bytes)
            if nodes.count < reached {
                activity.problem = "\(reached - nodes.count) of \(reached) Celery node(s) did not answer within \(timeout.compactDescription)"
            } else if nodes.count > reached {
                activity.problem = "\(nodes.count) Celery nodes answered a broadcast that reached \(reached); not trusted"
            } else if let poolLimit, let node = nodes.first(where: { $0.active.count > poolLimit || $0.reserved.count > poolLimit }) {
                activity.problem = "\(node.name) claims \(node.active.count) running and \(node.reserved.count) prefetched tasks, more than a pool of \(poolLimit) (workersPerTask) runs or holds; not trusted"
            }
            return (activity, carried)
        } catch {
            return (failed(error.message, reached: reached, elapsed: elapsed()), carried)
        }
    }

    /// The nodes that answered every question of this round, from the reply list's entries.
    /// Replies to other rounds are skipped; a garbled reply makes the round untrusted.
    func nodes(from entries: [RESPValue]) throws(UntrustedReply) -> (nodes: [CeleryNode], bytes: Int) {
        var active: [String: [CeleryActiveTask]] = [:]
        var reserved: [String: [CeleryActiveTask]] = [:]
        var queues: [String: [String]] = [:]
        var bytes = 0
        for entry in entries {
            guard let text = try entry.optionalText("pidbox reply") else { continue }
            bytes += text.utf8.count
            let reply = try ControlEnvelope.reply(text)
            if reply.ticket == activeTicket {
                for (node, answer) in try ControlEnvelope.answers(reply.body, of: ControlEnvelope.ActiveTask.self) {
                    active[try Self.nodeName(node)] = try Self.activeTasks(answer, node: node, now: now)
                }
            } else if reply.ticket == reservedTicket {
                for (node, answer) in try ControlEnvelope.answers(reply.body, of: ControlEnvelope.ActiveTask.self) {
                    reserved[try Self.nodeName(node)] = try Self.activeTasks(answer, node: node, now: now, question: "reserved")
                }
            } else if reply.ticket == queuesTicket {
                for (node, answer) in try ControlEnvelope.answers(reply.body, of: ControlEnvelope.ConsumedQueue.self) {
                    queues[try Self.nodeName(node)] = try Self.queueNames(answer, node: node)
                }
            } else {
                for node in try ControlEnvelope.answers(reply.body, of: ControlEnvelope.Anything.self).keys { _ = try Self.nodeName(node) }
            }
        }
        let answered = Set(active.keys).intersection(queues.keys).intersection(reserved.keys).sorted()
        return (answered.map { CeleryNode(name: $0, queues: queues[$0] ?? [], active: active[$0] ?? [], reserved: reserved[$0] ?? []) }, bytes)
    }

    private static func nodeName(_ node: String) throws(UntrustedReply) -> String {
        try printable(node, "a node name", allowEmpty: false)
    }

    /// `active`'s (or `reserved`'s) answer of one node: the tasks its processes execute (or
    /// that it prefetched), in the same shape.
    static func activeTasks(
        _ answer: ControlEnvelope.Answer<ControlEnvelope.ActiveTask>, node: String, now: Instant, question: String = "active"
    ) throws(UntrustedReply) -> [CeleryActiveTask] {
        let entries = try list(answer, node: node, question: question)
        guard entries.count <= activeLimit else { throw UntrustedReply("\(node) lists \(entries.count) \(question) tasks; not trusted") }
        return try entries.map { (task: ControlEnvelope.ActiveTask) throws(UntrustedReply) -> CeleryActiveTask in
            guard task.isObject, let id = task.id, !id.isEmpty else { throw UntrustedReply("\(node): an \(question) task without an id") }
            // Celery records time.time() at the start; a time from another clock is not shown.
            let started = task.timeStart.flatMap { try? PlausibleTime.check(Instant(secondsSinceEpoch: $0), "time_start", now: now) }
            return CeleryActiveTask(
                id: try printable(id, "a task id"), name: try task.name.map { (name: String) throws(UntrustedReply) in try printable(name, "a task name") },
                queue: try task.routingKey.map { (key: String) throws(UntrustedReply) in try printable(key, "a routing key") }, startedAt: started,
                workerPID: task.workerPID.flatMap { Int(exactly: $0) })
        }
    }

    /// `active_queues`' answer of one node: the names of the queues it consumes.
    static func queueNames(_ answer: ControlEnvelope.Answer<ControlEnvelope.ConsumedQueue>, node: String) throws(UntrustedReply) -> [String] {
        try list(answer, node: node, question: "active_queues").map { (queue: ControlEnvelope.ConsumedQueue) throws(UntrustedReply) -> String in
            guard let name = queue.name else { throw UntrustedReply("\(node): a consumed queue without a name") }
            return try printable(name, "a queue name")
        }
    }

    private static func list<Element>(_ answer: ControlEnvelope.Answer<Element>, node: String, question: String) throws(UntrustedReply) -> [Element] {
        switch answer {
        case .list(let elements): return elements
        case .error(let text): throw UntrustedReply("\(node) answered `\(question)` with an error: \(PlausibleTime.printable(text))")
        case .other: throw UntrustedReply("\(node) answered `\(question)` with something that is not a list")
        }
    }

    /// Names and ids from the replies go into logs and terminals: printable, of a sane length.
    static func printable(_ text: String, _ what: String, allowEmpty: Bool = true) throws(UntrustedReply) -> String {
        guard allowEmpty || !text.isEmpty, text.count <= 255, text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f }) else {
            throw UntrustedReply("a pidbox reply with \(what) that is not printable: \(PlausibleTime.printable(text.debugDescription))")
        }
        return text
    }
}
