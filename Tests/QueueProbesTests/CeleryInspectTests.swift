import AutoscalerCore
import Foundation
import IntegrationSupport
import QueueProbes
import RedisClient
import Synchronization
import SystemClock
import TestSupport
import Testing

/// The Celery remote-control round against real Celery worker nodes on a real redis-server:
/// Celery 5 (the test venv) and Celery 4.3 with kombu 4.6.3 (Redash v8's pins, on Python 3.7).
@Suite("Celery activity: inspect active against real Celery workers", .testThreads, .serialized)
struct CeleryInspectTests {
    enum Version: String, CaseIterable, CustomTestStringConvertible {
        case celery4 = "Celery 4.3 (Redash v8)"
        case celery5 = "Celery 5.3"
        var python: String { get throws { self == .celery4 ? try Repository.pythonCelery4 : Repository.python } }
        var testDescription: String { rawValue }
    }

    /// Rounds that every node should answer get 5 s: on a loaded machine a node (a Python
    /// process) can take more than the production default of 1 s to answer, which is a slow
    /// machine, not a finding. The silent-node test asks with 1 s.
    static let request = CeleryInspectRequest(replyTimeout: .seconds(5))
    static let shortRequest = CeleryInspectRequest(replyTimeout: .seconds(1))

    /// A Celery worker node; ready once its pidbox answers a round.
    static func node(_ redis: RedisServer, host: String, queues: String, concurrency: Int = 2, version: Version) throws -> ManagedProcess {
        try backgroundFixture(["celery-worker", redis.url, queues, host, "--concurrency", String(concurrency)], python: try version.python)
    }

    /// Probes until `condition` holds for a round (workers take a few seconds to start).
    static func probe(
        _ prober: QueueProber, queues: [String], timeout: Double = 30, until condition: (ProbeReport) async -> Bool
    ) async -> ProbeReport {
        var last: ProbeReport?
        _ = await eventually(timeout: timeout, interval: 0.3) {
            let report = await prober.probe(queues: queues, scheduler: nil, activity: Self.request, now: WallClock.now())
            last = report
            return await condition(report)
        }
        return last!
    }

    /// The tasks running now, as they record themselves: id → `node|queue`.
    static func running(_ redis: RedisServer) async throws -> [String: String] {
        let lines = try await redis.cli(["HGETALL", "truth:running"]).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var result: [String: String] = [:]
        var index = 0
        while index + 1 < lines.count {
            result[lines[index]] = lines[index + 1]
            index += 2
        }
        return result
    }

    /// No key of a round is left behind: the binding member and the reply list are gone.
    static func expectNoLeftovers(_ redis: RedisServer) async throws {
        let members = try await redis.cli(["SMEMBERS", "_kombu.binding.reply.celery.pidbox"])
        #expect(!members.contains("redash-autoscaler."), "a binding of ours was left: \(members)")
        let lists = try await redis.cli(["KEYS", "redash-autoscaler.*"])
        #expect(lists.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "a reply list was left: \(lists)")
    }

    @Test("running tasks per queue and busy processes per node equal the tasks sent; nothing is left in Redis", arguments: Version.allCases)
    func countsEqualTheTruth(_ version: Version) async throws {
        let redis = try await RedisServer.start()
        let first = try Self.node(redis, host: "ip-10-0-1-23", queues: "queries", version: version)
        let second = try Self.node(redis, host: "ip-10-0-1-24", queues: "queries,scheduled_queries", version: version)
        defer { first.stop(); second.stop() }
        let (client, prober) = try makeProber(redis.url, layout: .celery)
        defer { Task { await client.close() } }
        let idle = await Self.probe(prober, queues: ["queries", "scheduled_queries"]) { $0.celery?.nodes.count == 2 && $0.celery?.isComplete == true }
        #expect(idle.celery?.isComplete == true, "\(String(describing: idle.celery)) \(first.output) \(second.output)")
        #expect(idle.observation("queries")?.running == 0, "two idle nodes: nothing runs")
        let idleWorkers = try #require(idle.busyAwareWorkers(on: ["queries"], runningTasks: 2), "known")
        #expect(idleWorkers.count == 2 && !idleWorkers.contains(where: \.isBusy), "both nodes known, none busy: \(idleWorkers)")

        let sentAt = WallClock.now()
        let sent = try await fixture(["celery-send", redis.url, "queries", "3", "--sleep", "60"], python: try version.python)
        let scheduled = try await fixture(["celery-send", redis.url, "scheduled_queries", "1", "--sleep", "60"], python: try version.python)
        let ids = Set(((sent["ids"] as? [String]) ?? []) + ((scheduled["ids"] as? [String]) ?? []))
        #expect(ids.count == 4)
        // The truth: each task records its node and queue in Redis while it runs. Where Celery's
        // prefetch puts them is up to Celery; the probe must see exactly what runs where.
        var truth: [String: String] = [:]
        let busy = await Self.probe(prober, queues: ["queries", "scheduled_queries"]) { report in
            let before = (try? await Self.running(redis)) ?? [:]
            guard before.count >= 3, let activity = report.celery else { return false }
            var seen: [String: String] = [:]
            for node in activity.nodes { for task in node.active { seen[task.id] = "\(node.name)|\(task.queue ?? "")" } }
            let after = (try? await Self.running(redis)) ?? [:]
            truth = after
            return before == after && seen == after
        }
        let activity = try #require(busy.celery)
        #expect(activity.isComplete && activity.reached == 2, "\(activity)")
        #expect(truth.count >= 3 && Set(truth.keys).isSubset(of: ids), "\(truth)")
        let truthPerQueue = Dictionary(grouping: truth.values, by: { $0.split(separator: "|").last.map(String.init) ?? "" }).mapValues(\.count)
        #expect(busy.observation("queries")?.running == truthPerQueue["queries"], "\(activity)")
        #expect(busy.observation("scheduled_queries")?.running == (truthPerQueue["scheduled_queries"] ?? 0), "\(activity)")
        let truthPerNode = Dictionary(grouping: truth.values, by: { $0.split(separator: "|").first.map(String.init) ?? "" }).mapValues(\.count)
        #expect(Dictionary(uniqueKeysWithValues: activity.nodes.map { ($0.name, $0.active.count) }).filter { $0.value > 0 } == truthPerNode)
        #expect(activity.nodes.first { $0.name == "celery@ip-10-0-1-24" }?.queues.sorted() == ["queries", "scheduled_queries"])
        for task in activity.nodes.flatMap(\.active) {
            #expect(task.name == "redash.tasks.execute_query")
            let started = try #require(task.startedAt, "time_start is wall-clock time in this Celery")
            #expect(started >= sentAt - .seconds(1) && started <= busy.observedAt + .seconds(1), "\(started) vs sent \(sentAt)")
        }
        // Protection follows the node: the scheduled query on the second node makes it busy too.
        let workers = try #require(busy.busyAwareWorkers(on: ["queries"], runningTasks: 2))
        #expect(workers.filter(\.isBusy).count == truth.count, "\(workers)")
        let mapping = WorkerTaskMapping.map(
            workers: workers, tasks: [TaskAddress(id: "a", privateIP: "10.0.1.23"), TaskAddress(id: "b", privateIP: "10.0.1.24")])
        let expected = Dictionary(grouping: truth.values, by: { $0.hasPrefix("celery@ip-10-0-1-23") ? "a" : "b" }).mapValues(\.count)
        #expect(mapping.unmappedBusy == 0 && mapping.busyWorkers == expected, "\(mapping) vs \(truth)")
        let tasks = [TaskSnapshot(id: "a", privateIP: "10.0.1.23", phase: .running), TaskSnapshot(id: "b", privateIP: "10.0.1.24", phase: .running)]
        #expect(busy.busyAwareWorkers(on: ["queries"], runningTasks: 2, tasks: tasks) != nil, "every running task has its node")
        #expect(busy.busyAwareWorkers(on: ["queries"], runningTasks: 2, tasks: tasks + [TaskSnapshot(id: "c", privateIP: "10.0.1.25", phase: .running)]) == nil,
                "a running task whose node did not answer: not judged")
        #expect(busy.busyAwareWorkers(on: ["queries"], runningTasks: 3) == nil, "three running tasks, two nodes answer: a silent task could run a query")
        #expect(activity.elapsed < Self.request.replyTimeout, "every node answered: the round does not wait out the timeout (\(activity.elapsed))")
        try await Self.expectNoLeftovers(redis)
    }

    @Test("a node killed mid-task disappears from the replies, and the running count follows", arguments: Version.allCases)
    func killedNodeDisappears(_ version: Version) async throws {
        let redis = try await RedisServer.start()
        let first = try Self.node(redis, host: "ip-10-0-1-23", queues: "queries", concurrency: 1, version: version)
        let second = try Self.node(redis, host: "ip-10-0-1-24", queues: "queries", concurrency: 1, version: version)
        defer { first.stop(); second.stop() }
        let (client, prober) = try makeProber(redis.url, layout: .celery)
        defer { Task { await client.close() } }
        _ = await Self.probe(prober, queues: ["queries"]) { $0.celery?.nodes.count == 2 }
        try await fixture(["celery-send", redis.url, "queries", "2", "--sleep", "60"], python: try version.python)
        let before = await Self.probe(prober, queues: ["queries"]) { $0.observation("queries")?.running == 2 }
        #expect(before.observation("queries")?.running == 2)

        // SIGKILL to the node and its pool: the task (acknowledged when it started) is lost.
        let victim = try #require(before.celery?.nodes.first { $0.name == "celery@ip-10-0-1-24" })
        #expect(victim.active.count == 1)
        kill(-second.pid, SIGKILL)
        let after = await Self.probe(prober, queues: ["queries"]) { $0.celery?.reached == 1 }
        let activity = try #require(after.celery)
        #expect(activity.reached == 1 && activity.isComplete, "\(activity)")
        #expect(activity.nodes.map(\.name) == ["celery@ip-10-0-1-23"])
        #expect(after.observation("queries")?.running == 1)
        #expect(!activity.nodes.flatMap(\.active).contains { $0.id == victim.active[0].id })
        try await Self.expectNoLeftovers(redis)
    }

    @Test("a node that does not answer makes the round unknown, never zero; it waits the reply timeout and no longer", arguments: Version.allCases)
    func silentNodeIsUnknown(_ version: Version) async throws {
        let redis = try await RedisServer.start()
        let first = try Self.node(redis, host: "ip-10-0-1-23", queues: "queries", concurrency: 1, version: version)
        let second = try Self.node(redis, host: "ip-10-0-1-24", queues: "queries", concurrency: 1, version: version)
        defer { kill(-second.pid, SIGCONT); first.stop(); second.stop() }
        let (client, prober) = try makeProber(redis.url, layout: .celery)
        defer { Task { await client.close() } }
        _ = await Self.probe(prober, queues: ["queries"]) { $0.celery?.nodes.count == 2 }
        try await fixture(["celery-send", redis.url, "queries", "1", "--sleep", "60"], python: try version.python)
        _ = await Self.probe(prober, queues: ["queries"]) { $0.observation("queries")?.running == 1 }

        kill(-second.pid, SIGSTOP)
        let started = ContinuousClock.now
        let report = await prober.probe(queues: ["queries"], scheduler: nil, activity: Self.shortRequest, now: WallClock.now())
        let took = ContinuousClock.now - started
        let activity = try #require(report.celery)
        #expect(activity.reached == 2 && activity.nodes.count == 1 && !activity.isComplete, "\(activity)")
        #expect(activity.problem?.contains("1 of 2 Celery node(s) did not answer") == true, "\(String(describing: activity.problem))")
        #expect(report.observation("queries")?.running == nil, "unknown, not the one task the answering node runs")
        #expect(report.observation("queries")?.pending == 0, "the queue itself is still read")
        #expect(report.busyAwareWorkers(on: ["queries"], runningTasks: 2) == nil)
        // At least the 1 s timeout; the upper bound only catches a round that never ends (a
        // loaded machine adds seconds to "no longer"; the exact cut is CeleryGarbledTests').
        #expect(took >= .milliseconds(950) && took < .seconds(10), "waits the 1 s timeout: \(took)")
        #expect(report.notes.contains { $0.contains("running tasks unknown") })

        // Woken, the node answers into a reply queue that is no longer bound (kombu drops it);
        // the next round is whole again, and nothing is left behind.
        kill(-second.pid, SIGCONT)
        let back = await Self.probe(prober, queues: ["queries"]) { $0.celery?.isComplete == true }
        #expect(back.celery?.nodes.count == 2)
        #expect(back.observation("queries")?.running == 1)
        try await Self.expectNoLeftovers(redis)
    }

    @Test("a broadcast that reaches no node knows nothing: running unknown, not zero")
    func noWorkers() async throws {
        let redis = try await RedisServer.start()
        try await fixture(["celery-send", redis.url, "queries", "1"])
        let clock = ManualClock()
        let client = RedisClient(endpoint: try RedisEndpoint(url: redis.url), logger: quietLogger)
        let prober = QueueProber(client: client, layout: .celery, clock: clock, logger: quietLogger)
        defer { Task { await client.close() } }
        // Nobody to wait for: the round returns without sleeping once on its clock (a sleep
        // would park until the test moved the clock).
        let done = Mutex(false)
        let probing = Task {
            let report = await prober.probe(queues: ["queries"], scheduler: nil, activity: Self.request, now: WallClock.now())
            done.withLock { $0 = true }
            return report
        }
        var slept = false
        while !slept, !done.withLock({ $0 }) {
            slept = clock.sleeping > 0
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(!slept, "a round that reached no node waited")
        if slept { clock.advance(by: .seconds(10)) }
        let report = await probing.value
        let activity = try #require(report.celery)
        #expect(activity.reached == 0 && !activity.isComplete)
        #expect(activity.problem?.contains("reached no Celery node") == true, "\(String(describing: activity.problem))")
        #expect(report.observation("queries")?.pending == 1)
        #expect(report.observation("queries")?.running == nil)
        #expect(report.busyAwareWorkers(on: ["queries"], runningTasks: 0) == nil)
        try await Self.expectNoLeftovers(redis)
    }
}
