import AWSClient
import AWSTestSupport
import AutoscalerCore
import Foundation
import IntegrationSupport
import Testing

/// The `run` binary against redis-server, moto (IAM auth on, the shipped IAM policy) and real RQ
/// jobs and workers. Timing bounds are generous: they catch a controller that does not react,
/// not a slow machine.
@Suite("Controller end to end", .testThreads, .serialized)
struct ControllerEndToEndTests {
    static let services = ["redash-adhoc-worker", "redash-scheduled-worker"]

    /// Samples `read` every 200 ms for `seconds` and returns every value seen.
    static func sample(_ seconds: Double, _ read: () async throws -> Int) async throws -> [Int] {
        var values: [Int] = []
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            values.append(try await read())
            try await Task.sleep(for: .milliseconds(200))
        }
        return values
    }

    @Test("scales up within two intervals, caps at maxTasks, holds while jobs run, scales in after the window")
    func scalesWithTheQueue() async throws {
        let world = try await ControllerWorld.make(services: Self.services)
        #expect(try await world.desired("redash-adhoc-worker") == 1)
        #expect(try await world.desired("redash-scheduled-worker") == 2)
        let controller = try await ControllerProcess.start(policy: testPolicy(), environment: world.environment())
        #expect(await eventually(timeout: 15) { (try? await controller.get("/readyz").status) == 200 }, "\(controller.process.output)")

        // Idle scheduled worker: 2 → 1 once the 4 s window has agreed, not before.
        let early = try await Self.sample(2) { try await world.desired("redash-scheduled-worker") }
        #expect(early.allSatisfy { $0 == 2 }, "scaled in before the window: \(early)")
        #expect(await eventually(timeout: 15) { (try? await world.desired("redash-scheduled-worker")) == 1 })

        // Five jobs for a service capped at 3: 1 → 3 within two intervals (plus slack for a loaded
        // machine), and never above 3.
        let enqueuedAt = Date()
        try await world.enqueue("queries", count: 5, seconds: 12)
        #expect(await eventually(timeout: 10, interval: 0.1) { (try? await world.desired("redash-adhoc-worker")) == 3 })
        let reaction = Date().timeIntervalSince(enqueuedAt)
        // Recorded in docs/benchmarks.md: enqueue (a Python process start included) to the new
        // desiredCount visible in moto, with a 1 s interval.
        print("e2e reaction: jobs enqueued to desiredCount changed in \(String(format: "%.2f", reaction)) s (interval 1 s)")
        // The bound catches a controller that misses the jobs for many ticks; the quiet-machine
        // figure (about 2 s) is the printed one.
        #expect(reaction < 12, "took \(reaction) s")
        let capped = try await Self.sample(2) { try await world.desired("redash-adhoc-worker") }
        #expect(capped.allSatisfy { $0 == 3 }, "\(capped)")

        // Two workers take two jobs; the three still waiting are removed. Two jobs run: the
        // service must not fall below 2 while they do, even after the window.
        let first = try world.worker("queries", name: "e2e-worker-1")
        let second = try world.worker("queries", name: "e2e-worker-2")
        defer { first.stop(); second.stop() }
        #expect(await eventually(timeout: 20) {
            let running = (try? await world.redis.cli(["ZCARD", "rq:wip:queries"]))?.trimmingCharacters(in: .whitespacesAndNewlines)
            return running == "2"
        })
        try await world.redis.cli(["DEL", "rq:queue:queries"])
        let whileRunning = try await Self.sample(6) { try await world.desired("redash-adhoc-worker") }
        #expect(whileRunning.allSatisfy { $0 >= 2 }, "fell below the running jobs: \(whileRunning)")
        #expect(whileRunning.last == 2, "\(whileRunning)")

        // The jobs finish (12 s each): back to 1 after the window.
        #expect(await eventually(timeout: 30) { (try? await world.desired("redash-adhoc-worker")) == 1 })

        // What was done is in the logs and the metrics.
        let scaled = controller.logLines.filter { $0["message"]?.hasPrefix("scaled redash-adhoc-worker 1 → 3") == true }
        #expect(scaled.count == 1)
        // Datadog's reserved `service` is the controller; the Redash service is `redash_service`;
        // figures are JSON numbers.
        #expect(scaled.first?["redash_service"] == "redash-adhoc-worker")
        #expect(scaled.first?["service"] == "redash-autoscaler")
        let scaledObject = controller.logObjects.first { ($0["message"] as? String)?.hasPrefix("scaled redash-adhoc-worker 1 → 3") == true }
        #expect(scaledObject?["to"] is NSNumber && (scaledObject?["to"] as? NSNumber)?.intValue == 3, "\(String(describing: scaledObject))")
        try DatadogLogSchema.check(controller.output)
        let metrics = try await controller.get("/metrics").text
        #expect(metrics.contains(#"redash_autoscaler_scale_actions_total{direction="up",service="redash-adhoc-worker"} 1"#), "\(metrics)")
        #expect(metrics.contains("redash_autoscaler_reconcile_duration_seconds_count"))
        let status = try JSONSerialization.jsonObject(with: Data(try await controller.get("/status").body)) as? [String: Any]
        #expect((status?["services"] as? [[String: Any]])?.count == 2)
    }

    @Test("dry-run reads and decides like a real run, says what it would do, and never writes")
    func dryRun() async throws {
        let world = try await ControllerWorld.make(services: Self.services)
        try await world.enqueue("queries", count: 4, seconds: 60)
        let controller = try await ControllerProcess.start(policy: testPolicy(), environment: world.environment(), arguments: ["--dry-run"])
        #expect(await eventually(timeout: 15) {
            controller.logLines.contains { $0["message"]?.hasPrefix("would scale redash-adhoc-worker 1 → 3: ") == true }
        }, "\(controller.process.output)")
        let values = try await Self.sample(6) { try await world.desired("redash-adhoc-worker") }
        #expect(values.allSatisfy { $0 == 1 }, "\(values)")
        #expect(try await world.desired("redash-scheduled-worker") == 2)
    }

    @Test("Redis lost mid-run: no scale-in, /readyz fails; Redis back: ready again")
    func redisOutage() async throws {
        let world = try await ControllerWorld.make(services: Self.services)
        try await world.enqueue("queries", count: 3, seconds: 60)
        let controller = try await ControllerProcess.start(policy: testPolicy(), environment: world.environment())
        #expect(await eventually(timeout: 15) { (try? await world.desired("redash-adhoc-worker")) == 3 })
        let port = world.redis.port
        world.redis.stop()
        #expect(await eventually(timeout: 20) { (try? await controller.get("/readyz").status) == 503 })
        // Well past the 4 s window: a lost signal is never read as an empty queue.
        let during = try await Self.sample(6) { try await world.desired("redash-adhoc-worker") }
        #expect(during.allSatisfy { $0 == 3 }, "\(during)")
        #expect(controller.process.isRunning)
        // The queue's gauges are absent while it cannot be read, not frozen at the last value.
        let metricsDuring = try await controller.get("/metrics").text
        #expect(!metricsDuring.contains(#"redash_autoscaler_queue_pending_jobs{queue="queries"}"#), "\(metricsDuring)")
        let revived = try await RedisServer.start(port: port)
        try await revived.cli(["PING"])
        #expect(await eventually(timeout: 30) { (try? await controller.get("/readyz").status) == 200 }, "\(controller.process.output.suffix(2000))")
    }

    @Test("ECS refusing the write (AccessDenied): logged with the missing action, nothing changes, the controller keeps running")
    func ecsErrors() async throws {
        let world = try await ControllerWorld.make(services: Self.services)
        try await world.enqueue("queries", count: 3, seconds: 60)
        let controller = try await ControllerProcess.start(policy: testPolicy(), environment: world.environment(world.keys.readonly))
        #expect(await eventually(timeout: 15) {
            controller.logLines.contains { $0["level"] == "error" && $0["message"]?.contains("must allow ecs:UpdateService") == true }
        }, "\(controller.process.output.suffix(3000))")
        #expect(try await world.desired("redash-adhoc-worker") == 1)
        #expect(controller.process.isRunning)
        #expect((try await controller.get("/metrics").text).contains(#"redash_autoscaler_errors_total{dependency="ecs"}"#))
    }

    @Test("an invalid policy written during a run is rejected and the old one kept; a valid one is applied; SIGTERM exits promptly")
    func reloadAndShutdown() async throws {
        let world = try await ControllerWorld.make(services: Self.services)
        try await world.enqueue("queries", count: 5, seconds: 60)
        let controller = try await ControllerProcess.start(policy: testPolicy(), environment: world.environment())
        #expect(await eventually(timeout: 15) { (try? await world.desired("redash-adhoc-worker")) == 3 })

        try controller.rewritePolicy(testPolicy().replacingOccurrences(of: "maxTasks: 3", with: "maxTasks: -3"))
        #expect(await eventually(timeout: 10) {
            controller.logLines.contains { $0["message"] == "new policy rejected; keeping the last good one" }
        })
        let rejected = controller.logLines.first { $0["message"] == "new policy rejected; keeping the last good one" }
        #expect(rejected?["diagnostics"]?.contains("policies.yaml:16:") == true, "\(rejected ?? [:])")
        let kept = try await Self.sample(2) { try await world.desired("redash-adhoc-worker") }
        #expect(kept.allSatisfy { $0 == 3 } && controller.process.isRunning)

        // A valid edit lowers the cap: applied at the next tick, as a bounds move.
        try controller.rewritePolicy(testPolicy(adhocMax: 2))
        #expect(await eventually(timeout: 10) { (try? await world.desired("redash-adhoc-worker")) == 2 })
        #expect(controller.logLines.contains { $0["message"]?.hasPrefix("policy reloaded from \(controller.policyPath) (version ") == true })

        // A file nested 7,000 deep moved over the running policy: rejected, and the controller
        // lives on (it used to crash in the YAML parser).
        try controller.rewritePolicy("services: " + String(repeating: "[", count: 7000) + String(repeating: "]", count: 7000) + "\n")
        #expect(await eventually(timeout: 10) {
            controller.logLines.contains { $0["message"] == "new policy rejected; keeping the last good one" && $0["diagnostics"]?.contains("nested more than 64") == true }
        }, "\(controller.process.output.suffix(2000))")
        #expect(controller.process.isRunning)

        // Repointing Redis takes a restart: refused, said, and the old connection kept.
        try controller.rewritePolicy(testPolicy(adhocMax: 2).replacingOccurrences(of: "url: ${REDIS_URL}", with: "url: redis://127.0.0.1:1/0"))
        #expect(await eventually(timeout: 10) {
            controller.logLines.contains { $0["message"]?.hasPrefix("new policy not applied: it changes what the controller is connected to") == true }
        }, "\(controller.process.output.suffix(2000))")
        let refusal = controller.logLines.last { $0["message"]?.hasPrefix("new policy not applied") == true }
        #expect(refusal?["changed"]?.contains("redis.url") == true, "\(refusal ?? [:])")
        #expect(await eventually(timeout: 5) { (try? await controller.get("/readyz").status) == 200 }, "still reading the old Redis")

        // The policy file is deleted: said once, counted, the current policy kept.
        try FileManager.default.removeItem(atPath: controller.policyPath)
        #expect(await eventually(timeout: 10) { controller.logLines.contains { $0["message"] == "the policy cannot be read; keeping the current policy" } })
        try await Task.sleep(for: .seconds(3))
        #expect(controller.logLines.filter { $0["message"] == "the policy cannot be read; keeping the current policy" }.count == 1)
        #expect((try await controller.get("/metrics").text).contains(#"redash_autoscaler_policy_reload_failures_total{reason="unreadable"} 1"#))

        let stopping = Date()
        controller.process.signal(SIGTERM)
        #expect(await eventually(timeout: 10, interval: 0.05) { !controller.process.isRunning })
        #expect(Date().timeIntervalSince(stopping) < 15, "past the shutdown grace (ControllerLoop.shutdownGrace, 15 s)")
        #expect(controller.process.terminationStatus == 0)
        #expect(controller.logLines.last?["message"] == "controller stopped")
    }
}
