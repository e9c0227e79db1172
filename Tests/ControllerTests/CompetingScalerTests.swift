import AutoscalerCore
import Controller
import Synchronization
import Testing
import TestSupport
import IntegrationSupport

/// Two autoscalers on one desiredCount undo each other: while an Application Auto Scaling target
/// is active on a service, the controller decides and reports but does not write it.
@Suite("A competing autoscaler", .testThreads)
struct CompetingScalerTests {
    final class Targets: CompetingScalers {
        let targets = Mutex<[String: String]>([:])
        func competing(services: [String], now: Instant) async throws -> [String: String] { targets.withLock { $0 } }
    }

    @Test("a target on adhoc: its scale-up is withheld with the target named and the fix; the other service scales; gone, adhoc scales")
    func withheldWhileRegistered() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 1, "scheduled": 1])
        let targets = Targets()
        targets.targets.withLock { $0 = ["adhoc": "service/redash/adhoc"] }
        let reconciler = Reconciler(
            policy: ModeTests.policy(),
            ports: .init(queues: queues, cluster: cluster, applier: PlanApplier(writer: cluster), competitors: targets),
            metrics: MetricsRegistry(), controllerName: "test", logger: ReconcilerTests.quiet)
        queues.set("queries", pending: 8, running: 1, oldestAge: .seconds(90))
        queues.set("scheduled_queries", pending: 8, running: 1, oldestAge: .seconds(90))
        let report = await reconciler.reconcile(now: ModeTests.at(0))
        let adhoc = report.services.first { $0.name == "adhoc" }
        guard case .withheld(let reason)? = adhoc?.outcome else {
            Issue.record("adhoc was not withheld: \(String(describing: adhoc?.outcome))")
            return
        }
        #expect(reason.contains("service/redash/adhoc") && reason.contains("deregister"), "\(reason)")
        #expect(cluster.count("adhoc") == 1)
        #expect(cluster.count("scheduled") ?? 0 > 1, "the other service is not held back")

        targets.targets.withLock { $0 = [:] }
        _ = await reconciler.reconcile(now: ModeTests.at(5))
        #expect(cluster.count("adhoc") ?? 0 > 1, "written once the target is gone")
    }
}
