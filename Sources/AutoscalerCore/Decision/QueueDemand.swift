/// The queue signals of one service, summed across its queues.
public struct QueueDemand: Hashable, Sendable {
    /// Pending jobs on the queues that could be read.
    public var pending = 0
    /// Running jobs on the queues that could be read and record them.
    public var running = 0
    /// Queues that were read but do not record running jobs (Celery).
    public var runningUnknown: [String] = []
    /// Busy workers, summed over the queues whose system records workers.
    public var busyWorkers: Int?
    /// The longest wait among the queues' oldest jobs.
    public var oldestAge: Duration?
    /// Queues without a usable observation, as `name (reason)`.
    public var missing: [String] = []
    /// Servable jobs per readable queue: what the backlog terms size.
    public var pendingByQueue: [String: Int] = [:]
    /// Jobs a new task of the service could pick up now: pending less what is held by busy
    /// nodes, stranded, or on a queue the service's workers do not listen on.
    public var servable = 0
    /// The longest wait among the servable jobs: what `maxWait` judges.
    public var oldestServableAge: Duration?
    /// Prefetched by a live, busy node (Celery): runs when that node frees a process.
    public var held = 0
    /// In kombu's `unacked` with no live holder: back on the queue only after the visibility
    /// timeout.
    public var stranded: [PrefetchedMessage] = []
    /// Pending jobs on queues the service's workers do not listen on, by queue.
    public var unconsumed: [String: Int] = [:]

    /// Sums `readings` for `policy`'s queues; an observation older than `policy.staleAfter`, or
    /// dated in the future, counts as missing. Work on `unconsumedQueues` is not servable.
    public init(policy: ServicePolicy, readings: [String: QueueReading], now: Instant, unconsumedQueues: Set<String> = []) {
        // A worker may listen on several of the service's queues; RQ registers it under each,
        // so busy workers are taken as the largest per-queue count rather than summed twice.
        var busyPerQueue: [Int] = []
        for queue in policy.queues {
            switch readings[queue] {
            case .observed(let observation):
                let age = now - observation.observedAt
                if age > policy.staleAfter {
                    missing.append("\(queue) (stale: read \(age.compactDescription) ago)")
                    continue
                }
                if age < .seconds(-1) {
                    missing.append("\(queue) (read in the future; clock skew?)")
                    continue
                }
                pending += observation.pending
                if unconsumedQueues.contains(queue) {
                    if observation.pending > 0 { unconsumed[queue] = observation.pending }
                } else {
                    servable += observation.servable
                    pendingByQueue[queue] = observation.servable
                    if let age = observation.oldestServableAge, observation.servable > 0 {
                        oldestServableAge = max(oldestServableAge ?? age, age)
                    }
                    held += observation.waiting?.held.count ?? 0
                    stranded += observation.waiting?.stranded ?? []
                }
                if let count = observation.running {
                    running += count
                } else {
                    runningUnknown.append(queue)
                }
                if let workers = observation.workers { busyPerQueue.append(workers.busy) }
                if let age = observation.oldestAge {
                    oldestAge = max(oldestAge ?? age, age)
                }
            case .unavailable(let reason):
                missing.append("\(queue) (\(reason))")
            case nil:
                missing.append("\(queue) (not read)")
            }
        }
        busyWorkers = busyPerQueue.max()
    }

    /// Jobs occupying a worker now: running jobs, or busy workers when those are more (a job
    /// can be started before the registry entry is written, or the other way round).
    public var inFlight: Int { max(running, busyWorkers ?? 0) }

    /// Worker slots the servable jobs need to be done within `drainTime`, from each queue's
    /// typical runtime: `nil` unless every queue with servable jobs has one. Never more than the
    /// jobs.
    public func slotsForWork(runtimes: [String: Duration], drainTime: Duration) -> (slots: Double, work: Duration)? {
        guard drainTime > .zero else { return nil }
        var work = 0.0
        for (queue, count) in pendingByQueue where count > 0 {
            guard let runtime = runtimes[queue] else { return nil }
            work += Double(count) * runtime.inSeconds
        }
        return (min(Double(servable), work / drainTime.inSeconds), .seconds(work))
    }

    /// Whether some pending work is not servable (held, stranded or unconsumed).
    public var hasUnservable: Bool { servable < pending }

    /// True when every queue of the service was read.
    public var isComplete: Bool { missing.isEmpty }
}
