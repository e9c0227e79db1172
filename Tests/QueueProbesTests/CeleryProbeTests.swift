import AutoscalerCore
import Foundation
import IntegrationSupport
import QueueProbes
import RedisClient
import Testing

@Suite("Celery probe against redis-server and the real celery library", .testThreads)
struct CeleryProbeTests {
    @Test("the queue list, its priority lists and a prefetched message, aged by Redash's enqueue_time")
    func pendingPrioritiesPrefetched() async throws {
        let redis = try await RedisServer.start()
        let plain = try await fixture(["celery-send", redis.url, "queries", "2"])
        try await fixture(["celery-send", redis.url, "queries", "1", "--priority", "3"])
        try await fixture(["celery-send", redis.url, "queries", "1", "--priority", "9"])
        try await fixture(["celery-send", redis.url, "scheduled_queries", "1"])
        let holder = try backgroundFixture(["celery-prefetch", redis.url, "queries", "--hold", "60"])
        defer { holder.stop() }
        #expect(await eventually(timeout: 15) { holder.output.contains("delivery_tag") }, "\(holder.output)")
        #expect(try await redis.cli(["HLEN", "unacked"]).trimmingCharacters(in: .whitespacesAndNewlines) == "1")

        let (client, prober) = try makeProber(redis.url)
        let report = await prober.probe(queues: ["queries", "scheduled_queries", "celery"])
        await client.close()
        #expect(report.system == .celery)
        let queries = try #require(report.observation("queries"))
        #expect(queries.pending == 4, "2 plain + 2 priority, one of them prefetched")
        #expect(queries.running == nil, "Celery does not record running jobs in Redis")
        #expect(queries.workers == nil)
        let oldest = try #require(doubles(plain["enqueue_time"]).first)
        let truth = report.observedAt.secondsSinceEpoch - oldest
        #expect(abs((queries.oldestAge?.inSeconds ?? -99) - truth) < 1, "\(String(describing: queries.oldestAge)) vs \(truth)")
        #expect(report.observation("scheduled_queries")?.pending == 1)
        #expect(report.observation("celery")?.pending == 0)
    }

    @Test("the queue watch's lengths: the list and its priority lists summed, four LLENs a queue, with the layout configured")
    func lengthsAlone() async throws {
        let redis = try await RedisServer.start()
        try await fixture(["celery-send", redis.url, "queries", "2"])
        try await fixture(["celery-send", redis.url, "queries", "1", "--priority", "3"])
        try await fixture(["celery-send", redis.url, "queries", "1", "--priority", "9"])
        let (client, prober) = try makeProber(redis.url, layout: .celery)
        let lengths = await prober.lengths(queues: ["queries", "scheduled_queries"])
        await client.close()
        #expect(lengths == QueueLengths(lengths: ["queries": 4, "scheduled_queries": 0], commands: 8))
    }

    @Test("a message without Redash's enqueue_time has an unknown age, not zero")
    func unknownAge() async throws {
        let redis = try await RedisServer.start()
        try await fixture(["celery-send", redis.url, "queries", "2", "--no-argsrepr"])
        let (client, prober) = try makeProber(redis.url, layout: .celery)
        let report = await prober.probe(queues: ["queries"])
        await client.close()
        let queries = try #require(report.observation("queries"))
        #expect(queries.pending == 2)
        #expect(queries.oldestAge == nil)
    }

    @Test("a foreign message is counted, noted, and does not break the reading")
    func foreignMessage() async throws {
        let redis = try await RedisServer.start()
        try await redis.cli(["LPUSH", "queries", "definitely not a celery message"])
        try await fixture(["celery-send", redis.url, "queries", "1"])
        let (client, prober) = try makeProber(redis.url, layout: .celery)
        let report = await prober.probe(queues: ["queries"])
        await client.close()
        #expect(report.observation("queries")?.pending == 2)
        #expect(report.notes.contains { $0.contains("not a Celery message") })
    }
}
