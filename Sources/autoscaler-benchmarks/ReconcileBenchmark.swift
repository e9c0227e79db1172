import AWSClient
import AutoscalerCore
import Controller
import Foundation
import Logging
import QueueProbes
import RedisClient
import AWSTestSupport
import TestSupport

/// Per-tick cost of the whole reconcile for `services` services of three queues each on a Redis
/// filled by scripts/bench-reconcile.sh: against ECS from the environment (moto) when
/// AWS_ENDPOINT_URL is set; with `ecs` "api", against ECS's JSON API in this process
/// (`InMemoryECS`: the real client, signer and cluster view, pages of 100 tasks, three tasks per
/// service at the addresses of its queues' busy workers, so every service has busy tasks);
/// else against the in-memory ports of the tests (the figure "excluding ECS latency").
/// Also the resident memory over an hour's worth of ticks, and the ECS requests per tick.
enum ReconcileBenchmark {
    static func run(url: String, services count: Int, ticks: Int, ecs mode: String? = nil) async {
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let services = (0..<count).map { index in
            ServicePolicy(name: "bench-service-\(index + 1)", queues: (0..<3).map { "bench-\(index * 3 + $0)" }, minTasks: 1, maxTasks: 50, workersPerTask: 2)
        }
        let policy = Policy(cluster: "redash", redis: RedisSettings(url: SecretURL(url), layout: .rq), services: services)
        let environment = ProcessInfo.processInfo.environment
        let cluster: any ClusterReader & ClusterWriter
        var calls: (any APICallCounting)?
        let target: String
        if environment["AWS_ENDPOINT_URL"] != nil {
            do {
                let view = ECSClusterView(
                    client: try AWSContext.make(
                        cluster: "redash", regionFlag: nil, policyRegion: nil, profile: nil, ecsRate: .init(callsPerSecond: 1000, burst: 1000),
                        logger: logger).ecs,
                    policy: policy.ecs)
                cluster = view
                calls = view
                target = "ECS at \(environment["AWS_ENDPOINT_URL"]!)"
            } catch {
                print("reconcile: \(error)")
                return
            }
        } else if mode == "api" {
            let view = inMemoryAPI(services)
            cluster = view
            calls = view
            target = "ECS's API in memory (3 tasks a service)"
        } else {
            cluster = FakeCluster(Dictionary(uniqueKeysWithValues: services.map { ($0.name, 1) }))
            target = "in-memory ECS"
        }
        guard let endpoint = try? RedisEndpoint(url: url) else { return }
        let client = RedisClient(endpoint: endpoint, logger: logger)
        let reconciler = Reconciler(
            policy: policy,
            ports: .init(queues: QueueProber(client: client, layout: .rq, logger: logger), cluster: cluster, applier: PlanApplier(writer: cluster), apiCalls: calls),
            metrics: MetricsRegistry(), controllerName: "bench", logger: logger)
        var walls: [Double] = [], cpus: [Double] = []
        var rssAfterWarmup = 0
        var start = Date().timeIntervalSince1970
        var errors = 0
        var callsPerTick: [Int] = []
        var readOnlyTicks: [Int] = []
        var busyServices = 0
        for tick in 0..<ticks {
            let cpuBefore = cpuSeconds()
            let report = await reconciler.reconcile(now: Instant(secondsSinceEpoch: start))
            start += 5  // the ticks of an hour, back to back
            if !report.succeeded { errors += 1 }
            if let count = report.apiCallCount, let calls = report.apiCalls {
                callsPerTick.append(count)
                if tick > 0, calls["UpdateService"] == nil, calls["UpdateTaskProtection"] == nil { readOnlyTicks.append(count) }
            }
            if tick == 0 { busyServices = report.services.filter { ($0.plan.busyTasks.floor ?? 0) > 0 }.count }
            if ProcessInfo.processInfo.environment["BENCH_VERBOSE"] != nil, tick < 3 || (report.apiCallCount ?? 0) > 10 {
                print("tick \(tick): \(report.apiCalls ?? [:])")
            }
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
        if let first = callsPerTick.first {
            let later = callsPerTick.dropFirst().sorted()
            let steady = readOnlyTicks.sorted()
            func p50(_ values: [Int]) -> String { values.isEmpty ? "-" : String(values[values.count / 2]) }
            print("reconcile: ECS requests per tick: first \(first); later p50 \(p50(later)), max \(later.last.map(String.init) ?? "-");"
                + " in the \(steady.count) ticks without writes p50 \(p50(steady)), max \(steady.last.map(String.init) ?? "-")"
                + " (\(busyServices) services with busy tasks)")
        }
        print("reconcile: RSS after 100 ticks \(String(format: "%.1f", Double(rssAfterWarmup) / 1024)) MiB, after \(ticks) \(String(format: "%.1f", Double(rssEnd) / 1024)) MiB")
    }

    /// ECS's JSON API in this process, three tasks a service at the addresses of its queues'
    /// busy workers, read through the real client and cluster view.
    static func inMemoryAPI(_ services: [ServicePolicy]) -> ECSClusterView {
        let api = InMemoryECS()
        for (index, service) in services.enumerated() {
            api.addService(service.name, desired: 3)
            // fill_rq_queues.py: the busy worker of queue q reports 10.0.(q % 250).0; one task per
            // queue of the service holds it.
            for queue in index * 3..<index * 3 + 3 { api.addTask(.init(service: service.name, ip: "10.0.\(queue % 250).0")) }
        }
        // No client-side rate limit: the ticks run back to back here, apart only on paper.
        return ECSClusterView(client: api.client(), policy: ECSSettings())
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
