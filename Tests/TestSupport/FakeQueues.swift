import AutoscalerCore
import Synchronization

/// Redash's queues in memory, as the reconciler's queue port: set what each queue holds (or that
/// Redis is gone) and every probe reports it, stamped with the tick's `now`.
public final class FakeQueues: QueueSource, Sendable {
    public struct Queue: Sendable, Equatable {
        public var pending: Int
        public var running: Int?
        public var oldestAge: Duration?

        public init(pending: Int = 0, running: Int? = 0, oldestAge: Duration? = nil) {
            self.pending = pending
            self.running = running
            self.oldestAge = oldestAge
        }
    }

    struct State {
        var layout: QueueLayout
        var queues: [String: Queue] = [:]
        var workers: [String: [WorkerRecord]] = [:]
        var unavailable: String?
        var scheduler: RedashSchedulerState?
        var health: SchedulerHealth?
        var probes = 0
        var celery: CeleryActivity?
        var celeryRounds: [Instant] = []
        var lastComplete: CeleryActivity?
        /// Workers that a second read at the same instant finds (`changeBetweenReads`).
        var betweenReads: [String: [WorkerRecord]]?
        var lastProbeAt: Instant?
        /// Whether `lengths` answers (as the real prober once the layout is known).
        var lengthsReadable = false
        var lengthReads = 0
    }

    private let state: Mutex<State>

    public init(layout: QueueLayout = .rq) {
        state = Mutex(State(layout: layout))
    }

    public func set(_ queue: String, _ value: Queue) { state.withLock { $0.queues[queue] = value } }
    public func set(_ queue: String, pending: Int, running: Int? = 0, oldestAge: Duration? = nil) {
        set(queue, Queue(pending: pending, running: running, oldestAge: oldestAge))
    }
    /// The RQ workers registered on `queue`.
    public func setWorkers(_ queue: String, _ workers: [WorkerRecord]) { state.withLock { $0.workers[queue] = workers } }
    /// Every queue reads as unavailable with `reason` (Redis gone), or readable again with `nil`.
    public func setUnavailable(_ reason: String?) { state.withLock { $0.unavailable = reason } }
    public func setSchedulerState(_ scheduler: RedashSchedulerState?) { state.withLock { $0.scheduler = scheduler } }
    /// What `redash:status` says of Redash's scheduler, in every report.
    public func setSchedulerHealth(_ health: SchedulerHealth?) { state.withLock { $0.health = health } }
    public var probeCount: Int { state.withLock { $0.probes } }
    /// Whether the queue lengths can be read alone (`lengths`); off by default: then, as a source
    /// without that read, the watch always probes whole.
    public func setLengthsReadable(_ readable: Bool) { state.withLock { $0.lengthsReadable = readable } }
    /// How many times the lengths were read alone.
    public var lengthReadCount: Int { state.withLock { $0.lengthReads } }

    /// Each queue's pending count, when lengths are readable and Redis is there.
    public func lengths(queues: [String]) async -> QueueLengths? {
        state.withLock { state in
            guard state.lengthsReadable else { return nil }
            state.lengthReads += 1
            guard state.unavailable == nil else { return nil }
            return QueueLengths(
                lengths: Dictionary(uniqueKeysWithValues: queues.map { ($0, state.queues[$0]?.pending ?? 0) }), commands: queues.count)
        }
    }
    /// From the first tick that reads the queues twice (the reconciler's second reading before a
    /// scale-in), `queue`'s workers are `workers`: a worker took a job between the two reads.
    public func changeBetweenReads(_ queue: String, workers: [WorkerRecord]) { state.withLock { $0.betweenReads = [queue: workers] } }
    /// What Celery's workers answer when asked (Celery layout); `nil`: nobody answers.
    public func setCelery(_ activity: CeleryActivity?) { state.withLock { $0.celery = activity } }
    /// The ticks at which Celery's workers were asked.
    public var celeryRounds: [Instant] { state.withLock { $0.celeryRounds } }

    /// As the real prober: the queues, then, when asked, Celery's answers and the running counts
    /// of a complete round.
    public func probe(queues: [String], scheduler request: SchedulerStateRequest?, activity: CeleryInspectRequest?, now: Instant) async -> ProbeReport {
        let report = await probe(queues: queues, scheduler: request, now: now)
        guard let asked = activity, report.system == .celery else { return report }
        // As the real prober: a round when asked, else the last complete round's answer stands.
        let answer = state.withLock { state -> CeleryActivity? in
            guard asked.asks else { return state.lastComplete }
            state.celeryRounds.append(now)
            var activity = state.celery ?? CeleryActivity(reached: nil, nodes: [], problem: "the broadcast was not sent", elapsed: .zero, observedAt: now)
            activity.observedAt = now
            state.lastComplete = activity.isComplete ? activity : nil
            return activity
        }
        guard let activity = answer else { return report }
        return ProbeReport(
            system: report.system, readings: ProbeReport.readings(report.readings, with: activity), workers: report.workers,
            scheduler: report.scheduler, redashScheduler: report.redashScheduler, observedAt: now, celery: activity)
    }

    public func probe(queues: [String], scheduler request: SchedulerStateRequest?, now: Instant) async -> ProbeReport {
        state.withLock { state in
            state.probes += 1
            if state.lastProbeAt == now, let changed = state.betweenReads {
                state.workers.merge(changed) { $1 }
                state.betweenReads = nil
            }
            state.lastProbeAt = now
            var readings: [String: QueueReading] = [:]
            var registered: [String: [WorkerRecord]] = [:]
            for name in queues {
                if let reason = state.unavailable {
                    readings[name] = .unavailable(reason: reason)
                    continue
                }
                let queue = state.queues[name] ?? Queue()
                let workers = state.workers[name] ?? []
                let busy = workers.filter(\.isBusy).count
                readings[name] = .observed(QueueObservation(
                    queue: name, pending: queue.pending, running: state.layout == .rq ? queue.running : nil,
                    oldestAge: queue.pending > 0 ? queue.oldestAge : nil,
                    workers: state.layout == .rq ? WorkerCounts(busy: busy, idle: workers.count - busy) : nil, observedAt: now))
                if state.layout == .rq { registered[name] = workers }
            }
            return ProbeReport(
                system: state.layout.system, readings: readings, workers: registered, scheduler: state.health,
                redashScheduler: request != nil ? state.scheduler : nil, observedAt: now)
        }
    }
}
