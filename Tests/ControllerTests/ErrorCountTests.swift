import AutoscalerCore
import Controller
import Testing
import TestSupport
import IntegrationSupport

@Suite("errors_total counts ticks", .testThreads)
struct ErrorCountTests {
    @Test("Redis gone for two ticks with two queues: redis errors count 2 (a tick each), not 4 (a queue each)")
    func perTick() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 1, "scheduled": 1])
        let metrics = MetricsRegistry()
        let reconciler = ReconcilerTests.reconciler(queues: queues, cluster: cluster, policy: ModeTests.policy(), metrics: metrics)
        queues.setUnavailable("redis 127.0.0.1:1: cannot connect")
        let first = await reconciler.reconcile(now: ModeTests.at(0))
        #expect(first.errors.filter { $0.dependency == .redis }.count >= 2, "both queues' readings fail: \(first.errors)")
        _ = await reconciler.reconcile(now: ModeTests.at(5))
        #expect(metrics.render().contains(#"redash_autoscaler_errors_total{dependency="redis"} 2"#), "\(metrics.render())")
    }
}
