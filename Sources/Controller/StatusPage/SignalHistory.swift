import AutoscalerCore
import Synchronization

/// What the status page draws: per service, its queues and tasks over the last hours, and the
/// decisions that changed something or would have (applied, dry-run, paused, withheld, held for
/// an outside change, failed), newest last.
///
/// Bounded by design, whatever the interval and however long the controller runs: each service
/// keeps at most `points + 1` samples (one per `window / points`, the ticks within one merged)
/// and `decisionLimit` decisions whose texts are clipped to `textLimit` characters. A service
/// takes under `bytesPerService` (about 30 KiB); 200 services under 6 MiB. In memory only.
public final class SignalHistory: Sendable {
    public struct Sample: Sendable, Equatable {
        /// The latest tick merged into the sample.
        public var at: Instant
        /// Pending jobs over the service's queues, the most seen in the sample's ticks; `nil`
        /// when no tick of it could read every queue.
        public var pending: Int?
        /// Running jobs, the most seen.
        public var runningJobs: Int?
        /// The oldest wait, the longest seen.
        public var oldestWait: Duration?
        /// Tasks, as the latest tick that read them saw them.
        public var desired: Int?
        public var runningTasks: Int?
        public var proposed: Int?

        /// This sample with a later tick's readings merged in: peaks kept for the queues, the
        /// latest known counts for the tasks, an unknown reading never erasing a known one.
        func merging(_ later: Sample) -> Sample {
            func peak<T: Comparable>(_ a: T?, _ b: T?) -> T? { [a, b].compactMap { $0 }.max() }
            return Sample(
                at: later.at, pending: peak(pending, later.pending), runningJobs: peak(runningJobs, later.runningJobs),
                oldestWait: peak(oldestWait, later.oldestWait), desired: later.desired ?? desired,
                runningTasks: later.runningTasks ?? runningTasks, proposed: later.proposed ?? proposed)
        }
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

    /// Samples per service over the window, whatever the interval: the chart's resolution.
    public static let points = 180
    /// Characters kept of a decision's text.
    public static let textLimit = 240
    /// An upper bound of one service's memory: samples, decisions with their texts (UTF-8, up to
    /// four bytes a character), and the dictionary's entry.
    public static func bytesPerService(decisionLimit: Int) -> Int {
        (points + 1) * MemoryLayout<Sample>.stride + decisionLimit * (MemoryLayout<Entry>.stride + 4 * (textLimit + 64)) + 512
    }

    public let window: Duration
    public let decisionLimit: Int
    private let series = Mutex<[String: Series]>([:])
    /// Ticks recorded, so that a page rendered from them can tell it is current.
    private let recorded = Atomic<Int>(0)

    public init(window: Duration = .seconds(3 * 3600), decisionLimit: Int = 20) {
        self.window = window
        self.decisionLimit = decisionLimit
    }

    /// How much time one sample covers.
    public var sampleWidth: Duration { window / Double(Self.points) }

    /// Ticks recorded so far.
    public var version: Int { recorded.load(ordering: .relaxed) }

    /// Adds a tick: its readings merged into each service's latest sample (or a new one), and
    /// each service's decision when it differs from the last one kept (the same rule as the
    /// decision log). Services no longer reported are dropped.
    public func record(_ report: ReconcileReport) {
        let width = sampleWidth.inSeconds
        series.withLock { series in
            let names = Set(report.services.map(\.name))
            series = series.filter { names.contains($0.key) }
            for service in report.services {
                var entry = series[service.name] ?? Series()
                let sample = Self.sample(service, report: report)
                if let last = entry.samples.last, (last.at.secondsSinceEpoch / width).rounded(.down) == (sample.at.secondsSinceEpoch / width).rounded(.down),
                    sample.at >= last.at
                {
                    entry.samples[entry.samples.count - 1] = last.merging(sample)
                } else {
                    entry.samples.append(sample)
                }
                let oldest = report.at - window
                if let first = entry.samples.firstIndex(where: { $0.at >= oldest }), first > 0 { entry.samples.removeFirst(first) }
                if entry.samples.count > Self.points + 1 { entry.samples.removeFirst(entry.samples.count - Self.points - 1) }
                let decision = service.decision
                let key = "\(service.outcome.name)|\(decision.code.rawValue)|\(decision.desired ?? -1)"
                if key != entry.lastKey, service.outcome != .unchanged {
                    entry.decisions.append(Entry(
                        at: report.at, summary: service.summary.clipped(to: Self.textLimit), outcome: service.outcome.name,
                        reasonCode: decision.code.rawValue, mode: service.mode))
                    if entry.decisions.count > decisionLimit { entry.decisions.removeFirst(entry.decisions.count - decisionLimit) }
                }
                entry.lastKey = key
                series[service.name] = entry
            }
        }
        recorded.add(1, ordering: .relaxed)
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
