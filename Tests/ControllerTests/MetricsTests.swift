import Controller
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Metrics")
struct MetricsTests {
    @Test("Prometheus text: help, type, labels escaped, histogram buckets")
    func prometheus() {
        let metrics = MetricsRegistry()
        metrics.set("redash_autoscaler_queue_pending_jobs", ["queue": "queries"], 7)
        metrics.increment("redash_autoscaler_errors_total", ["dependency": "ecs"])
        metrics.increment("redash_autoscaler_errors_total", ["dependency": "ecs"])
        metrics.set("redash_autoscaler_desired_tasks", ["service": #"odd "name""#], 2)
        metrics.observeReconcile(seconds: 0.03)
        let text = metrics.render()
        #expect(text.contains("# TYPE redash_autoscaler_queue_pending_jobs gauge\nredash_autoscaler_queue_pending_jobs{queue=\"queries\"} 7\n"))
        #expect(text.contains("redash_autoscaler_errors_total{dependency=\"ecs\"} 2"))
        #expect(text.contains(#"redash_autoscaler_desired_tasks{service="odd \"name\""} 2"#))
        #expect(text.contains("redash_autoscaler_reconcile_duration_seconds_bucket{le=\"0.025\"} 0"))
        #expect(text.contains("redash_autoscaler_reconcile_duration_seconds_bucket{le=\"0.05\"} 1"))
        #expect(text.contains("redash_autoscaler_reconcile_duration_seconds_count 1"))
    }

    @Test("DogStatsD over UDP: gauges with tags, counters as increases since the last flush")
    func dogStatsD() throws {
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

        let metrics = MetricsRegistry()
        let sender = try DogStatsDSender(target: "127.0.0.1:\(UInt16(bigEndian: address.sin_port))")
        metrics.set("redash_autoscaler_queue_pending_jobs", ["queue": "queries"], 7)
        metrics.increment("redash_autoscaler_scale_actions_total", ["service": "adhoc", "direction": "up"])
        sender.flush(metrics)
        let first = receive().split(separator: "\n").map(String.init)
        #expect(first.contains("redash_autoscaler.queue_pending_jobs:7|g|#queue:queries"), "\(first)")
        #expect(first.contains("redash_autoscaler.scale_actions_total:1|c|#direction:up,service:adhoc"), "\(first)")

        metrics.increment("redash_autoscaler_scale_actions_total", ["service": "adhoc", "direction": "up"])
        sender.flush(metrics)
        let second = receive().split(separator: "\n").map(String.init)
        #expect(second.contains("redash_autoscaler.scale_actions_total:1|c|#direction:up,service:adhoc"), "\(second)")
        #expect(throws: SetupFailure.self) { try DogStatsDSender(target: "datadog-agent") }
    }
}
