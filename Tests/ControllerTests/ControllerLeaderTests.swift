import AWSClient
import AWSTestSupport
import AutoscalerCLI
import AutoscalerCore
import Foundation
import IntegrationSupport
import PostgresClient
import Testing

@Suite("Controller with a database", .testThreads)
struct ControllerLeaderTests {
    static func leader(_ controller: ControllerProcess) async -> Double? {
        guard let text = try? await controller.get("/metrics").text else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix("redash_autoscaler_leader ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test("plan --json: one dry-run reconcile as the documented object")
    func planJSON() async throws {
        let world = try await ControllerWorld.make(services: ["redash-adhoc-worker", "redash-scheduled-worker"])
        try await world.enqueue("queries", count: 4, seconds: 60)
        let directory = NSTemporaryDirectory() + "plan-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try testPolicy().write(toFile: directory + "/policies.yaml", atomically: true, encoding: .utf8)
        let output = try await ManagedProcess.run(try Repository.binary, ["plan", "--policies", directory + "/policies.yaml", "--json"], environment: world.environment())
        // Standard error (the policy's warning about a 1 s interval) comes first in the output.
        let json = output.drop { $0 != "{" }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(output)")
        let services = try #require(object["services"] as? [[String: Any]])
        let adhoc = try #require(services.first { $0["name"] as? String == "redash-adhoc-worker" })
        #expect((adhoc["current"] as? [String: Any])?["desired"] as? Int == 1)
        #expect(adhoc["proposed"] as? Int == 3)
        #expect(adhoc["outcome"] as? String == "dry-run")
        #expect((adhoc["reason"] as? String)?.isEmpty == false)
        let queue = try #require((adhoc["queues"] as? [[String: Any]])?.first)
        #expect(queue["name"] as? String == "queries" && queue["pending"] as? Int == 4)
        #expect(try await world.desired("redash-adhoc-worker") == 1)
    }
}

/// The kill -9 case of failover: with the other failover scenarios, in the serial pass.
extension ControllerFailoverTests {
    @Test("two run processes on one database: one leads and acts, the other stands by, and takes over when the leader is killed")
    func twoControllers() async throws {
        let world = try await ControllerWorld.make(services: ["redash-adhoc-worker", "redash-scheduled-worker"])
        let database = try await PostgresServer.start()
        let policy = testPolicy() + "\ndatabase: \(database.url)\n"
        let first = try await ControllerProcess.start(policy: policy, environment: world.environment())
        #expect(await eventually(timeout: 15) { await ControllerLeaderTests.leader(first) == 1 }, "\(first.process.output.suffix(2000))")
        let second = try await ControllerProcess.start(policy: policy, environment: world.environment())
        #expect(await eventually(timeout: 15) { await ControllerLeaderTests.leader(second) == 0 })
        #expect(await ControllerLeaderTests.leader(first) == 1)

        try await world.enqueue("queries", count: 2, seconds: 60)
        #expect(await eventually(timeout: 15) { (try? await world.desired("redash-adhoc-worker")) == 2 })
        let connection = try await PostgresConnection.connect(url: SecretURL(database.url))
        // The decision is recorded after UpdateService returns: moto can show the new count a
        // moment before the row is written.
        let appliedBy = "SELECT DISTINCT controller FROM redash_autoscaler.decisions WHERE mode = 'applied'"
        #expect(await eventually(timeout: 10) { ((try? await connection.query(appliedBy))?.rows.count ?? 0) >= 1 })
        let actors = try await connection.query(appliedBy)
        #expect(actors.rows.count == 1)
        let standby = second.logLines.filter { $0["message"]?.hasPrefix("scaled ") == true }
        #expect(standby.isEmpty)

        // The leader dies without a word; the standby takes over and acts.
        first.process.signal(SIGKILL)
        let killedAt = Date()
        #expect(await eventually(timeout: 30) { await ControllerLeaderTests.leader(second) == 1 }, "\(second.process.output.suffix(2000))")
        let ledAfter = Date().timeIntervalSince(killedAt)
        try await world.enqueue("queries", count: 1, seconds: 60)
        #expect(await eventually(timeout: 15) { (try? await world.desired("redash-adhoc-worker")) == 3 })
        // moto shows it within a poll (0.1 s) of the new leader's first write.
        print("failover: kill -9 leader: standby leads after \(figure(ledAfter)); takeover \(figure(Date().timeIntervalSince(killedAt)))")
        // Logged after UpdateService returns, so a moment after moto shows it.
        #expect(await eventually(timeout: 5) { second.logLines.contains { $0["message"]?.hasPrefix("scaled redash-adhoc-worker 2 → 3") == true } })
        #expect(await eventually(timeout: 10) {
            ((try? await connection.query("SELECT service FROM redash_autoscaler.scaling_history"))?.rows.count ?? 0) >= 1
        })
    }
}
