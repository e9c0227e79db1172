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
