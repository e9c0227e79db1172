import AutoscalerCore
import Foundation
import Logging
import QueueProbes
import RedisClient

/// Per-tick cost of probing `queues` RQ queues on a live Redis (filled by scripts/bench-probe.sh):
/// wall time, round trips and commands per tick.
enum ProbeBenchmark {
    static func run(url: String, queues count: Int, ticks: Int) async {
        let names = (0..<count).map { "bench-\($0)" }
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        guard let endpoint = try? RedisEndpoint(url: url) else {
            print("probe: bad URL")
            return
        }
        let client = RedisClient(endpoint: endpoint, logger: logger)
        let prober = QueueProber(client: client, layout: .rq, logger: logger)
        _ = await prober.probe(queues: names)  // connect and warm up
        var durations: [Double] = []
        var roundTrips = 0, commands = 0, pending = 0
        let clock = ContinuousClock()
        for _ in 0..<ticks {
            var report: ProbeReport?
            let elapsed = await clock.measure { report = await prober.probe(queues: names) }
            durations.append(elapsed.inSeconds * 1000)
            roundTrips = report?.roundTrips ?? 0
            commands = report?.commands ?? 0
            pending = names.reduce(0) { total, name in
                if case .observed(let observation) = report?.readings[name] { return total + observation.pending }
                return total
            }
        }
        await client.close()
        durations.sort()
        let p50 = durations[durations.count / 2], p99 = durations[min(durations.count - 1, durations.count * 99 / 100)]
        print("probe: \(count) RQ queues holding \(pending) pending jobs, \(ticks) ticks")
        print("probe: \(roundTrips) round trips and \(commands) commands per tick (goal ≤ 2 round trips)")
        print("probe: wall time per tick p50 \(String(format: "%.2f", p50)) ms, p99 \(String(format: "%.2f", p99)) ms, max \(String(format: "%.2f", durations.last ?? 0)) ms (goal ≤ 20 ms)")
        if let peak = peakResidentKilobytes() {
            print("probe: peak resident memory \(String(format: "%.1f", Double(peak) / 1024)) MiB")
        }
    }
}
