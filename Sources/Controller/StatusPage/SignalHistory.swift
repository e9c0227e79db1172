import AutoscalerCore
import Synchronization

/// What the status page draws: per service, one sample a tick of its queues and tasks for the
/// last hours, and the decisions that changed something or would have (applied, dry-run,
/// paused, withheld, held for an outside change, failed), newest last. In
/// memory only, bounded: `window` of samples and `decisionLimit` decisions per service.
public final class SignalHistory: Sendable {
    public struct Sample: Sendable, Equatable {
        public var at: Instant
        /// Pending jobs over the service's queues; `nil` when a queue could not be read.
        public var pending: Int?
        public var runningJobs: Int?
        public var oldestWait: Duration?
        public var desired: Int?
        public var runningTasks: Int?
        public var proposed: Int?
    }

    public struct Entry: Sendable, Equatable {
        public var at: Instant
        public var summary: String
        public var outcome: String
        public var reasonCode: String
        public var mode: ServiceMode
    }

    struct Series {
        var samples: [Sample] = []
        var decisions: [Entry] = []
        var lastKey: String?
    }

    public let window: Duration
    public let decisionLimit: Int
    private let series = Mutex<[String: Series]>([:])

    public init(window: Duration = .seconds(3 * 3600), decisionLimit: Int = 100) {
        self.window = window
        self.decisionLimit = decisionLimit
    }

    /// Adds a tick: one sample per service, and each service's decision when it differs from the
    /// last one kept (the same rule as the decision log). Services no longer reported are dropped.
    public func record(_ report: ReconcileReport) {
        series.withLock { series in
            let names = Set(report.services.map(\.name))
            series = series.filter { names.contains($0.key) }
            for service in report.services {
                var entry = series[service.name] ?? Series()
                entry.samples.append(Self.sample(service, report: report))
                let oldest = report.at - window
                if let first = entry.samples.firstIndex(where: { $0.at >= oldest }), first > 0 { entry.samples.removeFirst(first) }
                let decision = service.decision
                let key = "\(service.outcome.name)|\(decision.code.rawValue)|\(decision.desired ?? -1)"
                if key != entry.lastKey, service.outcome != .unchanged {
                    entry.decisions.append(Entry(
                        at: report.at, summary: service.summary, outcome: service.outcome.name, reasonCode: decision.code.rawValue, mode: service.mode))
                    if entry.decisions.count > decisionLimit { entry.decisions.removeFirst(entry.decisions.count - decisionLimit) }
                }
                entry.lastKey = key
                series[service.name] = entry
            }
        }
    }

    /// Samples and decisions of every service, by name.
    public func snapshot() -> [(service: String, samples: [Sample], decisions: [Entry])] {
        series.withLock { series in
            series.keys.sorted().map { ($0, series[$0]!.samples, series[$0]!.decisions) }
        }
    }

    static func sample(_ service: ServiceReport, report: ReconcileReport) -> Sample {
        var pending: Int? = 0, running: Int? = 0
        var oldest: Duration?
        for queue in service.queues {
            guard case .observed(let observation)? = report.probe.readings[queue] else {
                pending = nil
                running = nil
                continue
            }
            pending = pending.map { $0 + observation.pending }
            running = running.flatMap { total in observation.running.map { total + $0 } }
            if let age = observation.oldestAge { oldest = max(oldest ?? .zero, age) }
        }
        return Sample(
            at: report.at, pending: pending, runningJobs: running, oldestWait: oldest, desired: service.state?.desired,
            runningTasks: service.state?.running, proposed: service.decision.desired)
    }
}
