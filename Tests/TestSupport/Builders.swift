import AutoscalerCore

/// Short builders for the values the scaling rule takes, so that a test reads like its scenario.
public enum Build {
    /// Monday 2026-11-23 12:00:00 UTC (21:00 in Japan): a fixed "now" for tests.
    public static let monday = CivilTime.instant(year: 2026, month: 11, day: 23, hour: 12)

    /// A service consuming `queues` with the given bounds and otherwise default settings.
    public static func service(
        _ name: String = "redash-adhoc-worker", queues: [String] = ["queries"],
        min: Int = 1, max: Int = 8, workers: Int = 2,
        backlogPerWorker: Double = ScalingTarget.defaultBacklogPerWorker,
        maxWait: Duration = ScalingTarget.defaultMaxWait,
        scaleUp: ScalingBehavior = .defaultScaleUp,
        scaleDown: ScalingBehavior = .defaultScaleDown,
        fallback: Int? = nil, schedules: [ScheduleFloor] = []
    ) -> ServicePolicy {
        ServicePolicy(
            name: name, queues: queues, minTasks: min, maxTasks: max, workersPerTask: workers,
            target: ScalingTarget(backlogPerWorker: backlogPerWorker, maxWait: maxWait),
            scaleUp: scaleUp, scaleDown: scaleDown, fallbackTasks: fallback, schedules: schedules)
    }

    /// A queue reading observed at `at`.
    public static func queue(
        _ name: String = "queries", pending: Int = 0, running: Int = 0, oldest: Double? = nil,
        busy: Int? = nil, idle: Int = 0, at: Instant = monday
    ) -> QueueReading {
        .observed(QueueObservation(
            queue: name, pending: pending, running: running, oldestAge: oldest.map { .seconds($0) },
            workers: busy.map { WorkerCounts(busy: $0, idle: idle) }, observedAt: at))
    }

    /// A Celery queue: `listed` messages in its lists (the oldest waited `oldest` seconds), and
    /// prefetched ones in kombu's `unacked`: `held` by a live node, `stranded` (no holder,
    /// fetched `strandedAge` seconds ago), `unclassified` (no complete round). Running unknown
    /// unless given.
    public static func celeryQueue(
        _ name: String = "queries", listed: Int = 0, oldest: Double? = nil, held: Int = 0, stranded: Int = 0, strandedAge: Double = 534,
        unclassified: Int = 0, running: Int? = nil, at: Instant = monday
    ) -> QueueReading {
        var prefetched: [PrefetchedMessage] = []
        for index in 0..<held {
            prefetched.append(PrefetchedMessage(deliveryTag: "h\(index)", taskID: "held-\(index)", enqueuedAt: at - .seconds(300), deliveredAt: at - .seconds(200), holder: .node("celery@ip-10-0-0-1")))
        }
        for index in 0..<stranded {
            prefetched.append(PrefetchedMessage(
                deliveryTag: "s\(index)", taskID: "stranded-\(index)", enqueuedAt: at - .seconds(strandedAge + 5), deliveredAt: at - .seconds(strandedAge), holder: .none))
        }
        for index in 0..<unclassified {
            prefetched.append(PrefetchedMessage(deliveryTag: "u\(index)", taskID: "unknown-\(index)", enqueuedAt: at - .seconds(strandedAge), holder: .unknown))
        }
        let pending = listed + prefetched.count
        let ages = ([oldest] + prefetched.compactMap { $0.enqueuedAt.map { (at - $0).inSeconds } }).compactMap { $0 }
        return .observed(QueueObservation(
            queue: name, pending: pending, running: running, oldestAge: pending > 0 ? ages.max().map { .seconds($0) } : nil, observedAt: at,
            waiting: prefetched.isEmpty ? nil : WaitingWork(listed: listed, oldestListedAge: oldest.map { .seconds($0) }, prefetched: prefetched)))
    }

    /// An ECS service state whose tasks are all running unless said otherwise.
    public static func state(
        desired: Int, running: Int? = nil, pending: Int = 0, deploying: Bool = false,
        at: Instant = monday
    ) -> ServiceState {
        ServiceState(
            desired: desired, running: running ?? desired, pending: pending,
            isDeploymentInProgress: deploying, observedAt: at)
    }

    /// A history in which the rule recommended `recommendation` every `interval` for `span`
    /// up to (not including) `now`.
    public static func steadyHistory(
        recommending recommendation: Int, for span: Duration, every interval: Duration = .seconds(5),
        until now: Instant = monday, lastScaleUp: Instant? = nil, lastScaleDown: Instant? = nil
    ) -> ScalingHistory {
        var entries: [ScalingHistory.Entry] = []
        var at = now - span
        while at < now {
            entries.append(ScalingHistory.Entry(at: at, recommendation: recommendation))
            at = at + interval
        }
        return ScalingHistory(entries: entries, lastScaleUp: lastScaleUp, lastScaleDown: lastScaleDown)
    }
}
