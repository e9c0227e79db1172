import AutoscalerCLI
import AutoscalerCore
import Foundation
import IntegrationSupport
import Testing

@Suite("queues command against redis-server")
struct QueuesCommandTests {
    private func policy(_ url: String, layout: QueueLayout = .auto) -> Policy {
        Policy(cluster: "redash", redis: RedisSettings(url: SecretURL(url), layout: layout), services: [
            ServicePolicy(name: "adhoc", queues: ["queries"], minTasks: 1, maxTasks: 4),
            ServicePolicy(name: "scheduled", queues: ["scheduled_queries"], minTasks: 1, maxTasks: 2, workersPerTask: 1),
        ])
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
        #expect(scheduler["isStale"] as? Bool == true)
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
