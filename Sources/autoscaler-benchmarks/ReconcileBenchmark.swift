import AWSClient
import AutoscalerCore
import Controller
import Foundation
import Logging
import QueueProbes
import RedisClient
import TestSupport

/// Per-tick cost of the whole reconcile for `services` services of three queues each on a Redis
/// filled by scripts/bench-reconcile.sh: against ECS from the environment (moto) when
/// AWS_ENDPOINT_URL is set, else against the in-memory ECS of the tests (the figure "excluding
/// ECS latency").
/// Also the resident memory over an hour's worth of ticks.
enum ReconcileBenchmark {
    static func run(url: String, services count: Int, ticks: Int) async {
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let services = (0..<count).map { index in
            ServicePolicy(name: "bench-service-\(index + 1)", queues: (0..<3).map { "bench-\(index * 3 + $0)" }, minTasks: 1, maxTasks: 50, workersPerTask: 2)
        }
        let policy = Policy(cluster: "redash", redis: RedisSettings(url: SecretURL(url), layout: .rq), services: services)
        let environment = ProcessInfo.processInfo.environment
        let cluster: any ClusterReader & ClusterWriter
        let target: String
        if environment["AWS_ENDPOINT_URL"] != nil {
            do {
                cluster = try AWSContext.make(cluster: "redash", regionFlag: nil, policyRegion: nil, profile: nil, logger: logger).ecs
                target = "ECS at \(environment["AWS_ENDPOINT_URL"]!)"
            } catch {
                print("reconcile: \(error)")
                return
            }
        } else {
            cluster = FakeCluster(Dictionary(uniqueKeysWithValues: services.map { ($0.name, 1) }))
            target = "in-memory ECS"
        }
        guard let endpoint = try? RedisEndpoint(url: url) else { return }
        let client = RedisClient(endpoint: endpoint, logger: logger)
        let reconciler = Reconciler(
            policy: policy,
            ports: .init(queues: QueueProber(client: client, layout: .rq, logger: logger), cluster: cluster, applier: LiveApplier(writer: cluster)),
            metrics: MetricsRegistry(), controllerName: "bench", logger: logger)
        var walls: [Double] = [], cpus: [Double] = []
        var rssAfterWarmup = 0
        var start = Date().timeIntervalSince1970
        var errors = 0
        for tick in 0..<ticks {
            let cpuBefore = cpuSeconds()
            let report = await reconciler.reconcile(now: Instant(secondsSinceEpoch: start))
            start += 5  // the ticks of an hour, back to back
            if !report.succeeded { errors += 1 }
            walls.append(report.duration.inSeconds * 1000)
            cpus.append((cpuSeconds() - cpuBefore) * 1000)
            if tick == min(99, ticks - 1) { rssAfterWarmup = currentResidentKilobytes() ?? 0 }
        }
        await client.close()
        let rssEnd = currentResidentKilobytes() ?? 0
        walls.sort()
        cpus.sort()
        func p(_ values: [Double], _ q: Double) -> String { String(format: "%.1f", values[min(values.count - 1, Int(Double(values.count) * q))]) }
        print("reconcile: \(count) services, \(count * 3) queues, \(ticks) ticks against \(target)\(errors > 0 ? ", \(errors) degraded ticks" : "")")
        print("reconcile: wall per tick p50 \(p(walls, 0.5)) ms, p99 \(p(walls, 0.99)) ms; CPU per tick p50 \(p(cpus, 0.5)) ms")
        print("reconcile: RSS after 100 ticks \(String(format: "%.1f", Double(rssAfterWarmup) / 1024)) MiB, after \(ticks) \(String(format: "%.1f", Double(rssEnd) / 1024)) MiB")
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// Current resident set (VmRSS), KiB.
    static func currentResidentKilobytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "")
        }
        return nil
    }
}
