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
}
