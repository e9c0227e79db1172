import AutoscalerCore
import Foundation
import Logging
import QueueProbes
import RedisClient
import Synchronization

/// The cost of one Celery remote-control round (`celery.inspect`) against live worker nodes
/// (started by scripts/bench-celery-inspect.sh): its latency, the bytes it sends and reads, its
/// commands, and the keys it writes and leaves.
enum CeleryInspectBenchmark {
    static func run(url: String, nodes expected: Int, rounds: Int) async {
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        guard let endpoint = try? RedisEndpoint(url: url) else {
            print("celery-inspect: bad URL")
            return
        }
        let client = RedisClient(endpoint: endpoint, logger: logger)
        let sent = Mutex((bytes: 0, writes: [String: Int]()))
        let writing: Set<String> = ["SADD", "SREM", "DEL", "PUBLISH", "LPUSH", "SET", "HSET", "EXPIRE"]
        let prober = QueueProber(
            pipeline: { commands in
                sent.withLock { totals in
                    // The round's commands all name a pidbox key; the queue probe's do not.
                    for command in commands where command.contains(where: { $0.contains("pidbox") }) {
                        totals.bytes += command.reduce(0) { $0 + $1.utf8.count }
                        // One name per kind of key: a round's reply list is a new key each time.
                        let key = command.count > 1 ? (command[1].hasPrefix("redash-autoscaler.") ? "<round>.reply.celery.pidbox" : command[1]) : ""
                        if writing.contains(command[0]) { totals.writes[command[0] + " " + key, default: 0] += 1 }
                    }
                }
                return try await client.pipeline(commands)
            },
            redashPipeline: nil, layout: .celery, database: endpoint.database, logger: logger)
        let request = CeleryInspectRequest(replyTimeout: .seconds(1))
        let queues = ["queries", "scheduled_queries", "celery"]
        // Every node must answer before the figures start.
        var ready = false
        for _ in 0..<120 {
            let report = await prober.probe(queues: queues, scheduler: nil, activity: request, now: Instant(secondsSinceEpoch: Date().timeIntervalSince1970))
            if let celery = report.celery, celery.isComplete, celery.nodes.count >= expected { ready = true; break }
            try? await Task.sleep(for: .milliseconds(500))
        }
        guard ready else {
            print("celery-inspect: \(expected) nodes never all answered")
            await client.close()
            return
        }
        let base = try? await client.pipeline([["DBSIZE"]])[0].integer
        sent.withLock { $0 = (0, [:]) }
        var latencies: [Double] = [], replyBytes = 0, roundTrips = 0, commands = 0, busy = 0, complete = 0
        for _ in 0..<rounds {
            let report = await prober.probe(queues: queues, scheduler: nil, activity: request, now: Instant(secondsSinceEpoch: Date().timeIntervalSince1970))
            guard let celery = report.celery else { continue }
            latencies.append(celery.elapsed.inSeconds * 1000)
            replyBytes += celery.replyBytes
            roundTrips = celery.roundTrips
            commands = celery.commands
            busy = celery.nodes.reduce(0) { $0 + $1.active.count }
            if celery.isComplete { complete += 1 }
        }
        let after = try? await client.pipeline([["DBSIZE"]])[0].integer
        await client.close()
        latencies.sort()
        let totals = sent.withLock { $0 }
        func percentile(_ q: Double) -> String { String(format: "%.1f", latencies[min(latencies.count - 1, Int(Double(latencies.count) * q))]) }
        print("celery-inspect: \(expected) nodes, \(busy) busy processes, \(rounds) rounds, \(complete) complete")
        print("celery-inspect: latency per round p50 \(percentile(0.5)) ms, p95 \(percentile(0.95)) ms, max \(String(format: "%.1f", latencies.last ?? 0)) ms")
        print("celery-inspect: per round \(roundTrips) round trips, \(commands) commands (the queue probe's own not included)")
        print("celery-inspect: per round \(totals.bytes / max(1, rounds)) bytes sent, \(replyBytes / max(1, rounds)) bytes of replies read")
        let perRound = totals.writes.sorted { $0.key < $1.key }.map { "\($0.key) ×\(String(format: "%.2g", Double($0.value) / Double(max(1, rounds))))" }
        print("celery-inspect: writes per round: \(perRound.joined(separator: ", "))")
        print("celery-inspect: keys in Redis before \(base.map(String.init) ?? "?"), after \(after.map(String.init) ?? "?")")
    }
}
