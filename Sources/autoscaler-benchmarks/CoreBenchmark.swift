import AutoscalerCore
import Foundation

/// Decisions per second of the pure scaling rule for 1,000 services with 3 queues each.
enum CoreBenchmark {
static let serviceCount = 1_000
static let queuesPerService = 3

/// A deterministic spread of situations: busy, idle, late, missing, deploying, histories full.
static func makeInputs(now: Instant) -> [DecisionInput] {
    var generator = SplitMix(seed: 42)
    return (0..<serviceCount).map { index in
        let queues = (0..<queuesPerService).map { "queue-\(index)-\($0)" }
        let policy = ServicePolicy(
            name: "service-\(index)", queues: queues, minTasks: 1, maxTasks: 20,
            workersPerTask: 1 + index % 4,
            schedules: index % 5 == 0
                ? [ScheduleFloor(name: "office", days: [.monday, .tuesday], startMinute: 540, endMinute: 1140, minTasks: 3)]
                : [])
        var readings: [String: QueueReading] = [:]
        for queue in queues {
            if generator.next() % 50 == 0 {
                readings[queue] = .unavailable(reason: "timeout")
            } else {
                // Most queues are quiet most of the time; one in four carries a backlog.
                let pending = Int(generator.next() % 4 == 0 ? generator.next() % 30 : generator.next() % 2)
                readings[queue] = .observed(QueueObservation(
                    queue: queue, pending: pending, running: Int(generator.next() % 4),
                    oldestAge: pending > 0 ? .seconds(Int(generator.next() % 120)) : nil,
                    workers: WorkerCounts(busy: Int(generator.next() % 4), idle: Int(generator.next() % 3)),
                    observedAt: now))
            }
        }
        var entries: [ScalingHistory.Entry] = []
        for tick in 0..<60 {  // five minutes of 5-second ticks
            entries.append(.init(at: now - .seconds(300 - tick * 5), recommendation: Int(generator.next() % 8)))
        }
        let desired = 1 + Int(generator.next() % 8)
        return DecisionInput(
            policy: policy, queues: readings,
            service: ServiceState(desired: desired, running: desired, pending: 0,
                                  isDeploymentInProgress: index % 17 == 0, observedAt: now),
            history: ScalingHistory(entries: entries), now: now)
    }
}

}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension CoreBenchmark {
static func run(rounds: Int) {
let now = CivilTime.instant(year: 2026, month: 11, day: 23, hour: 3)
let inputs = makeInputs(now: now)
var checksum = 0
var changes = 0
let clock = ContinuousClock()
// One warm-up round, then the measured ones.
for input in inputs { checksum &+= ScalingRule.decide(input).desired ?? 0 }
let elapsed = clock.measure {
    for _ in 0..<rounds {
        for input in inputs {
            let decision = ScalingRule.decide(input)
            checksum &+= decision.desired ?? 0
            if decision.isChange { changes += 1 }
        }
    }
}
let decisions = Double(rounds * serviceCount)
let seconds = elapsed.inSeconds
print("core: \(serviceCount) services × \(queuesPerService) queues, \(rounds) rounds (\(Int(decisions)) decisions)")
print("core: \(String(format: "%.0f", decisions / seconds)) decisions/s, \(String(format: "%.2f", seconds * 1e6 / decisions)) µs/decision (goal ≥ 100000 decisions/s)")
print("core: \(changes / rounds) of \(serviceCount) services change per round; checksum \(checksum)")
if let peak = peakResidentKilobytes() {
    print("core: peak resident memory \(String(format: "%.1f", Double(peak) / 1024)) MiB")
}
}
}
