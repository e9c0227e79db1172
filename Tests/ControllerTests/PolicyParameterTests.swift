import AWSClient
import AWSTestSupport
import AutoscalerCore
import Controller
import Foundation
import IntegrationSupport
import Logging
import PolicyFile
import ServiceLifecycle
import Testing
import TestSupport

/// The policy in SSM Parameter Store (issue 16): read at start, polled while `run` runs, with
/// the reload rules of a file. moto plays Parameter Store with IAM authentication on.
@Suite("Policy in Parameter Store", .testThreads, .serialized)
struct PolicyParameterTests {
    static let name = "/redash-autoscaler/policy"
    static let rejected = "new policy rejected; keeping the last good one"
    static let unreadable = "the policy cannot be read; keeping the current policy"

    @Test("run --policies ssm:/name: a new version is applied and logged with its version, an invalid one rejected with the old kept, a deleted parameter said loudly once while the controller runs on")
    func runFollowsTheParameter() async throws {
        let world = try await ControllerWorld.make(services: ControllerEndToEndTests.services)
        let store = try ParameterStoreLab(world.moto, keys: world.keys.admin)
        try await store.put(Self.name, testPolicy(), type: "SecureString")
        try await world.enqueue("queries", count: 5, seconds: 60)
        let controller = try await ControllerProcess.start(
            policy: "# not read: the policy is in Parameter Store\n", environment: world.environment(),
            arguments: ["--policy-poll", "1s"], location: "ssm:\(Self.name)")
        let starting = controller.logLines.first { $0["message"] == "controller starting" }
        #expect(starting?["policy"] == "ssm:\(Self.name)" && starting?["policyVersion"] == "1", "\(starting ?? [:])")
        #expect(await eventually(timeout: 15) { (try? await world.desired("redash-adhoc-worker")) == 3 }, "\(controller.process.output.suffix(2000))")

        // A new version lowers the cap: applied at the next poll, and named in the log.
        #expect(try await store.put(Self.name, testPolicy(adhocMax: 2), type: "SecureString") == 2)
        #expect(await eventually(timeout: 15) { (try? await world.desired("redash-adhoc-worker")) == 2 }, "\(controller.process.output.suffix(2000))")
        let reloaded = controller.logLines.first { $0["message"]?.hasPrefix("policy reloaded") == true }
        #expect(reloaded?["message"] == "policy reloaded from ssm:\(Self.name) (version 2)", "\(reloaded ?? [:])")
        #expect(reloaded?["policyVersion"] == "2" && reloaded?["policySource"] == "ssm:\(Self.name)")

        // An invalid version: rejected with the parameter, line and column; the old policy holds.
        #expect(try await store.put(Self.name, testPolicy(adhocMax: -2), type: "SecureString") == 3)
        #expect(await eventually(timeout: 15) { controller.logLines.contains { $0["message"] == Self.rejected } }, "\(controller.process.output.suffix(2000))")
        let rejection = controller.logLines.first { $0["message"] == Self.rejected }
        #expect(rejection?["policyVersion"] == "3", "\(rejection ?? [:])")
        #expect(rejection?["diagnostics"]?.contains("ssm:\(Self.name):16:") == true, "\(rejection ?? [:])")
        let kept = try await ControllerEndToEndTests.sample(2) { try await world.desired("redash-adhoc-worker") }
        #expect(kept.allSatisfy { $0 == 2 }, "\(kept)")
        #expect((try await controller.get("/metrics").text).contains(#"redash_autoscaler_policy_reload_failures_total{reason="invalid"} 1"#))

        // The parameter is deleted: one error line, not one per poll; reconciles go on.
        try await store.delete(Self.name)
        #expect(await eventually(timeout: 15) { controller.logLines.contains { $0["message"] == Self.unreadable } }, "\(controller.process.output.suffix(2000))")
        try await Task.sleep(for: .seconds(4))
        let lost = controller.logLines.filter { $0["message"] == Self.unreadable }
        #expect(lost.count == 1, "\(lost)")
        #expect(lost.first?["level"] == "error" && lost.first?["error"]?.contains("SSM parameter \(Self.name) not found in region") == true, "\(lost)")
        #expect(controller.process.isRunning)
        #expect((try await controller.get("/readyz")).status == 200, "reconciles go on with the last good policy")
        try await world.enqueue("queries", count: 5, seconds: 60)
        let during = try await ControllerEndToEndTests.sample(2) { try await world.desired("redash-adhoc-worker") }
        #expect(during.allSatisfy { $0 == 2 }, "still capped by version 2: \(during)")

        // Back: said once.
        try await store.put(Self.name, testPolicy(adhocMax: 2), type: "SecureString")
        #expect(await eventually(timeout: 15) { controller.logLines.contains { $0["message"] == "the policy can be read again" } }, "\(controller.process.output.suffix(2000))")
        controller.process.signal(SIGTERM)
        #expect(await eventually(timeout: 10, interval: 0.05) { !controller.process.isRunning })
        #expect(controller.process.terminationStatus == 0)
    }

    @Test("run with a policy parameter it may not read does not start, and says which permission is missing")
    func deniedAtStart() async throws {
        let world = try await ControllerWorld.make(services: ControllerEndToEndTests.services)
        let store = try ParameterStoreLab(world.moto, keys: world.keys.admin)
        try await store.put(Self.name, testPolicy(), type: "SecureString")
        let port = try Ports.free()
        let process = try ManagedProcess(
            try Repository.binary, ["run", "--policies", "ssm:\(Self.name)", "--listen", "127.0.0.1:\(port)", "--log-format", "json"],
            environment: world.environment(world.keys.readonly))
        #expect(await eventually(timeout: 30, interval: 0.1) { !process.isRunning })
        #expect(process.terminationStatus == 1)
        #expect(process.output.contains("must allow ssm:GetParameter on it"), "\(process.output)")
        #expect(!process.output.contains("redash-adhoc-worker"), "the value is not printed: \(process.output)")
    }

    @Test("a lost parameter keeps the last good policy: said at once, then once a minute with the count, and its return said once")
    func lostParameterIsThrottled() async throws {
        let moto = try await LocalHTTPServer.moto()
        let world = try await Lab.setUpMoto(moto, services: ["adhoc"])
        let store = try ParameterStoreLab(moto, keys: world.admin)
        let text = "cluster: redash\ninterval: 5s\nredis:\n  url: redis://127.0.0.1:1/0\n  layout: rq\nservices:\n  adhoc: {queues: [queries], minTasks: 1, maxTasks: 6, workersPerTask: 1}\n"
        try await store.put(Self.name, text)
        let policy = try #require(PolicyLoader.parse(text, file: "ssm:\(Self.name)", environment: [:]).policy)
        let source = try #require(try StoredTextSource.make(
            .ssmParameter(name: Self.name), regionFlag: Lab.region, profile: nil, environment: Lab.environment(world.controller, endpoint: moto.url),
            retry: Lab.quickRetry))
        let logs = CollectedLogs(), metrics = MetricsRegistry(), clock = SettableClock()
        let reconciler = Reconciler(
            policy: policy, ports: .init(queues: FakeQueues(), cluster: FakeCluster(["adhoc": 1]), applier: PlanApplier.dryRun),
            metrics: metrics, controllerName: "test", logger: logs.logger())
        let loop = ControllerLoop(
            reconciler: reconciler, policySource: source, initialText: text, pollPeriod: .seconds(30), environment: [:], metrics: metrics,
            logger: logs.logger(), now: clock.reading)

        try await store.put(Self.name, text.replacingOccurrences(of: "maxTasks: 6", with: "maxTasks: 4"))
        await loop.reload(reason: "changed", force: false)
        #expect(await reconciler.policy.services.first?.maxTasks == 4)
        #expect(logs.all.contains { $0.hasPrefix("notice policy reloaded from ssm:\(Self.name) (version 2)") }, "\(logs.all)")

        try await store.delete(Self.name)
        for _ in 0..<3 {
            await loop.reload(reason: "changed", force: false)
            clock.advance(by: .seconds(10))
        }
        var lost = logs.all.filter { $0.contains(Self.unreadable) }
        #expect(lost.count == 1, "\(lost)")
        #expect(lost.first?.hasPrefix("error ") == true && lost.first?.contains("not found") == true, "\(lost)")
        clock.advance(by: .seconds(40))
        await loop.reload(reason: "changed", force: false)
        lost = logs.all.filter { $0.contains(Self.unreadable) }
        #expect(lost.count == 2, "\(lost)")
        #expect(lost.last?.contains("repeated=3") == true, "the two held back and this one: \(lost)")
        #expect(await reconciler.policy.services.first?.maxTasks == 4, "the last good policy stays")
        #expect(metrics.render().contains(#"redash_autoscaler_policy_reload_failures_total{reason="unreadable"} 2"#), "one per line logged")

        try await store.put(Self.name, text.replacingOccurrences(of: "maxTasks: 6", with: "maxTasks: 4"))
        await loop.reload(reason: "changed", force: false)
        let back = logs.all.filter { $0.contains("the policy can be read again") }
        #expect(back.count == 1 && back.first?.contains("failedReads=4") == true, "\(back)")
        #expect(logs.all.filter { $0.contains("policy reloaded") }.count == 1, "the same text again is no reload")

        // The read-only user may not read it: the error names the permission; the policy stays.
        let denied = try #require(try StoredTextSource.make(
            .ssmParameter(name: Self.name), regionFlag: Lab.region, profile: nil, environment: Lab.environment(world.readonly, endpoint: moto.url),
            retry: Lab.quickRetry))
        let deniedLogs = CollectedLogs()
        let deniedLoop = ControllerLoop(
            reconciler: reconciler, policySource: denied, initialText: text, pollPeriod: .seconds(30), environment: [:], metrics: metrics,
            logger: deniedLogs.logger(), now: clock.reading)
        await deniedLoop.reload(reason: "changed", force: false)
        #expect(deniedLogs.all.contains { $0.hasPrefix("error \(Self.unreadable)") && $0.contains("must allow ssm:GetParameter") }, "\(deniedLogs.all)")
        #expect(await reconciler.policy.services.first?.maxTasks == 4)
    }

    @Test("a Parameter Store that never answers delays no reconcile: the poll runs beside them, and shutdown does not wait for it")
    func silentParameterStore() async throws {
        // Accepts connections and never answers: a black-holed VPC endpoint.
        let silent = try await offCooperativePool {
            try LocalHTTPServer(Repository.python, ["-c", """
                import socket, sys
                server = socket.socket()
                server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                server.bind(("127.0.0.1", int(sys.argv[1])))
                server.listen(16)
                held = []
                while True:
                    connection, _ = server.accept()
                    held.append(connection)
                    print("accepted", flush=True)
                """, "{port}"])
        }
        let keys = Lab.Keys(accessKeyID: "AKIASILENT", secretAccessKey: "silent-secret")
        let source = try #require(try StoredTextSource.make(
            .ssmParameter(name: Self.name), regionFlag: Lab.region, profile: nil, environment: Lab.environment(keys, endpoint: silent.url),
            retry: RetryPolicy(maxAttempts: 1), timeout: .seconds(120)))
        let policy = Policy(
            cluster: "redash", interval: .seconds(1), redis: RedisSettings(url: SecretURL("redis://127.0.0.1:1/0"), layout: .rq),
            services: [ServicePolicy(name: "adhoc", queues: ["queries"], minTasks: 1, maxTasks: 6, workersPerTask: 1)])
        let logs = CollectedLogs(), metrics = MetricsRegistry()
        let reconciler = Reconciler(
            policy: policy, ports: .init(queues: FakeQueues(), cluster: FakeCluster(["adhoc": 1]), applier: PlanApplier.dryRun),
            metrics: metrics, controllerName: "test", logger: logs.logger())
        let loop = ControllerLoop(
            reconciler: reconciler, policySource: source, initialText: nil, pollPeriod: .seconds(1), environment: [:], metrics: metrics,
            logger: logs.logger())
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let group = ServiceGroup(configuration: .init(services: [.init(service: loop)], logger: quiet))
        func reconciles() -> Int {
            metrics.render().split(separator: "\n").filter { $0.hasPrefix("redash_autoscaler_reconciles_total{") }
                .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
        }
        var whileSilent = (before: 0, after: 0)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // The readiness probe was one connection; the poll's read is the next.
            #expect(await eventually(timeout: 30) { silent.output.components(separatedBy: "accepted").count - 1 >= 2 }, "\(silent.output)")
            whileSilent.before = reconciles()
            #expect(await eventually(timeout: 30) { reconciles() >= whileSilent.before + 3 })
            whileSilent.after = reconciles()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(whileSilent.after >= whileSilent.before + 3, "reconciles went on while the read hung: \(whileSilent)")
        let errors = logs.all.filter { $0.hasPrefix("error") }
        #expect(!errors.contains { $0.contains(Self.unreadable) }, "the read was under way until shutdown cancelled it, which is no failure: \(errors)")
    }
}
