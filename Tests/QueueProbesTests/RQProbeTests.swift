import AutoscalerCore
import Foundation
import IntegrationSupport
import QueueProbes
import RedisClient
import Testing

@Suite("RQ probe against redis-server and the real rq library", .testThreads)
struct RQProbeTests {
    @Test("RQ 1.16: pending counts and the oldest job's age match what rq enqueued")
    func pendingAndAge() async throws {
        let redis = try await RedisServer.start()
        let queries = try await fixture(["rq-enqueue", redis.url, "queries", "5"])
        try await fixture(["rq-enqueue", redis.url, "scheduled_queries", "2"])
        try await Task.sleep(for: .milliseconds(300))
        let (client, prober) = try makeProber(redis.url)
        let report = await prober.probe(queues: ["queries", "scheduled_queries", "periodic"])
        await client.close()
        #expect(report.system == .rq)
        #expect(report.roundTrips == 3, "detection, the queues, the job hashes")
        let adhoc = try #require(report.observation("queries"))
        #expect(adhoc.pending == 5)
        #expect(adhoc.running == 0)
        #expect(adhoc.workers == WorkerCounts(busy: 0, idle: 0))
        let oldest = try #require(doubles(queries["enqueued_at"]).first)
        let truth = report.observedAt.secondsSinceEpoch - oldest
        #expect(abs((adhoc.oldestAge?.inSeconds ?? -99) - truth) < 1, "age \(String(describing: adhoc.oldestAge)) vs \(truth)")
        #expect(report.observation("scheduled_queries")?.pending == 2)
        let periodic = try #require(report.observation("periodic"))
        #expect(periodic.pending == 0 && periodic.oldestAge == nil)
        #expect(report.scheduler?.isStale == false && report.scheduler?.isJudged == false, "no Redash scheduler wrote redash:status: not judged, not stale")

        // Once detected, a probe takes two round trips.
        let (client2, prober2) = try makeProber(redis.url, layout: .rq)
        #expect(await prober2.probe(queues: ["queries"]).roundTrips == 2)
        await client2.close()
    }

    @Test("the queue watch's lengths: one LLEN a queue, only once the layout is known, nil on a reply that is not a length")
    func lengthsAlone() async throws {
        let redis = try await RedisServer.start()
        try await fixture(["rq-enqueue", redis.url, "queries", "3"])
        let (client, prober) = try makeProber(redis.url)
        #expect(await prober.lengths(queues: ["queries"]) == nil, "the layout is not detected yet")
        _ = await prober.probe(queues: ["queries"])
        let lengths = try #require(await prober.lengths(queues: ["queries", "scheduled_queries"]))
        #expect(lengths == QueueLengths(lengths: ["queries": 3, "scheduled_queries": 0], commands: 2))
        try await fixture(["rq-enqueue", redis.url, "scheduled_queries", "2"])
        #expect(await prober.lengths(queues: ["queries", "scheduled_queries"])?.lengths == ["queries": 3, "scheduled_queries": 2])
        // A key of another type answers with an error, not a length: no lengths, so the watch
        // probes whole and the whole probe says what is wrong.
        try await redis.cli(["SET", "rq:queue:odd", "x"])
        #expect(await prober.lengths(queues: ["queries", "odd"]) == nil)
        await client.close()
    }

    @Test("RQ 1.16: running jobs and busy workers; a worker killed mid-job is abandoned, not running", .timeLimit(.minutes(3)))
    func runningAndAbandoned() async throws {
        let redis = try await RedisServer.start()
        let first = try backgroundFixture(["rq-worker", redis.url, "queries", "worker-one-\(redis.port)"])
        let second = try backgroundFixture(["rq-worker", redis.url, "queries", "worker-two-\(redis.port)"])
        defer {
            first.stop(); second.stop()
            // A SIGKILLed HerokuWorker leaves its work horse behind.
            _ = try? ManagedProcess.runBlocking("/usr/bin/pkill", ["-9", "-f", "worker-one-\(redis.port)"])
        }
        try await fixture(["rq-enqueue", redis.url, "queries", "3", "--seconds", "150"])
        let (client, prober) = try makeProber(redis.url, layout: .rq)
        defer { Task { await client.close() } }
        let busy = await eventually(timeout: 30) { await prober.probe(queues: ["queries"]).observation("queries")?.running == 2 }
        #expect(busy, "two workers picked up jobs\n\(first.output)\n\(second.output)")
        var report = await prober.probe(queues: ["queries"])
        var observation = try #require(report.observation("queries"))
        #expect(observation.pending == 1)
        #expect(observation.workers == WorkerCounts(busy: 2, idle: 0))
        #expect(Set(report.workers["queries"]?.compactMap(\.hostname) ?? []).count == 1)

        first.signal(SIGKILL)
        // Its job stays in the started registry until its heartbeat deadline (60 s after the last
        // 5-second heartbeat), then counts as abandoned.
        let abandoned = await eventually(timeout: 100, interval: 1) {
            await prober.probe(queues: ["queries"]).observation("queries")?.running == 1
        }
        #expect(abandoned)
        report = await prober.probe(queues: ["queries"])
        observation = try #require(report.observation("queries"))
        #expect(observation.running == 1)
        #expect(observation.workers?.busy == 1, "the dead worker's hash still says busy; its job is not live")
        #expect(observation.pending == 1)
    }

    @Test("RQ 1.5 (Redash v10): the same keys read the same way")
    func rq15() async throws {
        let python = try #require(Repository.python15, "the RQ 1.5 venv is missing: run scripts/bootstrap.sh")
        let redis = try await RedisServer.start()
        let worker = try backgroundFixture(["rq-worker", redis.url, "queries", "v10-worker-\(redis.port)"], python: python)
        defer {
            worker.stop()
            _ = try? ManagedProcess.runBlocking("/usr/bin/pkill", ["-9", "-f", "v10-worker-\(redis.port)"])
        }
        let enqueued = try await fixture(["rq-enqueue", redis.url, "queries", "3", "--seconds", "60"], python: python)
        let (client, prober) = try makeProber(redis.url)
        defer { Task { await client.close() } }
        let started = await eventually(timeout: 30) { await prober.probe(queues: ["queries"]).observation("queries")?.running == 1 }
        #expect(started, "\(worker.output)")
        let report = await prober.probe(queues: ["queries"])
        #expect(report.system == .rq)
        let observation = try #require(report.observation("queries"))
        #expect(observation.pending == 2)
        #expect(observation.workers == WorkerCounts(busy: 1, idle: 0))
        let second = try #require(doubles(enqueued["enqueued_at"]).dropFirst().first)
        let truth = report.observedAt.secondsSinceEpoch - second
        #expect(abs((observation.oldestAge?.inSeconds ?? -99) - truth) < 1)
    }

    @Test("RQ 1.5 (Redash v10): a task SIGKILLed mid-query leaves its +inf entry for good; once its worker is gone it is abandoned, not running",
          .timeLimit(.minutes(3)))
    func rq15PhantomRunningJob() async throws {
        let python = try #require(Repository.python15, "the RQ 1.5 venv is missing: run scripts/bootstrap.sh")
        let redis = try await RedisServer.start()
        let name = "v10-phantom-\(redis.port)"
        let worker = try backgroundFixture(["rq-worker", redis.url, "queries", name], python: python)
        defer {
            worker.stop()
            // The SIGKILLed worker's work horse goes on with the query; end it too.
            _ = try? ManagedProcess.runBlocking("/usr/bin/pkill", ["-9", "-f", name])
        }
        // Redash's jobs carry no time limit unless an admin set one: timeout -1.
        try await fixture(["rq-enqueue", redis.url, "queries", "1", "--seconds", "150", "--timeout", "-1"], python: python)
        let (client, prober) = try makeProber(redis.url, layout: .rq)
        #expect(await eventually(timeout: 30) { await prober.probe(queues: ["queries"]).observation("queries")?.running == 1 }, "\(worker.output)")
        let entries = try await redis.cli(["ZRANGE", "rq:wip:queries", "0", "-1", "WITHSCORES"])
        #expect(entries.contains("inf"), "RQ 1.5 scores a job without a time limit +inf: \(entries)")

        worker.signal(SIGKILL)
        // Its worker hash expires about 65 s after its last heartbeat (a busy RQ 1.5 worker renews
        // it every 5 s for 65 s); until then it may still be running, so it counts. The entry stays.
        let gone = await eventually(timeout: 110, interval: 1) { await prober.probe(queues: ["queries"]).observation("queries")?.running == 0 }
        #expect(gone, "the dead task's job still counted as running")
        let report = await prober.probe(queues: ["queries"])
        #expect(report.abandonedJobs["queries"] == 1)
        #expect(report.observation("queries")?.workers?.busy == 0)
        #expect(try await redis.cli(["ZCARD", "rq:wip:queries"]).trimmingCharacters(in: .whitespacesAndNewlines) == "1", "the entry itself stays")
        await client.close()
    }

    @Test("a key of the wrong type makes that queue unavailable, never empty")
    func wrongType() async throws {
        let redis = try await RedisServer.start()
        try await fixture(["rq-enqueue", redis.url, "scheduled_queries", "1"])
        try await redis.cli(["SET", "rq:queue:queries", "not a list"])
        let (client, prober) = try makeProber(redis.url, layout: .rq)
        let report = await prober.probe(queues: ["queries", "scheduled_queries"])
        await client.close()
        #expect(report.failure("queries")?.contains("WRONGTYPE") == true, "\(report.readings)")
        #expect(report.observation("scheduled_queries")?.pending == 1)
    }

    /// Found by the probe-replies fuzzer (Fuzz/Corpus/probe-replies/crash-detection-error): an
    /// error reply to the detection's `SCARD rq:queues` was read as 0 RQ queues, so a kombu
    /// binding left from Redash v8 made an RQ Redis "Celery" for good, and its queues read empty.
    @Test("an RQ registry of the wrong type beside a leftover kombu binding: no layout guessed, detected once the key is sound")
    func detectionError() async throws {
        let redis = try await RedisServer.start()
        try await fixture(["celery-send", redis.url, "celery", "1"])
        try await fixture(["rq-enqueue", redis.url, "queries", "3"])
        try await redis.cli(["DEL", "rq:queues"])
        try await redis.cli(["SET", "rq:queues", "garbage"])
        let (client, prober) = try makeProber(redis.url)
        let report = await prober.probe(queues: ["queries"])
        #expect(report.layoutSource == "undetected")
        let reason = try #require(report.failure("queries"), "\(report.readings)")
        #expect(reason.contains("rq:queues") && reason.contains("WRONGTYPE") && reason.contains("set redis.layout"), "\(reason)")

        try await redis.cli(["DEL", "rq:queues"])
        try await redis.cli(["SADD", "rq:queues", "rq:queue:queries"])
        let detected = await prober.probe(queues: ["queries"])
        await client.close()
        #expect(detected.system == .rq)
        #expect(detected.observation("queries")?.pending == 3)
    }

    @Test("an empty Redis is no reason to guess the layout")
    func undetected() async throws {
        let redis = try await RedisServer.start()
        let (client, prober) = try makeProber(redis.url)
        let report = await prober.probe(queues: ["queries"])
        #expect(report.failure("queries")?.contains("set redis.layout") == true)
        try await fixture(["rq-enqueue", redis.url, "queries", "1"])
        #expect(await prober.probe(queues: ["queries"]).system == .rq)
        await client.close()
    }
}
