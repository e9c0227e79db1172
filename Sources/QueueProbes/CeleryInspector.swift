import AutoscalerCore
import Foundation
import RedisClient

/// Celery's remote control through kombu's Redis transport, as Celery 4 (Redash v7–v8) and 5
/// speak it: the one way to learn which tasks Celery's workers are executing.
///
/// One round, on the probe's own Redis connection:
/// 1. `SADD _kombu.binding.reply.celery.pidbox` binds a reply queue of ours (`<key>.reply.celery.pidbox`)
///    to the direct exchange the workers answer on, and two `PUBLISH`es on the `celery.pidbox`
///    fanout channel (`/<db>.celery.pidbox`, kombu's fanout prefix) ask `active` and
///    `active_queues`; each `PUBLISH` returns how many worker nodes it reached;
/// 2. the nodes `LPUSH` their replies onto the reply list; it is polled with `LLEN` until every
///    node reached has answered both, or the reply timeout passes (every 5 ms for the first
///    100 ms, every 20 ms after);
/// 3. `LRANGE` reads the replies, `SREM` unbinds the queue and `DEL` deletes the list.
/// The broadcast carries an `expires` header at the timeout (Celery's own callers use it to drop
/// late replies; nodes answer regardless). A node that answers after the round removed its
/// binding finds no reply queue, and kombu drops the reply; one that answers in between
/// recreates the list, and the next round deletes it again. Writes: one set member and one list,
/// both removed within the round; a clean-up that fails is tried again at the next round, and
/// every ten minutes members of ours older than a minute (a controller killed mid-round) are
/// removed with their lists.
enum CeleryInspector {
    static let bindingKey = "_kombu.binding.reply.celery.pidbox"
    static let replyExchange = "reply.celery.pidbox"
    /// kombu's separator between a binding's routing key, pattern and queue.
    static let separator = "\u{06}\u{16}"
    /// Our reply routing keys start with this, then the round's start in milliseconds.
    static let keyPrefix = "redash-autoscaler."
    /// Replies read at the most: two per node, and a Redash fleet has far fewer nodes.
    static let replyLimit = 2_000
    /// Stale bindings of ours: older than this, a round that never finished left them.
    static let staleAfter: Duration = .seconds(60)

    /// The names of one round's keys.
    struct Round: Hashable {
        var routingKey: String
        var activeTicket: String
        var queuesTicket: String
        var queue: String { routingKey + "." + CeleryInspector.replyExchange }
        var bindingMember: String { routingKey + CeleryInspector.separator + CeleryInspector.separator + queue }

        init(now: Instant, random: () -> String) {
            routingKey = CeleryInspector.keyPrefix + String(Int64(now.secondsSinceEpoch * 1000)) + "." + random()
            activeTicket = random()
            queuesTicket = random()
        }
    }

    /// The `celery.pidbox` fanout channel of Redis database `database`.
    static func channel(database: Int) -> String { "/\(database).celery.pidbox" }

    /// A broadcast of `method` to every node, in kombu's Redis envelope (a base64 JSON body).
    static func broadcast(method: String, ticket: String, round: Round, expires: Instant) -> String {
        let body: [String: Any] = [
            "method": method, "arguments": [String: Any](), "destination": NSNull(), "pattern": NSNull(), "matcher": NSNull(),
            "ticket": ticket, "reply_to": ["exchange": replyExchange, "routing_key": round.routingKey],
        ]
        let envelope: [String: Any] = [
            "body": json(body).base64EncodedString(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": ["expires": expires.secondsSinceEpoch],
            "properties": [
                "delivery_mode": 2, "delivery_info": ["exchange": "celery.pidbox", "routing_key": ""], "priority": 0,
                "body_encoding": "base64", "delivery_tag": ticket,
            ],
        ]
        return String(decoding: json(envelope), as: UTF8.self)
    }

    private static func json(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    }

    /// One reply: which question it answers, and per node the answer's JSON value.
    struct Reply {
        var ticket: String
        var answers: [String: Any]
    }

    /// Reads one reply envelope; a reply that is not Celery's JSON is an error.
    static func reply(_ text: String) throws(UntrustedReply) -> Reply {
        guard let envelope = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw UntrustedReply("a pidbox reply is not a kombu message")
        }
        let contentType = envelope["content-type"] as? String ?? ""
        guard contentType == "application/json" else {
            throw UntrustedReply("a pidbox reply is \(PlausibleTime.printable(contentType)), not JSON (Redash's Celery accepts JSON only)")
        }
        guard let headers = envelope["headers"] as? [String: Any], let ticket = headers["ticket"] as? String else {
            throw UntrustedReply("a pidbox reply without a ticket")
        }
        guard let bodyText = envelope["body"] as? String else { throw UntrustedReply("a pidbox reply without a body") }
        let properties = envelope["properties"] as? [String: Any] ?? [:]
        let body: Data
        if (properties["body_encoding"] as? String) == "base64" {
            guard let decoded = Data(base64Encoded: bodyText) else { throw UntrustedReply("a pidbox reply's body is not base64") }
            body = decoded
        } else {
            body = Data(bodyText.utf8)
        }
        guard let answers = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw UntrustedReply("a pidbox reply's body is not a JSON object")
        }
        return Reply(ticket: ticket, answers: answers)
    }

    /// `active`'s answer of one node: the tasks its processes execute.
    static func activeTasks(_ value: Any, node: String, now: Instant) throws(UntrustedReply) -> [CeleryActiveTask] {
        guard let entries = value as? [Any] else { throw UntrustedReply("\(node) answered `active` with \(describe(value))") }
        guard entries.count <= 10_000 else { throw UntrustedReply("\(node) lists \(entries.count) active tasks; not trusted") }
        return try entries.map { (entry: Any) throws(UntrustedReply) -> CeleryActiveTask in
            guard let task = entry as? [String: Any], let id = task["id"] as? String, !id.isEmpty else {
                throw UntrustedReply("\(node): an active task without an id")
            }
            let delivery = task["delivery_info"] as? [String: Any]
            var started: Instant?
            if let number = task["time_start"] as? NSNumber, !(task["time_start"] is Bool) {
                // Celery records time.time() at the start; a time from another clock is not shown.
                started = try? PlausibleTime.check(Instant(secondsSinceEpoch: number.doubleValue), "time_start", now: now)
            }
            var name: String?, queue: String?
            if let text = task["name"] as? String { name = try printable(text, "a task name") }
            if let text = delivery?["routing_key"] as? String { queue = try printable(text, "a routing key") }
            return CeleryActiveTask(
                id: try printable(id, "a task id"), name: name, queue: queue, startedAt: started,
                workerPID: (task["worker_pid"] as? NSNumber).flatMap { Int(exactly: $0.doubleValue) })
        }
    }

    /// `active_queues`' answer of one node: the names of the queues it consumes.
    static func queueNames(_ value: Any, node: String) throws(UntrustedReply) -> [String] {
        guard let entries = value as? [Any] else { throw UntrustedReply("\(node) answered `active_queues` with \(describe(value))") }
        return try entries.map { (entry: Any) throws(UntrustedReply) -> String in
            guard let queue = entry as? [String: Any], let name = queue["name"] as? String else {
                throw UntrustedReply("\(node): a consumed queue without a name")
            }
            return try printable(name, "a queue name")
        }
    }

    /// Names and ids from the replies go into logs and terminals: printable, of a sane length.
    static func printable(_ text: String, _ what: String, allowEmpty: Bool = true) throws(UntrustedReply) -> String {
        guard allowEmpty || !text.isEmpty, text.count <= 255, text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f }) else {
            throw UntrustedReply("a pidbox reply with \(what) that is not printable: \(PlausibleTime.printable(text.debugDescription))")
        }
        return text
    }

    private static func describe(_ value: Any) -> String {
        if let object = value as? [String: Any], let error = object["error"] { return "an error: \(PlausibleTime.printable("\(error)"))" }
        return "something that is not a list"
    }

    /// The nodes that answered both questions of `round`, from the reply list's entries. Replies
    /// to other rounds are skipped; a garbled reply makes the round untrusted.
    static func nodes(from entries: [RESPValue], round: Round, now: Instant) throws(UntrustedReply) -> (nodes: [CeleryNode], bytes: Int) {
        var active: [String: [CeleryActiveTask]] = [:]
        var queues: [String: [String]] = [:]
        var bytes = 0
        for entry in entries {
            guard let text = try entry.optionalText("pidbox reply") else { continue }
            bytes += text.utf8.count
            let reply = try reply(text)
            for (node, value) in reply.answers {
                _ = try printable(node, "a node name", allowEmpty: false)
                if reply.ticket == round.activeTicket {
                    active[node] = try activeTasks(value, node: node, now: now)
                } else if reply.ticket == round.queuesTicket {
                    queues[node] = try queueNames(value, node: node)
                }
            }
        }
        let answered = Set(active.keys).intersection(queues.keys).sorted()
        return (answered.map { CeleryNode(name: $0, queues: queues[$0] ?? [], active: active[$0] ?? []) }, bytes)
    }

    /// Whether a binding member is ours and older than `staleAfter` at `now`.
    static func isStaleMember(_ member: String, now: Instant) -> Bool {
        guard ownQueue(ofMember: member) != nil else { return false }
        let rest = member.dropFirst(keyPrefix.count)
        guard let millis = rest.split(separator: ".", maxSplits: 1).first.flatMap({ Int64($0) }) else { return false }
        return now - Instant(secondsSinceEpoch: Double(millis) / 1000) > staleAfter
    }

    /// The reply list a binding member of ours names: only when it has our shape (our prefix,
    /// no pattern, the list named after the routing key), so that a foreign or garbled member
    /// never makes us delete another key (such as a queue).
    static func ownQueue(ofMember member: String) -> String? {
        let parts = member.components(separatedBy: separator)
        guard parts.count == 3, parts[0].hasPrefix(keyPrefix), parts[1].isEmpty, parts[2] == parts[0] + "." + replyExchange else { return nil }
        return parts[2]
    }

    /// Runs one round: `sleep` waits between polls. `leftovers` are binding members of earlier
    /// rounds to remove again (their lists too): the last round's, in case a reply landed after
    /// its clean-up, and any whose clean-up failed. The result says which to carry to the next.
    static func inspect(
        pipeline: RedisPipeline, database: Int, timeout: Duration, now: Instant, sweep: Bool, leftovers: [String] = [],
        ids: @Sendable () -> String = { UUID().uuidString.lowercased() },
        elapsed: @Sendable () -> Duration, sleep: @Sendable (Duration) async throws -> Void
    ) async -> (activity: CeleryActivity, leftovers: [String]) {
        let round = Round(now: now, random: ids)
        let counter = Counter()
        let counted: RedisPipeline = { commands in
            counter.add(commands.count)
            return try await pipeline(commands)
        }
        var (activity, carried) = await inspect(
            round: round, pipeline: counted, database: database, timeout: timeout, now: now, leftovers: leftovers,
            elapsed: elapsed, sleep: sleep)
        if sweep { await sweepStale(pipeline: counted, now: now) }
        (activity.roundTrips, activity.commands) = counter.totals
        return (activity, carried)
    }

    /// Round trips and commands sent, counted as they go.
    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var trips = 0
        private var commands = 0
        func add(_ count: Int) { lock.withLock { trips += 1; commands += count } }
        var totals: (Int, Int) { lock.withLock { (trips, commands) } }
    }

    private static func inspect(
        round: Round, pipeline: RedisPipeline, database: Int, timeout: Duration, now: Instant, leftovers: [String],
        elapsed: @Sendable () -> Duration, sleep: @Sendable (Duration) async throws -> Void
    ) async -> (CeleryActivity, [String]) {
        let channel = channel(database: database)
        // Earlier rounds' members and lists go first: removing them again is harmless.
        let earlier = removalCommands(leftovers)
        let commands: [[String]] = earlier + [
            ["SADD", bindingKey, round.bindingMember],
            ["PUBLISH", channel, broadcast(method: "active", ticket: round.activeTicket, round: round, expires: now + timeout)],
            ["PUBLISH", channel, broadcast(method: "active_queues", ticket: round.queuesTicket, round: round, expires: now + timeout)],
        ]
        func failed(_ problem: String, reached: Int? = nil) -> CeleryActivity {
            CeleryActivity(reached: reached, nodes: [], problem: problem, elapsed: elapsed(), observedAt: now)
        }
        // Until its clean-up is confirmed, this round's member is carried to the next round.
        let carried = [round.bindingMember]
        let reached: Int
        do {
            let replies = Array(try await pipeline(commands).dropFirst(earlier.count))
            do throws(UntrustedReply) {
                // Without the binding kombu drops the replies: no use waiting for them.
                _ = try replies[0].count("SADD \(bindingKey)")
                let active = try replies[1].count("PUBLISH \(channel)")
                let queues = try replies[2].count("PUBLISH \(channel)")
                reached = max(active, queues)
            } catch {
                return (failed(error.message), await cleanUp(pipeline: pipeline, carried))
            }
        } catch {
            // The binding may or may not be in place: unbind it, on a best effort.
            let reason = "the broadcast was not sent: \((error as? RedisError)?.description ?? "\(error)")"
            return (failed(reason), leftovers + (await cleanUp(pipeline: pipeline, carried)))
        }

        while reached > 0 {
            let soFar = elapsed()
            if soFar >= timeout { break }
            do {
                try await sleep(min(soFar < .milliseconds(100) ? .milliseconds(5) : .milliseconds(20), timeout - soFar))
                let count = try await pipeline([["LLEN", round.queue]])[0].count("LLEN \(round.queue)")
                if count >= reached * 2 { break }
            } catch {
                let reason = "waiting for the replies: \((error as? RedisError)?.description ?? "\(error)")"
                return (failed(reason, reached: reached), await cleanUp(pipeline: pipeline, carried))
            }
        }
        let entries: [RESPValue]
        do {
            let replies = try await pipeline([["LRANGE", round.queue, "0", String(replyLimit - 1)]] + removalCommands(carried))
            entries = try replies[0].elements("LRANGE \(round.queue)")
        } catch let error as UntrustedReply {
            return (failed(error.message, reached: reached), carried)
        } catch {
            let reason = "reading the replies: \((error as? RedisError)?.description ?? "\(error)")"
            return (failed(reason, reached: reached), await cleanUp(pipeline: pipeline, carried))
        }
        do throws(UntrustedReply) {
            guard reached > 0 else {
                return (failed("the broadcast reached no Celery node: none is subscribed to remote control on this Redis and database", reached: 0), carried)
            }
            let (nodes, bytes) = try nodes(from: entries, round: round, now: now)
            var activity = CeleryActivity(reached: reached, nodes: nodes, elapsed: elapsed(), observedAt: now, replyBytes: bytes)
            if nodes.count < reached {
                activity.problem = "\(reached - nodes.count) of \(reached) Celery node(s) did not answer within \(timeout.compactDescription)"
            } else if nodes.count > reached {
                activity.problem = "\(nodes.count) Celery nodes answered a broadcast that reached \(reached); not trusted"
            }
            return (activity, carried)
        } catch {
            return (failed(error.message, reached: reached), carried)
        }
    }

    /// Removes binding members of ours and the reply lists they name.
    static func removalCommands(_ members: [String]) -> [[String]] {
        guard !members.isEmpty else { return [] }
        return [["SREM", bindingKey] + members] + members.compactMap(ownQueue(ofMember:)).map { ["DEL", $0] }
    }

    /// Removes `members` now; returns those that could not be removed, for the next round.
    private static func cleanUp(pipeline: RedisPipeline, _ members: [String]) async -> [String] {
        (try? await pipeline(removalCommands(members))) == nil ? members : []
    }

    /// Bindings of ours that a round cut short left (a controller killed mid-round): members
    /// older than `staleAfter`, read a page at a time (at most ten), removed with their lists.
    private static func sweepStale(pipeline: RedisPipeline, now: Instant) async {
        var cursor = "0"
        for _ in 0..<10 {
            guard let replies = try? await pipeline([["SSCAN", bindingKey, cursor, "MATCH", keyPrefix + "*", "COUNT", "1000"]]),
                  let page = try? replies[0].elements("SSCAN"), page.count == 2,
                  let next = (try? page[0].optionalText("SSCAN cursor")) ?? nil,
                  let members = try? page[1].elements("SSCAN members") else { return }
            let stale = members.compactMap { (try? $0.optionalText("member")) ?? nil }.filter { isStaleMember($0, now: now) }
            if !stale.isEmpty { _ = try? await pipeline(removalCommands(stale)) }
            cursor = next
            if cursor == "0" { return }
        }
    }
}
