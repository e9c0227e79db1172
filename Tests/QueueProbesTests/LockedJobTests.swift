import AutoscalerCore
import Foundation
import IntegrationSupport
@testable import QueueProbes
import RedisClient
import SystemClock
import Testing

/// A scheduled query's lock whose job will not run, as the probe reads it from real workers'
/// keys: Redash enqueues nothing for it until the lock expires, so the forecast must count no run.
@Suite("Locks whose job will not run, on real workers", .testThreads)
struct LockedJobTests {
    static let script = Repository.root.appendingPathComponent("Tests/QueueProbesTests/Python/servable_demand.py").path

    static func fixture(_ arguments: [String]) async throws -> (report: [String: Any], groups: [Int32]) {
        let output = try await ManagedProcess.run(Repository.python, [script] + arguments, environment: ["PYTHONPATH": scriptDirectory], timeout: 300)
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw HarnessError("no JSON from the fixture:\n\(output)")
        }
        return (object, ((object["pgids"] as? [Any]) ?? []).compactMap { ($0 as? NSNumber).map { Int32(truncating: $0) } })
    }

    @Test("Redash v8: a scheduled query's task was SIGKILLed with its node; with a live node answering, its lock is blocked by the dead node", arguments: ["4", "5"])
    func celeryDeadNode(version: String) async throws {
        let redis = try await RedisServer.start()
        let (report, groups) = try await Self.fixture(["celery-lock-blocked", "--redis", redis.url, "--version", version, "--fresh-node"])
        defer { for group in groups { kill(-group, SIGKILL) } }
        let lock = try #require(report["lock"] as? String)
        let task = try #require(report["task_id"] as? String)
        let (client, prober) = try makeProber(redis.url, layout: .celery)
        let request = SchedulerStateRequest(dataSources: [1], locks: [lock])
        // Without the round: the task's node cannot be judged, and the lock is not blocked.
        let unjudged = await prober.probe(queues: ["scheduled_queries"], scheduler: request, activity: nil, now: WallClock.now())
        #expect(unjudged.redashScheduler?.locks[lock] == nil, "\(String(describing: unjudged.redashScheduler?.locks))")
        let report2 = await prober.probe(
            queues: ["scheduled_queries"], scheduler: SchedulerStateRequest(dataSources: [1, 2], locks: [lock]),
            // The round ends when the live node answers; 10 s only bounds a node slowed by a loaded machine.
            activity: CeleryInspectRequest(replyTimeout: .seconds(10)), now: WallClock.now())
        #expect(report2.celery?.isComplete == true, "\(String(describing: report2.celery))")
        guard case .blocked(let until, .deadNode(let blockedTask, let node))? = report2.redashScheduler?.locks[lock] else {
            Issue.record("the lock was read as \(String(describing: report2.redashScheduler?.locks[lock]))")
            return
        }
        #expect(blockedTask == task && node == "celery@ip-10-0-1-23")
        // The lock's own expiry (12 h from enqueue).
        #expect(until - WallClock.now() > .seconds(43_000))
        await client.close()
    }

    @Test("Redash v25 with rq 1.16: a scheduled job waits in a queue no live worker listens on; its lock is blocked by that queue")
    func rqUnconsumedQueue() async throws {
        let redis = try await RedisServer.start()
        let (report, groups) = try await Self.fixture(["rq-lock-unconsumed", "--redis", redis.url])
        defer { for group in groups { kill(-group, SIGKILL) } }
        let lock = try #require(report["lock"] as? String)
        let job = try #require(report["job_id"] as? String)
        let (client, prober) = try makeProber(redis.url, layout: .rq)
        let probe = await prober.probe(
            queues: ["scheduled_queries"], scheduler: SchedulerStateRequest(dataSources: [1], locks: [lock]), activity: nil, now: WallClock.now())
        #expect(probe.listeners?.contains { $0.queues == ["scheduled_queries"] } == true, "\(String(describing: probe.listeners))")
        guard case .blocked(_, .unconsumedQueue(let blockedJob, let queue))? = probe.redashScheduler?.locks[lock] else {
            Issue.record("the lock was read as \(String(describing: probe.redashScheduler?.locks[lock]))")
            return
        }
        #expect(blockedJob == job && queue == "bi_scheduled_queries")
        await client.close()
    }
}
