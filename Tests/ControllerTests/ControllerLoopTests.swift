import AutoscalerCore
import Controller
import Logging
import ServiceLifecycle
import Testing
import TestSupport
import IntegrationSupport

@Suite("Controller loop", .testThreads)
struct ControllerLoopTests {
    @Test("SIGTERM during a reconcile lets it finish within its grace; it is not cancelled at once")
    func shutdownGrace() async throws {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 1])
        queues.set("queries", pending: 4)
        // ECS answers slowly: the reconcile is under way when shutdown starts. Half a second a
        // read: under way for a second or more, and far inside the grace on a loaded machine
        // (2 s a read took the whole 15 s beside two CPU-bound processes).
        cluster.setReadDelay(.milliseconds(500))
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let reconciler = Reconciler(
            policy: ReconcilerTests.policy, ports: .init(queues: queues, cluster: cluster, applier: PlanApplier(writer: cluster)),
            metrics: MetricsRegistry(), controllerName: "test", logger: quiet)
        let loop = ControllerLoop(reconciler: reconciler, policySource: nil, initialText: nil, environment: [:], metrics: MetricsRegistry(), logger: quiet)
        let group = ServiceGroup(configuration: .init(services: [.init(service: loop)], logger: quiet))
        var shutdownAt = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Shutdown once the reconcile is under way (its probe done, ECS answering slowly),
            // not after a fixed time a loaded machine may not have reached it by.
            while queues.probeCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
            try await Task.sleep(for: .milliseconds(200))
            shutdownAt = ContinuousClock.now
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let took = ContinuousClock.now - shutdownAt
        #expect(await reconciler.lastReport != nil, "the reconcile under way was cancelled")
        #expect(cluster.desiredCountWrites.map(\.1) == [4], "it finished and applied its decision")
        // Past the grace, the loop cancels the reconcile: the two expectations above tell that
        // apart. Its length in wall time is not asserted: the loop's code shares Swift's threads
        // with the parallel pass's other in-process controllers, and a finished reconcile's
        // shutdown measured 17.8 s there once (0.3 s alone).
        print("shutdown grace: a reconcile under way finished and the loop ended \(took) after SIGTERM (grace \(ControllerLoop.shutdownGrace))")
    }

    @Test("with reactInterval the queues are watched between reconciles: new work starts the next reconcile long before the interval", .timeLimit(.minutes(3)))
    func queueWatchStartsReconcile() async throws {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 1])
        queues.set("queries", pending: 0, running: 1)
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let base = ReconcilerTests.policy
        let policy = Policy(
            cluster: base.cluster, interval: .seconds(120), redis: base.redis, services: base.services, reactInterval: .milliseconds(200))
        let metrics = MetricsRegistry()
        let reconciler = Reconciler(
            policy: policy, ports: .init(queues: queues, cluster: cluster, applier: PlanApplier(writer: cluster)),
            metrics: metrics, controllerName: "test", logger: quiet)
        let loop = ControllerLoop(reconciler: reconciler, policySource: nil, initialText: nil, environment: [:], metrics: metrics, logger: quiet)
        let group = ServiceGroup(configuration: .init(services: [.init(service: loop)], logger: quiet))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while await reconciler.lastReport == nil { try await Task.sleep(for: .milliseconds(20)) }
            let firstAt = await reconciler.lastReport?.at
            let quietProbes = queues.probeCount
            // A few watches (200 ms apart; up to 30 s on a machine loaded by other tests).
            #expect(await eventually(timeout: 30, interval: 0.05) { queues.probeCount >= quietProbes + 3 }, "the queues are read between reconciles")
            #expect(cluster.desiredCountWrites.isEmpty, "nothing new: no reconcile, no write")
            #expect(await reconciler.lastReport?.at == firstAt, "no reconcile before the interval")
            // Four queries arrive: the next reconcile is due in two minutes, the watch starts it now
            // (60 s only bounds a machine loaded by other tests).
            queues.set("queries", pending: 4, running: 1, oldestAge: .seconds(1))
            let scaled = await eventually(timeout: 60, interval: 0.1) { (cluster.count("adhoc") ?? 0) > 1 }
            #expect(scaled, "writes: \(cluster.desiredCountWrites)")
            #expect(metrics.render().contains("redash_autoscaler_early_reconciles_total 1"), "\(metrics.render().split(separator: "\n").filter { $0.contains("early") })")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
