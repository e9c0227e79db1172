import AutoscalerCore
import Foundation
@testable import QueueProbes
import RedisClient
import Synchronization
import Testing
import IntegrationSupport

/// The Celery round against a Redis that answers badly: garbled, foreign or failing replies make
/// the round unknown (never zero running), never crash, and the round still cleans up.
@Suite("Celery activity: garbled and failing replies", .testThreads)
struct CeleryGarbledTests {
    /// A scripted Redis: the queues are empty, `PUBLISH` reaches `reached` nodes, and the reply
    /// list holds what `replies` makes of the broadcasts (method, ticket) it saw.
    final class Script: Sendable {
        struct State {
            var broadcasts: [(method: String, ticket: String)] = []
            var commands: [[String]] = []
        }
        let state = Mutex(State())
        let reached: RESPValue
        let added: RESPValue
        let replies: @Sendable ([(method: String, ticket: String)]) -> [RESPValue]
        let failing: @Sendable ([String]) -> Bool

        init(
            reached: RESPValue, added: RESPValue = .integer(1), failing: @escaping @Sendable ([String]) -> Bool = { _ in false },
            replies: @escaping @Sendable ([(method: String, ticket: String)]) -> [RESPValue]
        ) {
            self.reached = reached
            self.added = added
            self.replies = replies
            self.failing = failing
        }

        var commands: [[String]] { state.withLock { $0.commands } }

        func answer(_ commands: [[String]]) throws -> [RESPValue] {
            if commands.contains(where: failing) { throw RedisError(.connectionClosed, server: "127.0.0.1:6379", "connection reset by peer") }
            return commands.map { command in
                state.withLock { $0.commands.append(command) }
                switch command[0] {
                case "PUBLISH":
                    if let broadcast = Self.decode(command[2]) { state.withLock { $0.broadcasts.append(broadcast) } }
                    return reached
                case "LLEN" where command[1].hasSuffix(".reply.celery.pidbox"):
                    return .integer(replies(state.withLock { $0.broadcasts }).count)
                case "LRANGE": return .array(replies(state.withLock { $0.broadcasts }))
                case "SSCAN": return .array([.bulkString(Array("0".utf8)), .array([])])
                case "SADD": return added
                case "LLEN", "HLEN", "ZCARD", "EXISTS", "SCARD", "SREM", "DEL": return .integer(0)
                case "HVALS": return .array([])
                default: return .null
                }
            }
        }

        static func decode(_ envelope: String) -> (method: String, ticket: String)? {
            guard let object = try? JSONSerialization.jsonObject(with: Data(envelope.utf8)) as? [String: Any],
                  let body = (object["body"] as? String).flatMap({ Data(base64Encoded: $0) }),
                  let message = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
                  let method = message["method"] as? String, let ticket = message["ticket"] as? String else { return nil }
            return (method, ticket)
        }
    }

    /// A reply as a Celery node sends it: the answer base64'd in kombu's envelope.
    static func reply(ticket: String, _ answers: [String: Any], contentType: String = "application/json") -> RESPValue {
        let body = (try? JSONSerialization.data(withJSONObject: answers)) ?? Data()
        let envelope: [String: Any] = [
            "body": body.base64EncodedString(), "content-type": contentType, "content-encoding": "utf-8",
            "headers": ["ticket": ticket], "properties": ["body_encoding": "base64"],
        ]
        return .bulkString(Array(((try? JSONSerialization.data(withJSONObject: envelope)) ?? Data())))
    }

    /// A healthy node's answers to every question, with `active` replaced when given.
    static func healthy(_ broadcasts: [(method: String, ticket: String)], active: Any? = nil) -> [RESPValue] {
        broadcasts.map { broadcast in
            switch broadcast.method {
            case "active":
                reply(ticket: broadcast.ticket, ["celery@ip-10-0-0-1": active ?? [[
                    "id": "job-1", "name": "redash.tasks.execute_query", "time_start": Date().timeIntervalSince1970,
                    "delivery_info": ["routing_key": "queries"], "worker_pid": 7,
                ]]])
            case "reserved": reply(ticket: broadcast.ticket, ["celery@ip-10-0-0-1": [Any]()])
            default: reply(ticket: broadcast.ticket, ["celery@ip-10-0-0-1": [["name": "queries"]]])
            }
        }
    }

    static func probe(_ script: Script, timeout: Duration = .milliseconds(200)) async -> ProbeReport {
        let prober = QueueProber(pipeline: { try script.answer($0) }, redashPipeline: nil, layout: .celery, database: 3, logger: quietLogger)
        return await prober.probe(queues: ["queries"], scheduler: nil, activity: CeleryInspectRequest(replyTimeout: timeout), now: Instant(secondsSinceEpoch: Date().timeIntervalSince1970))
    }

    @Test("a healthy answer: one running task, on the database's own fanout channel, and the round cleans up")
    func healthyAnswer() async {
        let script = Script(reached: .integer(1)) { Self.healthy($0) }
        let report = await Self.probe(script)
        #expect(report.celery?.isComplete == true, "\(String(describing: report.celery))")
        #expect(report.observation("queries")?.running == 1)
        #expect(script.commands.contains { $0.first == "PUBLISH" && $0[1] == "/3.celery.pidbox" }, "kombu's fanout prefix carries the database")
        let added = script.commands.first { $0.first == "SADD" }
        #expect(added?[1] == "_kombu.binding.reply.celery.pidbox")
        #expect(script.commands.contains { $0.first == "SREM" && $0.count == 3 && $0[2] == added?[2] }, "the binding is removed")
        #expect(script.commands.contains { $0.first == "DEL" && $0[1].hasSuffix(".reply.celery.pidbox") }, "the reply list is deleted")
    }

    /// Each garbled variant of the answers, and the words its reason must contain.
    static let garbled: [(String, @Sendable ([(method: String, ticket: String)]) -> [RESPValue], String)] = [
        ("not JSON", { _ in [.bulkString(Array("definitely not kombu".utf8))] }, "not a kombu message"),
        ("pickle", { b in [Self.reply(ticket: b[0].ticket, ["celery@x": []], contentType: "application/x-python-serialize")] }, "not JSON"),
        ("an error from the node", { b in Self.healthy(b, active: ["error": "No such method"]) }, "an error"),
        ("a task without an id", { b in Self.healthy(b, active: [["name": "x"]]) }, "without an id"),
        ("an error reply in the list", { _ in [.error("WRONGTYPE Operation against a key holding the wrong kind of value")] }, "WRONGTYPE"),
        ("a body that is not base64", { b in
            [.bulkString(Array(#"{"body": "%%%", "content-type": "application/json", "headers": {"ticket": "\#(b[0].ticket)"}, "properties": {"body_encoding": "base64"}}"#.utf8))]
        }, "not base64"),
    ]

    @Test("a garbled answer makes the round unknown: running stays unknown, the queue is still read", arguments: 0..<6)
    func garbledAnswer(_ index: Int) async {
        let (name, replies, words) = Self.garbled[index]
        let script = Script(reached: .integer(1), replies: replies)
        let report = await Self.probe(script)
        let activity = report.celery
        #expect(activity?.isComplete == false, "\(name): \(String(describing: activity))")
        #expect(activity?.problem?.contains(words) == true, "\(name): \(String(describing: activity?.problem))")
        #expect(report.observation("queries")?.running == nil, "\(name): unknown, never zero")
        #expect(report.observation("queries")?.pending == 0, "\(name): the queue itself was read")
        #expect(report.busyAwareWorkers(on: ["queries"], runningTasks: 1) == nil)
        #expect(script.commands.contains { $0.first == "SREM" }, "\(name): the binding is removed all the same")
    }

    @Test("answers carrying another round's tickets are not taken: the round knows nothing")
    func foreignTickets() async {
        let script = Script(reached: .integer(1)) { broadcasts in
            Self.healthy(broadcasts.map { ($0.method, "someone-else's-" + $0.ticket) })
        }
        let report = await Self.probe(script)
        #expect(report.celery?.nodes.isEmpty == true && report.celery?.isComplete == false, "\(String(describing: report.celery))")
        #expect(report.observation("queries")?.running == nil)
    }

    @Test("PUBLISH refused or Redis lost mid-round: unknown, no crash, the queue reading unaffected", arguments: ["NOPERM", "LLEN", "LRANGE"])
    func failures(_ where: String) async {
        let script: Script
        switch `where` {
        case "NOPERM": script = Script(reached: .error("NOPERM this user has no permissions to access the channel")) { Self.healthy($0) }
        case "LLEN": script = Script(reached: .integer(1), failing: { $0[0] == "LLEN" && $0[1].hasSuffix(".reply.celery.pidbox") }) { _ in [] }
        default: script = Script(reached: .integer(1), failing: { $0[0] == "LRANGE" }) { Self.healthy($0) }
        }
        let report = await Self.probe(script)
        #expect(report.celery?.isComplete == false, "\(`where`): \(String(describing: report.celery))")
        #expect(report.celery?.problem?.isEmpty == false)
        #expect(report.observation("queries")?.running == nil)
        #expect(report.observation("queries")?.pending == 0)
    }

    @Test("the binding refused (NOPERM, OOM): unknown at once with Redis' words, no waiting for replies that cannot come")
    func bindingRefused() async {
        let script = Script(reached: .integer(2), added: .error("OOM command not allowed when used memory > 'maxmemory'.")) { Self.healthy($0) }
        // A round that waited for replies would take its 30 s; the bound tells "at once" from
        // that with room for a loaded machine. The absence of polling below is the exact proof.
        let report = await Self.probe(script, timeout: .seconds(30))
        #expect(report.celery?.isComplete == false)
        #expect(report.celery?.problem?.contains("OOM command not allowed") == true, "\(String(describing: report.celery?.problem))")
        #expect((report.celery?.elapsed ?? .seconds(99)) < .seconds(10))
        #expect(!script.commands.contains { $0.first == "LLEN" && $0[1].hasSuffix(".reply.celery.pidbox") }, "no polling")
        #expect(report.observation("queries")?.running == nil)
    }

    @Test("a node answering one question, more nodes than reached, a name or task id with control characters: not trusted")
    func oddAnswers() async {
        let oneQuestion = Script(reached: .integer(1)) { broadcasts in Array(Self.healthy(broadcasts).prefix(1)) }
        let extra = Script(reached: .integer(1)) { (broadcasts: [(method: String, ticket: String)]) -> [RESPValue] in
            var replies = Self.healthy(broadcasts)
            for broadcast in broadcasts {
                let queues: [[String: Any]] = [["name": "queries"]]
                let answer: Any = broadcast.method == "active_queues" ? queues as Any : [Any]() as Any
                replies.append(Self.reply(ticket: broadcast.ticket, ["celery@ip-10-0-0-2": answer]))
            }
            return replies
        }
        let controlName = Script(reached: .integer(1)) { broadcasts in
            broadcasts.map { Self.reply(ticket: $0.ticket, ["celery@evil\u{1b}[2J": [Any]()]) }
        }
        let controlTaskID = Script(reached: .integer(1)) { broadcasts in
            Self.healthy(broadcasts, active: [["id": "job\u{07}\u{1b}]0;owned", "delivery_info": ["routing_key": "queries"]]])
        }
        let cases: [(String, Script, String)] = [
            ("one question", oneQuestion, "did not answer"), ("extra node", extra, "not trusted"), ("control name", controlName, "not printable"),
            ("control task id", controlTaskID, "a task id that is not printable"),
        ]
        for (name, script, words) in cases {
            let report = await Self.probe(script)
            #expect(report.celery?.isComplete == false, "\(name)")
            #expect(report.celery?.problem?.contains(words) == true, "\(name): \(String(describing: report.celery?.problem))")
            #expect(report.observation("queries")?.running == nil, "\(name)")
        }
    }

    @Test("clean-up: a failed one is tried again next round; the sweep removes only old members of ours, never a foreign key")
    func cleanUp() async {
        let now = Instant(secondsSinceEpoch: 1_800_000_000)
        let old = "redash-autoscaler.1799999000000.abc"
        let young = "redash-autoscaler.1799999990000.def"
        #expect(ReplyBinding.isStaleMember("\(old)\u{06}\u{16}\u{06}\u{16}\(old).reply.celery.pidbox", now: now))
        #expect(!ReplyBinding.isStaleMember("\(young)\u{06}\u{16}\u{06}\u{16}\(young).reply.celery.pidbox", now: now))
        #expect(ReplyBinding.ownQueue(ofMember: "\(old)\u{06}\u{16}\u{06}\u{16}queries") == nil, "a member naming a queue is not ours to delete")
        #expect(ReplyBinding.ownQueue(ofMember: "someone\u{06}\u{16}\u{06}\u{16}someone.reply.celery.pidbox") == nil)
        #expect(!ReplyBinding.isStaleMember("\(old)\u{06}\u{16}\u{06}\u{16}queries", now: now))

        // The final pipeline (LRANGE, SREM, DEL) fails: the next round removes that member again.
        let failing = Mutex(true)
        let script = Script(reached: .integer(1), failing: { command in command[0] == "LRANGE" && failing.withLock { $0 } }) { Self.healthy($0) }
        let prober = QueueProber(pipeline: { try script.answer($0) }, redashPipeline: nil, layout: .celery, logger: quietLogger)
        let request = CeleryInspectRequest(replyTimeout: .milliseconds(200))
        let first = await prober.probe(queues: ["queries"], scheduler: nil, activity: request, now: now)
        #expect(first.celery?.isComplete == false)
        let member = script.commands.first { $0.first == "SADD" }?[2]
        failing.withLock { $0 = false }
        let second = await prober.probe(queues: ["queries"], scheduler: nil, activity: request, now: now + .seconds(5))
        #expect(second.celery?.isComplete == true)
        #expect(script.commands.contains { $0.first == "SREM" && $0.contains(member ?? "?") }, "the failed round's binding is removed at the next")
    }

    @Test("a start time from another clock (monotonic seconds) is not shown as a date, and the task still counts")
    func monotonicStart() async {
        let script = Script(reached: .integer(1)) { broadcasts in
            Self.healthy(broadcasts, active: [["id": "job-1", "time_start": 81_234.5, "delivery_info": ["routing_key": "queries"]]])
        }
        let report = await Self.probe(script)
        #expect(report.observation("queries")?.running == 1)
        #expect(report.celery?.nodes.first?.active.first?.startedAt == nil)
    }

    @Test("a forged node claiming 10,000 running tasks (a pool of 2): the round is not trusted, running stays unknown, no busy worker is mapped")
    func forgedNode() async {
        let script = Script(reached: .integer(1)) { broadcasts in
            let tasks: [[String: Any]] = (0..<10_000).map { ["id": "forged-\($0)", "delivery_info": ["routing_key": "queries"]] }
            return Self.healthy(broadcasts, active: tasks)
        }
        let prober = QueueProber(pipeline: { try script.answer($0) }, redashPipeline: nil, layout: .celery, logger: quietLogger)
        let report = await prober.probe(
            queues: ["queries"], scheduler: nil, activity: CeleryInspectRequest(replyTimeout: .milliseconds(200), poolLimit: 2),
            now: Instant(secondsSinceEpoch: Date().timeIntervalSince1970))
        #expect(report.celery?.isComplete == false)
        #expect(report.celery?.problem?.contains("more than a pool of 2") == true, "\(String(describing: report.celery?.problem))")
        #expect(report.observation("queries")?.running == nil)
        #expect(report.busyAwareWorkers(on: ["queries"], runningTasks: 1) == nil)
    }
}
