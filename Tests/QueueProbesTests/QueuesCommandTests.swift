import AutoscalerCLI
import AutoscalerCore
import Foundation
import IntegrationSupport
import PolicyFile
import Testing

@Suite("queues command against redis-server", .testThreads)
struct QueuesCommandTests {
    private func policy(_ url: String, layout: QueueLayout = .auto) -> Policy {
        Policy(cluster: "redash", redis: RedisSettings(url: SecretURL(url), layout: layout), services: [
            ServicePolicy(name: "adhoc", queues: ["queries"], minTasks: 1, maxTasks: 4),
            ServicePolicy(name: "scheduled", queues: ["scheduled_queries"], minTasks: 1, maxTasks: 2, workersPerTask: 1),
        ])
    }

    @Test("RQ on its own Redis: ${RQ_REDIS_URL:-${REDASH_REDIS_URL}} for the queues, redis.redashUrl for Redash's own keys")
    func rqOnItsOwnRedis() async throws {
        let queues = try await RedisServer.start(), redash = try await RedisServer.start()
        try await fixture(["rq-enqueue", queues.url, "queries", "2"])
        try await redash.cli(["HSET", "redash:status", "last_refresh_at", String(Date().timeIntervalSince1970 - 10), "outdated_queries_count", "4"])
        let text = """
            cluster: redash
            redis:
              url: ${RQ_REDIS_URL:-${REDASH_REDIS_URL}}
              redashUrl: ${REDASH_REDIS_URL}
              layout: rq
            services:
              adhoc: {queries: null, queues: [queries], minTasks: 1, maxTasks: 4}
            """.replacingOccurrences(of: "queries: null, ", with: "")
        let split = try #require(PolicyLoader.parse(text, file: "policies.yaml", environment: ["RQ_REDIS_URL": queues.url, "REDASH_REDIS_URL": redash.url]).policy)
        #expect(split.redis.url.unredacted == queues.url && split.redis.redashURL?.unredacted == redash.url)
        let report = try await QueuesCommand.report(policy: split, redisURL: nil, json: true)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.standardOutput.utf8)) as? [String: Any])
        #expect((object["queues"] as? [[String: Any]])?.first?["pending"] as? Int == 2, "the queues from RQ's Redis")
        #expect((object["scheduler"] as? [String: Any])?["isStale"] as? Bool == false, "redash:status from Redash's own Redis: \(object)")

        // Without RQ_REDIS_URL, both are Redash's Redis: one server, no second client.
        let shared = try #require(PolicyLoader.parse(text, file: "policies.yaml", environment: ["REDASH_REDIS_URL": redash.url]).policy)
        #expect(shared.redis.url.unredacted == redash.url && shared.redis.redashURL == nil)
        let sharedReport = try await QueuesCommand.report(policy: shared, redisURL: nil, json: true)
        let sharedObject = try #require(try JSONSerialization.jsonObject(with: Data(sharedReport.standardOutput.utf8)) as? [String: Any])
        #expect((sharedObject["queues"] as? [[String: Any]])?.first?["pending"] as? Int == 0)
        #expect((sharedObject["scheduler"] as? [String: Any])?["isStale"] as? Bool == false)
    }

    @Test("a misspelt queue is named with the closest one; a queue with jobs no service consumes is named too")
    func queueNames() async throws {
        let redis = try await RedisServer.start()
        try await fixture(["rq-enqueue", redis.url, "queries", "2"])
        try await fixture(["rq-enqueue", redis.url, "bq_queries", "1"])
        let policy = Policy(cluster: "redash", redis: RedisSettings(url: SecretURL(redis.url), layout: .rq), services: [
            ServicePolicy(name: "adhoc", queues: ["querys"], minTasks: 1, maxTasks: 4),
        ])
        let report = try await QueuesCommand.report(policy: policy, redisURL: nil, json: false)
        #expect(report.standardOutput.contains("`querys` (adhoc): no such queue in Redis or in Redash's routing; did you mean `queries`?"), "\(report.standardOutput)")
        let json = try await QueuesCommand.report(policy: policy, redisURL: nil, json: true)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any])
        let findings = (object["queueNames"] as? [[String: Any]]) ?? []
        #expect(findings.contains { $0["queue"] as? String == "querys" && $0["kind"] as? String == "missing" })
        #expect(findings.contains { $0["queue"] as? String == "bq_queries" && $0["kind"] as? String == "unconsumed" }, "\(findings)")
        #expect(report.standardOutput.contains("`bq_queries`: holds 1 job"), "\(report.standardOutput)")
    }

    @Test("--json gives the documented object for RQ, with the counts rq produced")
    func rqJSON() async throws {
        let redis = try await RedisServer.start()
        let enqueued = try await fixture(["rq-enqueue", redis.url, "queries", "3"])
        let before = Date().timeIntervalSince1970
        let report = try await QueuesCommand.report(policy: policy(redis.url), redisURL: nil, json: true)
        let after = Date().timeIntervalSince1970
        #expect(report.exitCode == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.standardOutput.utf8)) as? [String: Any])
        #expect(object["layout"] as? String == "rq")
        let queues = try #require(object["queues"] as? [[String: Any]])
        #expect(queues.map { $0["name"] as? String } == ["queries", "scheduled_queries"])
        #expect(queues[0]["pending"] as? Int == 3)
        #expect(queues[0]["running"] as? Int == 0)
        // NSNumber: corelibs Foundation does not bridge an integral JSON number (0) to Double.
        // The age lies between the job's age when the probe started and when it ended.
        let age = try #require((queues[0]["oldestAgeSeconds"] as? NSNumber)?.doubleValue)
        let oldest = try #require(doubles(enqueued["enqueued_at"]).first)
        #expect(age >= before - oldest - 0.01 && age <= after - oldest + 0.01, "age \(age), window \(before - oldest)…\(after - oldest)")
        #expect(queues[1]["oldestAgeSeconds"] is NSNull, "an empty queue has no oldest job")
        #expect((queues[0]["workers"] as? [String: Int]) == ["busy": 0, "idle": 0])
        let scheduler = try #require(object["scheduler"] as? [String: Any])
        // This Redis has no redash:status at all: not judged, and no alarm.
        #expect(scheduler["isStale"] as? Bool == false && scheduler["isJudged"] as? Bool == false)
    }

    @Test("--json for Celery says running and workers are unknown (null), never zero")
    func celeryJSON() async throws {
        let redis = try await RedisServer.start()
        try await fixture(["celery-send", redis.url, "queries", "2"])
        let report = try await QueuesCommand.report(policy: policy(redis.url), redisURL: nil, json: true)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.standardOutput.utf8)) as? [String: Any])
        #expect(object["layout"] as? String == "celery")
        let queries = try #require((object["queues"] as? [[String: Any]])?.first)
        #expect(queries["pending"] as? Int == 2)
        #expect(queries["running"] is NSNull)
        #expect(queries["workers"] is NSNull)
    }

    @Test("an unreachable Redis exits 1 and says why, without the password")
    func unreachable() async throws {
        let port = try Ports.free()
        let report = try await QueuesCommand.report(
            policy: policy("redis://:hunter2@127.0.0.1:\(port)/0", layout: .rq), redisURL: nil, json: false)
        #expect(report.exitCode == 1)
        #expect(report.standardOutput.contains("unavailable: redis 127.0.0.1:\(port): cannot connect"))
        #expect(!report.standardOutput.contains("hunter2"))
    }
}
