import AWSClient
import AutoscalerCore
import Controller
import Foundation
import Logging
import QueueProbes
import RedisClient
import Synchronization
import AWSTestSupport

/// Redis commands and ECS requests per minute of the three ways of reacting faster or not:
/// reconciling every 5 s, every 1 s, or every 5 s with the queue watch every 1 s between
/// (`reactInterval`). Same cluster as `reconcile … api` (ECS's JSON API in memory, three tasks a
/// service, each with a busy worker; `ONLY=cadence scripts/bench-reconcile.sh` fills the Redis), on simulated
/// time: the ticks and watches of `minutes` minutes run back to back, stamped as the loop would.
/// The cluster is quiet after its first tick, so the watch never starts a reconcile: the figures
/// are the steady cost; a watch that fires adds one reconcile.
enum CadenceBenchmark {
    /// The queue port, counting the commands and round trips of every probe.
    final class CountingQueues: QueueSource {
        let inner: QueueProber
        let counts = Mutex((commands: 0, probes: 0))
        init(_ inner: QueueProber) { self.inner = inner }
        func probe(queues: [String], scheduler: SchedulerStateRequest?, now: Instant) async -> ProbeReport {
            let report = await inner.probe(queues: queues, scheduler: scheduler, now: now)
            counts.withLock { $0.commands += report.commands; $0.probes += 1 }
            return report
        }
        func lengths(queues: [String]) async -> QueueLengths? {
            let lengths = await inner.lengths(queues: queues)
            counts.withLock { $0.commands += lengths?.commands ?? 0 }
            return lengths
        }
    }

    static func run(url: String, services count: Int, minutes: Int) async {
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        guard let endpoint = try? RedisEndpoint(url: url) else { return }
        print("cadence: \(count) services, \(count * 3) queues, \(minutes) simulated minutes after the first tick, ECS's API in memory")
        for (interval, react) in [(Duration.seconds(5), Duration.zero), (.seconds(1), .zero), (.seconds(5), .seconds(1))] {
            let services = (0..<count).map { index in
                ServicePolicy(name: "bench-service-\(index + 1)", queues: (0..<3).map { "bench-\(index * 3 + $0)" }, minTasks: 1, maxTasks: 50, workersPerTask: 2)
            }
            let policy = Policy(cluster: "redash", interval: interval, redis: RedisSettings(url: SecretURL(url), layout: .rq), services: services, reactInterval: react)
            let view = ReconcileBenchmark.inMemoryAPI(services)
            let client = RedisClient(endpoint: endpoint, logger: logger)
            let queues = CountingQueues(QueueProber(client: client, layout: .rq, logger: logger))
            let reconciler = Reconciler(
                policy: policy, ports: .init(queues: queues, cluster: view, applier: PlanApplier(writer: view), apiCalls: view),
                metrics: MetricsRegistry(), controllerName: "bench", logger: logger)
            var now = Instant(secondsSinceEpoch: 1_800_000_000)
            _ = await reconciler.reconcile(now: now)
            let (commandsBefore, probesBefore) = queues.counts.withLock { ($0.commands, $0.probes) }
            let ecsBefore = view.callsSoFar().values.reduce(0, +)
            let end = now + .seconds(60 * minutes)
            var reconciles = 0, early = 0
            while true {
                // The pause: watches every `react` until the interval is up, or one that fires.
                var next = now + interval
                if react > .zero {
                    var watch = now + react
                    while watch < next {
                        if await reconciler.needsEarlyReconcile(now: watch) {
                            early += 1
                            next = watch
                            break
                        }
                        watch = watch + react
                    }
                }
                now = next
                guard now <= end else { break }
                _ = await reconciler.reconcile(now: now)
                reconciles += 1
            }
            await client.close()
            let (commands, probes) = queues.counts.withLock { ($0.commands - commandsBefore, $0.probes - probesBefore) }
            let ecs = view.callsSoFar().values.reduce(0, +) - ecsBefore
            let perMinute = { (value: Int) in String(format: "%.0f", Double(value) / Double(minutes)) }
            print("cadence: interval \(interval.compactDescription)\(react > .zero ? ", reactInterval \(react.compactDescription)" : ""):"
                + " \(perMinute(reconciles)) reconciles and \(perMinute(probes)) Redis probes a minute (\(early) early);"
                + " Redis commands a minute \(perMinute(commands)); ECS requests a minute \(perMinute(ecs))")
        }
    }
}
