import AutoscalerCore
import Controller
import IntegrationSupport
import Logging
import ServiceLifecycle
import Testing
import TestSupport

@Suite("Controller loop")
struct ControllerLoopTests {
    @Test("SIGTERM during a reconcile lets it finish within its grace; it is not cancelled at once")
    func shutdownGrace() async throws {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 1])
        queues.set("queries", pending: 4)
        // ECS answers slowly: the reconcile is under way when shutdown starts.
        cluster.setReadDelay(.seconds(2))
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let reconciler = Reconciler(
            policy: ReconcilerTests.policy, ports: .init(queues: queues, cluster: cluster, applier: LiveApplier(writer: cluster)),
            metrics: MetricsRegistry(), controllerName: "test", logger: quiet)
        let loop = ControllerLoop(reconciler: reconciler, policySource: nil, initialText: nil, environment: [:], metrics: MetricsRegistry(), logger: quiet)
        let group = ServiceGroup(configuration: .init(services: [.init(service: loop)], logger: quiet))
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Until the reconcile is under way, not a fixed half second: on a loaded machine the
            // loop may not have begun by then, and shutdown would rightly skip the reconcile.
            #expect(await eventually(timeout: 30, interval: 0.02) { cluster.serviceReadsStarted >= 1 })
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let took = ContinuousClock.now - started
        #expect(await reconciler.lastReport != nil, "the reconcile under way was cancelled")
        #expect(cluster.desiredCountWrites.map(\.1) == [4], "it finished and applied its decision")
        #expect(took < ControllerLoop.shutdownGrace, "and shutdown did not wait past it: \(took)")
    }
}
