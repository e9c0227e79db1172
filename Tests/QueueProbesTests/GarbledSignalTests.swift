import AutoscalerCore
import Foundation
import IntegrationSupport
import QueueProbes
import RedisClient
import Testing

/// What a fault injector did to a running controller, reproduced against the probe: one bad
/// value in Redis used to crash the process (a `Double` turned into a `Duration` unchecked) or
/// be read as zero (an error reply). Each now makes the reading unavailable, with the reason.
@Suite("Garbled Redis signals", .testThreads)
struct GarbledSignalTests {
    @Test("redash:status last_refresh_at that is not a plausible time: no crash, the scheduler health unknown, the queues still read",
          arguments: ["nan", "inf", "-inf", "1e300", "-1e300", "1e21", "yesterday"])
    func lastRefresh(_ value: String) async throws {
        let redis = try await RedisServer.start()
        try await fixture(["rq-enqueue", redis.url, "queries", "2"])
        try await redis.cli(["HSET", "redash:status", "last_refresh_at", value, "started_at", value])
        let (client, prober) = try makeProber(redis.url, layout: .rq)
        let report = await prober.probe(queues: ["queries"], scheduler: SchedulerStateRequest(dataSources: [1]), now: Instant(secondsSinceEpoch: Date().timeIntervalSince1970))
        await client.close()
        #expect(report.scheduler == nil, "\(String(describing: report.scheduler))")
        #expect(report.notes.contains { $0.contains("redash:status last_refresh_at") }, "\(report.notes)")
        #expect(report.observation("queries")?.pending == 2)
    }

    @Test("a Celery message whose enqueue_time is 1e300 or 0 (1970), waiting or prefetched: that queue unavailable, no crash",
          arguments: ["1e300", "0"])
    func celeryEnqueueTime(_ enqueueTime: String) async throws {
        let redis = try await RedisServer.start()
        try await fixture(["celery-send", redis.url, "queries", "1", "--enqueue-time", enqueueTime])
        try await fixture(["celery-send", redis.url, "scheduled_queries", "2"])
        let (client, prober) = try makeProber(redis.url, layout: .celery)
        var report = await prober.probe(queues: ["queries", "scheduled_queries"])
        #expect(report.failure("queries")?.contains("implausible") == true, "\(report.readings)")
        #expect(report.observation("scheduled_queries")?.pending == 2)

        // The same message taken by a prefetching worker: it sits in `unacked`.
        let holder = try backgroundFixture(["celery-prefetch", redis.url, "queries", "--hold", "60"])
        defer { holder.stop() }
        #expect(await eventually(timeout: 15) { holder.output.contains("delivery_tag") }, "\(holder.output)")
        report = await prober.probe(queues: ["queries", "scheduled_queries"])
        await client.close()
        #expect(report.failure("queries")?.contains("implausible") == true, "\(report.readings)")
        #expect(report.observation("scheduled_queries")?.pending == 2)
    }

    @Test("unacked turned into a string under six prefetched messages: every queue unavailable, never pending 0")
    func unackedWrongType() async throws {
        let redis = try await RedisServer.start()
        try await fixture(["celery-send", redis.url, "queries", "1"])
        for index in 0..<6 {
            try await redis.cli(["HSET", "unacked", "tag-\(index)", #"[{"headers": {}}, "", "queries"]"#])
        }
        let (client, prober) = try makeProber(redis.url, layout: .celery)
        #expect(await prober.probe(queues: ["queries"]).observation("queries")?.pending == 7)
        try await redis.cli(["DEL", "unacked"])
        try await redis.cli(["SET", "unacked", "garbage"])
        let report = await prober.probe(queues: ["queries", "scheduled_queries"])
        await client.close()
        #expect(report.failure("queries")?.contains("WRONGTYPE") == true, "\(report.readings)")
        #expect(report.failure("scheduled_queries")?.contains("WRONGTYPE") == true, "unacked is every queue's")
    }

    /// Found by the probe-replies fuzzer (Fuzz/Corpus/probe-replies/crash-worker-hmget-error): a
    /// worker's HMGET answered with an error was skipped as "no such worker", so the queue read
    /// one worker fewer, and a job that worker held could be counted as abandoned.
    @Test("an RQ worker key that is not a hash (HMGET answers WRONGTYPE): the queues it serves unavailable, never one worker fewer")
    func rqWorkerWrongType() async throws {
        let redis = try await RedisServer.start()
        try await fixture(["rq-enqueue", redis.url, "queries", "2"])
        try await fixture(["rq-enqueue", redis.url, "scheduled_queries", "1"])
        try await redis.cli(["SADD", "rq:workers", "rq:worker:fuzz-a"])
        try await redis.cli(["SADD", "rq:workers:queries", "rq:worker:fuzz-a"])
        try await redis.cli(["HSET", "rq:worker:fuzz-a", "state", "idle", "hostname", "worker-1"])
        let (client, prober) = try makeProber(redis.url, layout: .rq)
        let healthy = await prober.probe(queues: ["queries", "scheduled_queries"])
        #expect(healthy.observation("queries")?.workers == WorkerCounts(busy: 0, idle: 1), "\(healthy.readings)")

        try await redis.cli(["DEL", "rq:worker:fuzz-a"])
        try await redis.cli(["SET", "rq:worker:fuzz-a", "garbage"])
        let report = await prober.probe(queues: ["queries", "scheduled_queries"])
        await client.close()
        #expect(report.failure("queries")?.contains("WRONGTYPE") == true, "\(report.readings)")
        #expect(report.observation("scheduled_queries")?.pending == 1, "a queue the worker does not serve is still read")
    }

    @Test("an RQ job enqueued in 1970 (or next year): that queue unavailable, not a wait of 56 years", arguments: [
        "1970-01-01T00:00:01.000000Z", "2099-01-01T00:00:00.000000Z",
    ])
    func rqEnqueuedAt(_ stamp: String) async throws {
        let redis = try await RedisServer.start()
        let enqueued = try await fixture(["rq-enqueue", redis.url, "queries", "1"])
        let id = try #require((enqueued["ids"] as? [String])?.first)
        try await redis.cli(["HSET", "rq:job:\(id)", "enqueued_at", stamp])
        let (client, prober) = try makeProber(redis.url, layout: .rq)
        let report = await prober.probe(queues: ["queries"])
        await client.close()
        #expect(report.failure("queries")?.contains("implausible") == true, "\(report.readings)")
    }

    @Test("a garbage started registry of 200,000 entries (200 times what any pool could run): unavailable, read no further")
    func hugeRegistry() async throws {
        let redis = try await RedisServer.start()
        try await fixture(["rq-enqueue", redis.url, "queries", "1"])
        // 2,000 arguments a ZADD: a million single ZADDs took 3 s of the server's CPU alone and
        // over 60 s in the parallel pass; this is a tenth of a second.
        let fill = """
            local batch = {}
            for i = 1, 200000 do
              batch[#batch + 1] = 'inf'; batch[#batch + 1] = 'garbage-' .. i
              if #batch == 2000 then redis.call('ZADD', KEYS[1], unpack(batch)); batch = {} end
            end
            return redis.call('ZCARD', KEYS[1])
            """
        try await redis.cli(["EVAL", fill, "1", "rq:wip:queries"])
        let (client, prober) = try makeProber(redis.url, layout: .rq)
        let report = await prober.probe(queues: ["queries"])
        await client.close()
        #expect(report.failure("queries")?.contains("200000 live entries") == true, "\(report.readings)")
    }

    @Test("instants from outside never trap: differences saturate, NaN is no time")
    func instantArithmetic() {
        let now = Instant(secondsSinceEpoch: 1_800_000_000)
        for value in [Double.nan, .infinity, -.infinity, 1e300, -1e300, 1e21] {
            let difference = now - Instant(secondsSinceEpoch: value)
            #expect(abs(difference.inSeconds) <= Duration.saturationSeconds)
            #expect(!Instant(secondsSinceEpoch: value).isPlausible)
        }
    }
}
