import AWSClient
import AWSTestSupport
import AutoscalerCore
import Controller
import Logging
import Testing
import TestSupport
import IntegrationSupport

/// The reconciler on the budgeted ECS view: service descriptions may be a tick or more old, so
/// every write is planned again from what ECS says at that moment.
@Suite("Reconcile on cached ECS readings", .testThreads)
struct CachedECSReconcileTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test("a plan made on a cached desiredCount is made again from ECS's answer before writing: an outside raise is held, not undone")
    func freshBeforeWrite() async throws {
        let ecs = InMemoryECS()
        let services = (1...20).map { ServicePolicy(name: "worker-\($0)", queues: ["q\($0)"], minTasks: 2, maxTasks: 4, workersPerTask: 1) }
        for service in services { ecs.addService(service.name, desired: 2) }
        let view = ECSClusterView(client: ecs.client())
        let queues = FakeQueues()
        let policy = Policy(
            cluster: "redash", interval: .seconds(5), redis: RedisSettings(url: SecretURL("redis://127.0.0.1:1/0"), layout: .rq),
            services: services)
        let reconciler = Reconciler(
            policy: policy, ports: .init(queues: queues, cluster: view, applier: PlanApplier(writer: view), apiCalls: view),
            metrics: MetricsRegistry(), controllerName: "test", logger: Self.quiet)
        let start = Build.monday
        let first = await reconciler.reconcile(now: start)
        #expect(first.apiCalls == ["DescribeServices": 2])

        // Someone raises worker-9 to 5 by hand; its queue fills. worker-9 is not in this tick's
        // share of descriptions (the view reads the oldest ten a tick, by name on a tie).
        ecs.setDesired("worker-9", 5)
        queues.set("q9", pending: 40)
        _ = ecs.calls(reset: true)
        let second = await reconciler.reconcile(now: start + .seconds(5))
        let worker9 = try #require(second.services.first { $0.name == "worker-9" })
        #expect(worker9.state?.desired == 5, "the write was planned on the stale 2")
        #expect(worker9.outcome == .externalChangeRespected(until: start + .seconds(5) + ServicePolicy.defaultExternalChangeHold))
        #expect(ecs.desired("worker-9") == 5, "a cached reading caused a scale-in from 5 to 4")
        // One batch of the rotation and one fresh read for the write.
        #expect(ecs.calls() == ["DescribeServices": 2])
        #expect(second.apiCallCount == 2)
    }

    @Test("a write planned on a fresh reading is sent without another read")
    func freshWrite() async throws {
        let ecs = InMemoryECS()
        ecs.addService("adhoc", desired: 1)
        let view = ECSClusterView(client: ecs.client())
        let queues = FakeQueues()
        let policy = Policy(
            cluster: "redash", interval: .seconds(5), redis: RedisSettings(url: SecretURL("redis://127.0.0.1:1/0"), layout: .rq),
            services: [ServicePolicy(name: "adhoc", queues: ["queries"], minTasks: 1, maxTasks: 6, workersPerTask: 1)])
        let reconciler = Reconciler(
            policy: policy, ports: .init(queues: queues, cluster: view, applier: PlanApplier(writer: view), apiCalls: view),
            metrics: MetricsRegistry(), controllerName: "test", logger: Self.quiet)
        queues.set("queries", pending: 3)
        let report = await reconciler.reconcile(now: Build.monday)
        #expect(report.services[0].outcome == .applied)
        #expect(ecs.desired("adhoc") == 3)
        #expect(report.apiCalls == ["DescribeServices": 1, "UpdateService": 1])
    }

    @Test("protection for two services goes out ten tasks a call; a failed call withholds the scale-in of its service only")
    func batchedProtection() async throws {
        let ecs = InMemoryECS()
        var tasks: [String: [String]] = [:]
        for name in ["a", "b"] {
            ecs.addService(name, desired: 12)
            tasks[name] = (0..<10).map { ecs.addTask(.init(service: name, ip: "10.1.\(name == "a" ? 1 : 2).\($0)")) }
        }
        ecs.failProtectionCalls(naming: tasks["a"]![3])
        let view = ECSClusterView(client: ecs.client())
        func scaleIn(_ name: String) -> ServicePlan {
            ServicePlan(
                decision: Decision(service: name, at: Build.monday, current: 12, desired: 10, recommendation: 10, code: .backlog, reason: "test", figures: DecisionFigures()),
                action: .set(10), protection: ProtectionPlan(protect: tasks[name]!))
        }
        // A wide write deadline: under a loaded test run the first call can use up the usual
        // five seconds, and the second batch would (rightly) not be sent.
        let results = await PlanApplier(writer: view, writeDeadline: .seconds(120)).apply([("a", scaleIn("a")), ("b", scaleIn("b"))])
        #expect(ecs.calls()["UpdateTaskProtection"] == 2)
        guard case .applied(let changeA) = results[0].protection else { Issue.record("a: \(results[0].protection)"); return }
        #expect(changeA.protected.isEmpty && changeA.refused.count == 10)
        if case .withheld = results[0].scale {} else { Issue.record("a was scaled in with unprotected busy tasks: \(results[0].scale)") }
        #expect(results[1].protection == .applied(ProtectionChange(protected: tasks["b"]!)))
        #expect(results[1].scale == .sent)
        #expect(ecs.desired("a") == 12 && ecs.desired("b") == 10)
    }
}

/// Capacity that never arrives, through the real ECS client and cluster view on an in-memory ECS
/// whose tasks never start, with ECS's own event saying why.
@Suite("Capacity that never arrives, through the ECS client", .testThreads)
struct CapacityStallReconcileTests {
    @Test("tasks asked for never start: reported within the start timeout with ECS's reason; desiredCount stops growing and is not lowered")
    func stallsWithReason() async throws {
        let ecs = InMemoryECS()
        ecs.addService("adhoc", desired: 2)
        for octet in 1...2 { ecs.addTask(.init(service: "adhoc", ip: "10.0.0.\(octet)")) }
        let view = ECSClusterView(client: ecs.client())
        let queues = FakeQueues()
        queues.set("queries", pending: 40, oldestAge: .seconds(60))
        var service = ServicePolicy(name: "adhoc", queues: ["queries"], minTasks: 1, maxTasks: 40, workersPerTask: 1)
        service.scaleUp = ScalingBehavior(stabilizationWindow: .zero, maxStep: 2, cooldown: .zero)
        let policy = Policy(
            cluster: "redash", interval: .seconds(5), redis: RedisSettings(url: SecretURL("redis://127.0.0.1:1/0"), layout: .rq),
            services: [service], ecs: ECSSettings(serviceRefresh: .zero, taskStartTimeout: .seconds(30)))
        let logs = CollectedLogs(), metrics = MetricsRegistry()
        let reconciler = Reconciler(
            policy: policy, ports: .init(queues: queues, cluster: view, applier: PlanApplier(writer: view), apiCalls: view),
            metrics: metrics, controllerName: "test", logger: logs.logger())
        var desired: [Int] = []
        var stalledAt: Int?
        for tick in 0..<16 {
            let now = Build.monday + .seconds(Double(tick * 5))
            if tick == 1 { ecs.addEvent("adhoc", "(service adhoc) was unable to place a task. Reason: Capacity is unavailable at this time.", at: now.secondsSinceEpoch) }
            let report = await reconciler.reconcile(now: now)
            desired.append(ecs.desired("adhoc") ?? -1)
            if stalledAt == nil, report.services[0].decision.code == .capacityStalled { stalledAt = tick }
        }
        let stall = try #require(stalledAt, "never reported: \(desired)")
        // Short from the tick after the first write (5 s): reported once more than 30 s have
        // passed since, at 40 s.
        #expect(stall == 8, "\(desired)")
        #expect(desired[stall...].allSatisfy { $0 == desired[stall] }, "desiredCount grew after the stall: \(desired)")
        #expect(desired[stall] > 2 && desired[stall] < 40)
        #expect(metrics.render().contains(#"redash_autoscaler_capacity_stalled{service="adhoc"} 1.0"#))
        #expect(logs.all.contains { $0.contains("tasks asked for are not starting") && $0.contains("Capacity is unavailable") }, "\(logs.all.suffix(5))")
    }
}
