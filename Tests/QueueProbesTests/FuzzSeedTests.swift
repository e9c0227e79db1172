import AutoscalerCore
import Foundation
import FuzzHarness
import IntegrationSupport
import QueueProbes
import RedisClient
import SystemClock
import Testing

/// The probe fuzzer's seeds are real answers: each scenario here sets up redis-server with the
/// real rq and celery libraries, probes it through a recording pipeline, and checks that
/// replaying the recording through the fuzz harness makes the same reports (so the harness runs
/// the probe as production does) and keeps the harness' promises.
///
/// `FUZZ_RECORD_CORPUS=$PWD/Fuzz/Corpus swift test --filter FuzzSeedTests` also writes each
/// recording as a seed of `probe-replies` and its byte stream as one of `resp-decoding`.
@Suite("Fuzz seeds: probes of redis-server, recorded and replayed", .testThreads)
struct FuzzSeedTests {
    /// What a replay must reproduce of a report.
    struct Facts: Equatable {
        var system: QueueSystem?
        var layoutSource: String
        var readings: [String: QueueReading]
        var workers: [String: [WorkerRecord]]
        var scheduler: SchedulerHealth?
        var redashScheduler: RedashSchedulerState?
        var redashSchedulerProblem: String?
        var notes: [String]
        var knownQueues: KnownQueues?
        var abandonedJobs: [String: Int]
        var roundTrips: Int
        var celeryNodes: [CeleryNode]?
        var celeryReached: Int?

        init(_ report: ProbeReport) {
            (celeryNodes, celeryReached) = (report.celery?.nodes, report.celery?.reached)
            (system, layoutSource, readings, workers) = (report.system, report.layoutSource, report.readings, report.workers)
            (scheduler, redashScheduler, redashSchedulerProblem) = (report.scheduler, report.redashScheduler, report.redashSchedulerProblem)
            (notes, knownQueues, abandonedJobs, roundTrips) = (report.notes, report.knownQueues, report.abandonedJobs, report.roundTrips)
        }
    }

    /// Records `scenario` against `redis` (and `redash`), replays it, and writes the seeds when asked.
    func recordAndReplay(
        _ name: String, _ setup: (inout ProbeScenario) -> Void, redis: RedisServer, redash: RedisServer? = nil
    ) async throws -> [ProbeReport] {
        var scenario = ProbeScenario()
        scenario.start = Instant(secondsSinceEpoch: Date().timeIntervalSince1970.rounded())
        setup(&scenario)
        // Generous timeouts: a loaded machine must not turn a recording into one of a timeout.
        let timeouts = RedisTimeouts(connect: .seconds(10), command: .seconds(10))
        let client = RedisClient(endpoint: try RedisEndpoint(url: redis.url), timeouts: timeouts, logger: quietLogger)
        let redashClient = try redash.map { RedisClient(endpoint: try RedisEndpoint(url: $0.url), timeouts: timeouts, logger: quietLogger) }
        let (recorded, live) = await ProbeRepliesTarget.record(scenario, client: client, redashClient: redashClient)
        await client.close()
        await redashClient?.close()

        let input = recorded.bytes
        let (replayed, _) = await ProbeRepliesTarget.run(ProbeScenario(bytes: input))
        #expect(replayed.map(Facts.init) == live.map(Facts.init), "\(name): the replay differs from the live probes")
        let problems = await ProbeRepliesTarget.check(input)
        #expect(problems.isEmpty, "\(name): \(problems)")
        if let corpus = ProcessInfo.processInfo.environment["FUZZ_RECORD_CORPUS"] {
            try Data(input).write(to: URL(fileURLWithPath: "\(corpus)/probe-replies/seed-\(name)"))
            try Data(recorded.replies).write(to: URL(fileURLWithPath: "\(corpus)/resp-decoding/seed-\(name)"))
        }
        return live
    }

    @Test("RQ 1.16: pending jobs, layout detected, then read from the cache of the detection")
    func rqPending() async throws {
        let redis = try await RedisServer.start()
        try await fixture(["rq-enqueue", redis.url, "queries", "5"])
        try await fixture(["rq-enqueue", redis.url, "scheduled_queries", "2"])
        let reports = try await recordAndReplay("rq-pending", { $0.queueCount = 3; $0.ticks = 2 }, redis: redis)
        #expect(reports.last?.observation("queries")?.pending == 5)
    }

    @Test("RQ 1.16 with Redash's scheduler keys: redash:status, sq:executed_at, a paused data source, locks")
    func rqSchedulerState() async throws {
        let redis = try await RedisServer.start()
        let enqueued = try await fixture(["rq-enqueue", redis.url, "scheduled_queries", "1"])
        let job = try #require((enqueued["ids"] as? [String])?.first)
        let now = Date().timeIntervalSince1970
        try await redis.cli(["HSET", "redash:status", "last_refresh_at", String(now - 10), "started_at", String(now - 12), "outdated_queries_count", "3"])
        try await redis.cli(["HSET", "sq:executed_at", "17", String(now - 100), "23", String(now - 3000)])
        try await redis.cli(["SET", "ds:2:pause", "maintenance"])
        try await redis.cli(["SET", ProbeScenario.lockKeys[0], job, "PX", "600000"])
        try await redis.cli(["SET", ProbeScenario.lockKeys[1], "0c5d7e11-gone", "PX", "600000"])
        let reports = try await recordAndReplay("rq-scheduler-state", {
            $0.layout = .rq; $0.readsScheduler = true; $0.lockCount = 3; $0.ticks = 2
        }, redis: redis)
        #expect(reports.first?.redashScheduler?.pausedDataSources == [2])
        #expect(reports.first?.redashScheduler?.locks[ProbeScenario.lockKeys[0]] == .waiting)
    }

    @Test("RQ on its own Redis, Redash's keys on another")
    func rqTwoRedis() async throws {
        let queues = try await RedisServer.start(), redash = try await RedisServer.start()
        try await fixture(["rq-enqueue", queues.url, "queries", "3"])
        let now = Date().timeIntervalSince1970
        try await redash.cli(["HSET", "redash:status", "last_refresh_at", String(now - 5), "started_at", String(now - 6)])
        try await redash.cli(["HSET", "sq:executed_at", "4", String(now - 40)])
        let reports = try await recordAndReplay("rq-redash-redis", { $0.layout = .rq; $0.readsScheduler = true }, redis: queues, redash: redash)
        #expect(reports.first?.scheduler?.isStale == false)
    }

    @Test("RQ 1.16: a worker running a job, one job waiting", .timeLimit(.minutes(2)))
    func rqBusyWorker() async throws {
        let redis = try await RedisServer.start()
        let name = "fuzz-seed-worker-\(redis.port)"
        let worker = try backgroundFixture(["rq-worker", redis.url, "queries", name])
        defer {
            worker.stop()
            _ = try? ManagedProcess.runBlocking("/usr/bin/pkill", ["-9", "-f", name])
        }
        try await fixture(["rq-enqueue", redis.url, "queries", "2", "--seconds", "60"])
        let (client, prober) = try makeProber(redis.url, layout: .rq)
        #expect(await eventually(timeout: 30) { await prober.probe(queues: ["queries"]).observation("queries")?.running == 1 }, "\(worker.output)")
        await client.close()
        let reports = try await recordAndReplay("rq-busy-worker", { $0.layout = .rq; $0.queueCount = 1 }, redis: redis)
        #expect(reports.first?.observation("queries")?.workers == WorkerCounts(busy: 1, idle: 0))
    }

    @Test("RQ 1.5 (Redash v10): a job without a time limit, scored +inf in the started registry", .timeLimit(.minutes(2)))
    func rq15Timeless() async throws {
        let python = try #require(Repository.python15, "the RQ 1.5 venv is missing: run scripts/bootstrap.sh")
        let redis = try await RedisServer.start()
        let name = "fuzz-seed-v10-\(redis.port)"
        let worker = try backgroundFixture(["rq-worker", redis.url, "queries", name], python: python)
        defer {
            worker.stop()
            _ = try? ManagedProcess.runBlocking("/usr/bin/pkill", ["-9", "-f", name])
        }
        try await fixture(["rq-enqueue", redis.url, "queries", "2", "--seconds", "60", "--timeout", "-1"], python: python)
        let (client, prober) = try makeProber(redis.url, layout: .rq)
        #expect(await eventually(timeout: 30) { await prober.probe(queues: ["queries"]).observation("queries")?.running == 1 }, "\(worker.output)")
        await client.close()
        let reports = try await recordAndReplay("rq15-timeless", { $0.queueCount = 2 }, redis: redis)
        #expect(reports.first?.observation("queries")?.running == 1)
    }

    @Test("Celery: the queue list, priority lists and a prefetched message in unacked; layout detected")
    func celeryPrefetched() async throws {
        let redis = try await RedisServer.start()
        try await fixture(["celery-send", redis.url, "queries", "2"])
        try await fixture(["celery-send", redis.url, "queries", "1", "--priority", "3"])
        try await fixture(["celery-send", redis.url, "scheduled_queries", "1", "--priority", "9"])
        let holder = try backgroundFixture(["celery-prefetch", redis.url, "queries", "--hold", "60"])
        defer { holder.stop() }
        #expect(await eventually(timeout: 15) { holder.output.contains("delivery_tag") }, "\(holder.output)")
        let reports = try await recordAndReplay("celery-prefetched", { $0.queueCount = 4; $0.ticks = 2; $0.readsScheduler = true }, redis: redis)
        #expect(reports.last?.observation("queries")?.pending == 3)
    }

    @Test("Celery with inspect: two real worker nodes answer active and active_queues, one of them busy", .timeLimit(.minutes(3)))
    func celeryInspect() async throws {
        let redis = try await RedisServer.start()
        let first = try backgroundFixture(["celery-worker", redis.url, "queries", "ip-10-0-1-23", "--concurrency", "1"])
        let second = try backgroundFixture(["celery-worker", redis.url, "queries,scheduled_queries", "ip-10-0-1-24", "--concurrency", "1"])
        defer { first.stop(); second.stop() }
        let (client, prober) = try makeProber(redis.url, layout: .celery)
        let request = CeleryInspectRequest(replyTimeout: .seconds(1))
        // Two Celery 5 workers importing and connecting took over 30 s once in a loaded
        // clean-clone parallel pass; the wait ends as soon as both answer.
        let ready = await eventually(timeout: 75, interval: 0.3) {
            let report = await prober.probe(queues: ["queries"], scheduler: nil, activity: request, now: WallClock.now())
            return report.celery?.nodes.count == 2
        }
        try await fixture(["celery-send", redis.url, "queries", "1", "--sleep", "60"])
        let busy = await eventually(timeout: 20, interval: 0.3) {
            let report = await prober.probe(queues: ["queries"], scheduler: nil, activity: request, now: WallClock.now())
            return report.observation("queries")?.running == 1
        }
        await client.close()
        #expect(ready && busy)
        let reports = try await recordAndReplay("celery-inspect", { $0.layout = .celery; $0.queueCount = 2; $0.inspectsCelery = true }, redis: redis)
        #expect(reports.last?.observation("queries")?.running == 1, "\(String(describing: reports.last?.celery))")
        #expect(reports.last?.celery?.isComplete == true)
    }

    @Test("Celery: a foreign message and one without Redash's enqueue_time")
    func celeryForeign() async throws {
        let redis = try await RedisServer.start()
        try await redis.cli(["LPUSH", "queries", "definitely not a celery message"])
        try await fixture(["celery-send", redis.url, "queries", "1", "--no-argsrepr"])
        try await fixture(["celery-send", redis.url, "scheduled_queries", "2"])
        _ = try await recordAndReplay("celery-foreign", { $0.layout = .celery }, redis: redis)
    }

    @Test("garbled keys: a queue that is a string, an unacked that is a string, a registry of the wrong type")
    func garbled() async throws {
        let redis = try await RedisServer.start()
        try await fixture(["rq-enqueue", redis.url, "scheduled_queries", "1"])
        try await redis.cli(["SET", "rq:queue:queries", "not a list"])
        try await redis.cli(["SET", "rq:wip:scheduled_queries", "not a sorted set"])
        try await redis.cli(["HSET", "redash:status", "last_refresh_at", "nan"])
        let reports = try await recordAndReplay("rq-wrongtype", { $0.layout = .rq; $0.readsScheduler = true }, redis: redis)
        #expect(reports.first?.failure("queries")?.contains("WRONGTYPE") == true)

        let celery = try await RedisServer.start()
        try await fixture(["celery-send", celery.url, "queries", "1"])
        try await celery.cli(["SET", "unacked", "garbage"])
        let celeryReports = try await recordAndReplay("celery-unacked-wrongtype", { $0.layout = .celery }, redis: celery)
        #expect(celeryReports.first?.failure("queries")?.contains("WRONGTYPE") == true)
    }

    @Test("an empty Redis: the layout cannot be told yet")
    func empty() async throws {
        let redis = try await RedisServer.start()
        let reports = try await recordAndReplay("empty-undetected", { $0.readsScheduler = true; $0.ticks = 2 }, redis: redis)
        #expect(reports.first?.failure("queries")?.contains("set redis.layout") == true)
    }
}
