import AutoscalerCore
import Foundation
import IntegrationSupport
import PostgresClient
import RedashMetadata
import Testing

/// `redash-autoscaler hold` as an operator runs it: the real binary, a real PostgreSQL for the
/// holds, moto for STS (who sets the hold).
@Suite("hold command", .testThreads)
struct HoldCommandTests {
    @Test("a hold for 7d names the AWS identity that set it; over 7 days or a long reason is refused; stored escape codes are shown, not sent; release")
    func holdAsAnOperator() async throws {
        let world = try await ControllerWorld.make(services: ["redash-adhoc-worker", "redash-scheduled-worker"])
        let database = try await PostgresServer.start()
        let directory = NSTemporaryDirectory() + "hold-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let policy = directory + "/policies.yaml"
        try testPolicy().write(toFile: policy, atomically: true, encoding: .utf8)
        let common = ["--policies", policy, "--database", database.url]
        let binary = try Repository.binary
        let environment = world.environment()

        let set = try await ManagedProcess.run(
            binary, ["hold", "redash-adhoc-worker", "--tasks", "3", "--for", "7d", "--reason", "incident 42", "--json"] + common, environment: environment)
        // Standard error (the migration's log lines) comes first in the output; the JSON is last.
        let json = set[(set.range(of: "{\n")?.lowerBound ?? set.startIndex)...]
        let object = try #require(try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(set)")
        let hold = try #require(object["hold"] as? [String: Any], "\(set)")
        let setBy = try #require(hold["setBy"] as? String)
        #expect(setBy.hasPrefix("arn:aws:"), "the hold names an AWS identity: \(setBy)")
        #expect(hold["reason"] as? String == "incident 42")

        // Refused, with the reason, and nothing stored.
        for (arguments, message) in [
            (["--for", "8d", "--reason", "x"], "between 1s and 7 days"),
            (["--for", "1h", "--reason", String(repeating: "r", count: 501)], "at most 500"),
        ] {
            let refused = try ManagedProcess(binary, ["hold", "redash-scheduled-worker", "--tasks", "2"] + arguments + common, environment: environment)
            #expect(await eventually(timeout: 30) { !refused.isRunning })
            #expect(refused.terminationStatus != 0)
            #expect(refused.output.contains(message), "\(refused.output)")
        }

        // A hold written by other means, with a terminal escape in its reason.
        let store = try ControllerStateStore(session: PostgresSession(url: SecretURL(database.url)), controllerVersion: "test")
        let now = Instant(secondsSinceEpoch: Date().timeIntervalSince1970)
        try await store.setHold(OperatorHold(
            service: "redash-scheduled-worker", tasks: 1, until: now + .seconds(600), setBy: "someone", reason: "\u{1B}[2J\u{1B}[31mcleared", setAt: now))
        let listed = try await ManagedProcess.run(binary, ["hold", "--list"] + common, environment: environment)
        #expect(!listed.contains("\u{1B}"), "an escape code reached the terminal: \(listed.debugDescription)")
        #expect(listed.contains("\\u{1B}[2J"), "\(listed)")
        #expect(listed.contains("redash-adhoc-worker: 3 tasks until"), "\(listed)")

        let released = try await ManagedProcess.run(binary, ["hold", "redash-adhoc-worker", "--release"] + common, environment: environment)
        #expect(released.contains("released the hold on redash-adhoc-worker"), "\(released)")
        let after = try await ManagedProcess.run(binary, ["hold", "--list", "--json"] + common, environment: environment)
        let remaining = try #require(
            try? JSONSerialization.jsonObject(with: Data(after[(after.range(of: "{\n")?.lowerBound ?? after.startIndex)...].utf8)) as? [String: Any],
            "\(after)")
        #expect((remaining["holds"] as? [[String: Any]])?.compactMap { $0["service"] as? String } == ["redash-scheduled-worker"], "\(after)")
    }
}
