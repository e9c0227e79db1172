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
/// The broadcast carries an `expires` header at the timeout, so a node that wakes later drops it
/// instead of answering into nothing. Writes: one set member and one list, both removed within
/// the round; a round cut short by a crash leaves them, and a later round removes members of
/// ours older than a minute.
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
            return CeleryActiveTask(
                id: id, name: task["name"] as? String, queue: delivery?["routing_key"] as? String, startedAt: started,
                workerPID: (task["worker_pid"] as? NSNumber).map(\.intValue))
        }
    }

    /// `active_queues`' answer of one node: the names of the queues it consumes.
    static func queueNames(_ value: Any, node: String) throws(UntrustedReply) -> [String] {
        guard let entries = value as? [Any] else { throw UntrustedReply("\(node) answered `active_queues` with \(describe(value))") }
        return try entries.map { (entry: Any) throws(UntrustedReply) -> String in
            guard let queue = entry as? [String: Any], let name = queue["name"] as? String else {
                throw UntrustedReply("\(node): a consumed queue without a name")
            }
            return name
        }
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
        guard member.hasPrefix(keyPrefix) else { return false }
        let rest = member.dropFirst(keyPrefix.count)
        guard let millis = rest.split(separator: ".", maxSplits: 1).first.flatMap({ Int64($0) }) else { return false }
        return now - Instant(secondsSinceEpoch: Double(millis) / 1000) > staleAfter
    }

    /// The queue a binding member names (after its routing key and pattern).
    static func queue(ofMember member: String) -> String? {
        let parts = member.components(separatedBy: separator)
        return parts.count == 3 ? parts[2] : nil
    }

    /// Runs one round: `sleep` waits between polls (the tick's clock in tests).
    static func inspect(
        pipeline: RedisPipeline, database: Int, timeout: Duration, now: Instant, sweep: Bool, previous: String? = nil,
        ids: @Sendable () -> String = { UUID().uuidString.lowercased() },
        elapsed: @Sendable () -> Duration, sleep: @Sendable (Duration) async throws -> Void
    ) async -> (activity: CeleryActivity, replyQueue: String) {
        let round = Round(now: now, random: ids)
        let counter = Counter()
        let counted: RedisPipeline = { commands in
            counter.add(commands.count)
            return try await pipeline(commands)
        }
        var activity = await inspect(
            round: round, pipeline: counted, database: database, timeout: timeout, now: now, sweep: sweep, previous: previous,
            elapsed: elapsed, sleep: sleep)
        (activity.roundTrips, activity.commands) = counter.totals
        return (activity, round.queue)
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
        round: Round, pipeline: RedisPipeline, database: Int, timeout: Duration, now: Instant, sweep: Bool, previous: String?,
        elapsed: @Sendable () -> Duration, sleep: @Sendable (Duration) async throws -> Void
    ) async -> CeleryActivity {
        let channel = channel(database: database)
        var commands: [[String]] = [
            ["SADD", bindingKey, round.bindingMember],
            ["PUBLISH", channel, broadcast(method: "active", ticket: round.activeTicket, round: round, expires: now + timeout)],
            ["PUBLISH", channel, broadcast(method: "active_queues", ticket: round.queuesTicket, round: round, expires: now + timeout)],
        ]
        if sweep { commands.append(["SSCAN", bindingKey, "0", "MATCH", keyPrefix + "*", "COUNT", "1000"]) }
        // A reply the last round's node pushed just after that round deleted its list.
        if let previous { commands.append(["DEL", previous]) }
        func failed(_ problem: String, reached: Int? = nil) -> CeleryActivity {
            CeleryActivity(reached: reached, nodes: [], problem: problem, elapsed: elapsed(), observedAt: now)
        }
        let reached: Int
        var stale: [String] = []
        do {
            let replies = try await pipeline(commands)
            do throws(UntrustedReply) {
                let active = try replies[1].count("PUBLISH \(channel)")
                let queues = try replies[2].count("PUBLISH \(channel)")
                reached = max(active, queues)
                if sweep, let page = try? replies[3].elements("SSCAN"), page.count == 2, let members = try? page[1].elements("SSCAN members") {
                    stale = members.compactMap { (try? $0.optionalText("member")) ?? nil }.filter { isStaleMember($0, now: now) }
                }
            } catch {
                await cleanUp(pipeline: pipeline, round: round, stale: [])
                return failed(error.message)
            }
        } catch {
            // The binding may or may not be in place: unbind it, on a best effort.
            await cleanUp(pipeline: pipeline, round: round, stale: [])
            return failed("the broadcast was not sent: \((error as? RedisError)?.description ?? "\(error)")")
        }

        while reached > 0 {
            let soFar = elapsed()
            if soFar >= timeout { break }
            do {
                try await sleep(min(soFar < .milliseconds(100) ? .milliseconds(5) : .milliseconds(20), timeout - soFar))
                let count = try await pipeline([["LLEN", round.queue]])[0].count("LLEN \(round.queue)")
                if count >= reached * 2 { break }
            } catch {
                await cleanUp(pipeline: pipeline, round: round, stale: stale)
                return failed("waiting for the replies: \((error as? RedisError)?.description ?? "\(error)")", reached: reached)
            }
        }
        let entries: [RESPValue]
        do {
            let replies = try await pipeline(
                [["LRANGE", round.queue, "0", String(replyLimit - 1)]] + cleanUpCommands(round: round, stale: stale))
            entries = try replies[0].elements("LRANGE \(round.queue)")
        } catch let error as UntrustedReply {
            return failed(error.message, reached: reached)
        } catch {
            return failed("reading the replies: \((error as? RedisError)?.description ?? "\(error)")", reached: reached)
        }
        do throws(UntrustedReply) {
            let (nodes, bytes) = try nodes(from: entries, round: round, now: now)
            var activity = CeleryActivity(reached: reached, nodes: nodes, elapsed: elapsed(), observedAt: now, replyBytes: bytes)
            if nodes.count < reached {
                let missing = reached - nodes.count
                activity.problem = "\(missing) of \(reached) Celery node(s) did not answer within \(timeout.compactDescription)"
            }
            return activity
        } catch {
            return failed(error.message, reached: reached)
        }
    }

    /// Unbinds the round's reply queue, deletes its list, and removes stale bindings of ours.
    static func cleanUpCommands(round: Round, stale: [String]) -> [[String]] {
        var commands = [["SREM", bindingKey, round.bindingMember], ["DEL", round.queue]]
        if !stale.isEmpty {
            commands.append(["SREM", bindingKey] + stale)
            commands += stale.compactMap(queue(ofMember:)).map { ["DEL", $0] }
        }
        return commands
    }

    private static func cleanUp(pipeline: RedisPipeline, round: Round, stale: [String]) async {
        _ = try? await pipeline(cleanUpCommands(round: round, stale: stale))
    }
}
