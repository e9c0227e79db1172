import Controller
import AutoscalerCore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
import IntegrationSupport
#endif

@Suite("Metrics", .testThreads)
struct MetricsTests {
    @Test("Prometheus text through swift-metrics: help, type, labels escaped, histogram buckets, cleared series gone")
    func prometheus() {
        let metrics = MetricsRegistry()
        metrics.set(.queuePendingJobs, ["queue": "queries"], 7)
        metrics.increment(.errors, ["dependency": "ecs"])
        metrics.increment(.errors, ["dependency": "ecs"])
        metrics.set(.desiredTasks, ["service": #"odd "name""#], 2)
        metrics.set(.desiredTasks, ["service": "gone"], 3)
        metrics.observeReconcile(.milliseconds(30))
        var text = metrics.render()
        #expect(text.contains("# HELP redash_autoscaler_queue_pending_jobs jobs waiting in the queue\n# TYPE redash_autoscaler_queue_pending_jobs gauge\nredash_autoscaler_queue_pending_jobs{queue=\"queries\"} 7.0\n"), "\(text)")
        #expect(text.contains("# TYPE redash_autoscaler_errors_total counter\nredash_autoscaler_errors_total{dependency=\"ecs\"} 2\n"), "\(text)")
        #expect(text.contains(#"redash_autoscaler_desired_tasks{service="odd \"name\""} 2.0"#), "\(text)")
        #expect(text.contains("# TYPE redash_autoscaler_reconcile_duration_seconds histogram"), "\(text)")
        #expect(text.contains("redash_autoscaler_reconcile_duration_seconds_bucket{le=\"0.025\"} 0"), "\(text)")
        #expect(text.contains("redash_autoscaler_reconcile_duration_seconds_bucket{le=\"0.05\"} 1"), "\(text)")
        #expect(text.contains("redash_autoscaler_reconcile_duration_seconds_count 1"), "\(text)")

        // A second registry is independent: values are per registry, not process-wide.
        #expect(!MetricsRegistry().render().contains(Metric.errors.rawValue))

        metrics.clear(.desiredTasks)
        text = metrics.render()
        #expect(!text.contains("redash_autoscaler_desired_tasks{"), "\(text)")
        #expect(text.contains("redash_autoscaler_queue_pending_jobs{queue=\"queries\"} 7.0"))
        // A series can come back after it was cleared.
        metrics.set(.desiredTasks, ["service": "gone"], 4)
        #expect(metrics.render().contains(#"redash_autoscaler_desired_tasks{service="gone"} 4.0"#))
    }

    @Test("DogStatsD over UDP: gauges with tags, counters as increases since the last flush")
    func dogStatsD() async throws {
        let receiver = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(receiver) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                guard bind(receiver, $0, length) == 0, getsockname(receiver, $0, &length) == 0 else { throw POSIXError(.EADDRINUSE) }
            }
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(receiver, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        func receive() -> String {
            var buffer = [UInt8](repeating: 0, count: 2048)
            let count = recv(receiver, &buffer, buffer.count, 0)
            return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
        }

        let metrics = MetricsRegistry(dogStatsD: true)
        let sender = try await DogStatsDSender.make(target: "127.0.0.1:\(UInt16(bigEndian: address.sin_port))")
        metrics.set(.queuePendingJobs, ["queue": "queries"], 7)
        metrics.set(.desiredTasks, ["service": "adhoc"], 2)
        metrics.increment(.scaleActions, ["service": "adhoc", "direction": "up"])
        metrics.observeReconcile(.milliseconds(250))
        sender.flush(metrics)
        let first = receive().split(separator: "\n").map(String.init)
        #expect(first.contains("redash_autoscaler.queue_pending_jobs:7|g|#queue:queries"), "\(first)")
        #expect(first.contains("redash_autoscaler.scale_actions_total:1|c|#direction:up,redash_service:adhoc"), "\(first)")
        #expect(first.contains("redash_autoscaler.reconcile_duration_seconds:0.25|h"), "\(first)")
        // The same records reached Prometheus through the multiplexer.
        #expect(metrics.render().contains(#"redash_autoscaler_scale_actions_total{direction="up",service="adhoc"} 1"#))

        // Counters are sent as the increase since the last flush; gauges every time; a cleared
        // gauge no longer.
        metrics.increment(.scaleActions, ["service": "adhoc", "direction": "up"])
        metrics.increment(.scaleActions, ["service": "adhoc", "direction": "up"])
        metrics.clear(.desiredTasks)
        sender.flush(metrics)
        let second = receive().split(separator: "\n").map(String.init)
        #expect(second.contains("redash_autoscaler.scale_actions_total:2|c|#direction:up,redash_service:adhoc"), "\(second)")
        #expect(second.contains("redash_autoscaler.queue_pending_jobs:7|g|#queue:queries"), "\(second)")
        #expect(!second.contains { $0.hasPrefix("redash_autoscaler.desired_tasks") }, "\(second)")
        #expect(!second.contains { $0.hasPrefix("redash_autoscaler.reconcile_duration_seconds") }, "\(second)")
        await #expect(throws: SetupFailure.self) { try await DogStatsDSender.make(target: "datadog-agent") }

        // With the unified service tags and DD_TAGS, every line carries them after its own.
        let environment = ["DD_ENV": "staging", "DD_VERSION": "0.2.0", "DD_TAGS": "team:data, tier:bi|x"]
        #expect(DogStatsDSender.constantTags(environment: environment) == ["service:redash-autoscaler", "env:staging", "version:0.2.0", "team:data", "tier:bi_x"])
        let tagged = try await DogStatsDSender.make(
            target: "127.0.0.1:\(UInt16(bigEndian: address.sin_port))", constantTags: DogStatsDSender.constantTags(environment: environment))
        tagged.flush(metrics)
        let third = receive().split(separator: "\n").map(String.init)
        #expect(third.contains("redash_autoscaler.queue_pending_jobs:7|g|#queue:queries,service:redash-autoscaler,env:staging,version:0.2.0,team:data,tier:bi_x"), "\(third)")

        // An applied decision as an event: lengths in UTF-8 bytes (the arrow is three), the
        // reason's line breaks escaped, tags for the service and direction.
        let event = DogStatsDEvent(
            title: "redash-autoscaler scaled adhoc 1 → 3", text: "3 pending\nfor 40 s", at: Instant(secondsSinceEpoch: 1_764_590_400),
            aggregationKey: "redash-autoscaler-adhoc", tags: ["redash_service:adhoc", "direction:up"])
        sender.event(event)
        let received = receive()
        #expect(received == "_e{38,19}:redash-autoscaler scaled adhoc 1 → 3|3 pending\\nfor 40 s|d:1764590400|k:redash-autoscaler-adhoc|t:info|s:redash-autoscaler|#redash_service:adhoc,direction:up", "\(received)")
    }
}
