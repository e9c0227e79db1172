/// How one ECS service running Redash workers is sized.
///
/// Every field has its default beside it; `docs/policies.md` documents them in one place.
public struct ServicePolicy: Hashable, Sendable {
    /// The ECS service name.
    public var name: String
    /// The Redash queues this service's workers consume (its `QUEUES` setting).
    public var queues: [String]
    /// Never fewer tasks than this.
    public var minTasks: Int
    /// Never more tasks than this.
    public var maxTasks: Int
    /// Jobs one task runs at once: Redash's `WORKERS_COUNT`.
    public var workersPerTask: Int
    /// What "keeping up" means for this service.
    public var target: ScalingTarget
    /// How fast the service grows.
    public var scaleUp: ScalingBehavior
    /// How cautiously the service shrinks.
    public var scaleDown: ScalingBehavior
    /// Observations older than this count as missing.
    public var staleAfter: Duration
    /// Tasks to run at least while any queue signal is missing; `nil` holds the current count.
    public var fallbackTasks: Int?
    /// Time-of-day floors, for example more tasks during business hours.
    public var schedules: [ScheduleFloor]

    /// Jobs one task runs at once unless the file says otherwise (Redash's adhoc default).
    public static let defaultWorkersPerTask = 2
    /// Busy-aware scale-in: protect the tasks running jobs from ECS scale-in, and never go below
    /// the number of busy tasks (RQ workers mapped to tasks by address).
    public var protectBusyTasks: Bool
    /// How long one protection lasts unless renewed (renewed while the task stays busy). Longer
    /// than Redash's query time limit is safest; ECS allows 1 minute to 48 hours.
    public var taskProtection: Duration
    /// Protection time unless the file says otherwise.
    public static let defaultTaskProtection: Duration = .seconds(3600)
    /// How long an outside change of desiredCount (console, Terraform, another autoscaler) is
    /// left alone before the policy applies again; `0s` never holds.
    public var externalChangeHold: Duration
    /// Outside changes are left alone this long unless the file says otherwise.
    public static let defaultExternalChangeHold: Duration = .seconds(300)
    /// Whether the controller writes to this service, only says what it would write, or only
    /// watches it.
    public var mode: ServiceMode

    /// Observations older than this count as missing unless the file says otherwise.
    public static let defaultStaleAfter: Duration = .seconds(30)

    /// Creates a service policy; omitted settings take their documented defaults.
    public init(
        name: String, queues: [String], minTasks: Int, maxTasks: Int,
        workersPerTask: Int = ServicePolicy.defaultWorkersPerTask,
        target: ScalingTarget = ScalingTarget(),
        scaleUp: ScalingBehavior = .defaultScaleUp,
        scaleDown: ScalingBehavior = .defaultScaleDown,
        staleAfter: Duration = ServicePolicy.defaultStaleAfter,
        fallbackTasks: Int? = nil,
        schedules: [ScheduleFloor] = [],
        protectBusyTasks: Bool = true,
        taskProtection: Duration = ServicePolicy.defaultTaskProtection,
        externalChangeHold: Duration = ServicePolicy.defaultExternalChangeHold,
        mode: ServiceMode = .active
    ) {
        self.mode = mode
        self.externalChangeHold = externalChangeHold
        self.protectBusyTasks = protectBusyTasks
        self.taskProtection = taskProtection
        self.name = name
        self.queues = queues
        self.minTasks = minTasks
        self.maxTasks = maxTasks
        self.workersPerTask = workersPerTask
        self.target = target
        self.scaleUp = scaleUp
        self.scaleDown = scaleDown
        self.staleAfter = staleAfter
        self.fallbackTasks = fallbackTasks
        self.schedules = schedules
    }

    /// The highest schedule floor active at `now`, or `nil` when none is.
    public func scheduleFloor(at now: Instant) -> (tasks: Int, name: String)? {
        var best: (tasks: Int, name: String)?
        for schedule in schedules where schedule.isActive(at: now) {
            if best == nil || schedule.minTasks > best!.tasks {
                best = (schedule.minTasks, schedule.name)
            }
        }
        return best
    }
}

/// The service level a service is sized for.
public struct ScalingTarget: Hashable, Sendable {
    /// Pending jobs each worker slot may have waiting behind it before another task is added.
    /// `1` gives every waiting job its own worker; higher values trade wait for cost.
    public var backlogPerWorker: Double
    /// The longest a job should wait. When the oldest pending job has waited longer, the
    /// backlog allowance no longer applies: every waiting job is given a worker.
    public var maxWait: Duration
    /// When set, and the database gives the queues' typical runtimes, the backlog is weighed by
    /// work instead of counted: enough worker slots to run the pending jobs' expected seconds of
    /// work within this time (never more slots than jobs). A 2-second query and a 20-minute one
    /// then no longer count alike. `nil`: count jobs (`backlogPerWorker`).
    public var drainTime: Duration?

    /// Pending jobs per worker slot unless the file says otherwise.
    public static let defaultBacklogPerWorker = 1.0
    /// The longest wait unless the file says otherwise.
    public static let defaultMaxWait: Duration = .seconds(30)

    /// Creates a target; omitted settings take their defaults.
    public init(
        backlogPerWorker: Double = ScalingTarget.defaultBacklogPerWorker,
        maxWait: Duration = ScalingTarget.defaultMaxWait,
        drainTime: Duration? = nil
    ) {
        self.backlogPerWorker = backlogPerWorker
        self.maxWait = maxWait
        self.drainTime = drainTime
    }
}

/// The pace of change in one direction.
public struct ScalingBehavior: Hashable, Sendable {
    /// Recommendations within this window are combined before acting: the lowest for scaling
    /// up, the highest for scaling down (as Kubernetes' HPA does), so one noisy tick does not
    /// move the service.
    public var stabilizationWindow: Duration
    /// The most tasks one action adds or removes.
    public var maxStep: Int
    /// The least time between an action in this direction and the previous one (for scaling
    /// down: the previous action in either direction).
    public var cooldown: Duration

    /// Creates a behaviour.
    public init(stabilizationWindow: Duration, maxStep: Int, cooldown: Duration) {
        self.stabilizationWindow = stabilizationWindow
        self.maxStep = maxStep
        self.cooldown = cooldown
    }

    /// Scale up at once: queued queries are colleagues waiting.
    public static let defaultScaleUp = ScalingBehavior(
        stabilizationWindow: .zero, maxStep: 10, cooldown: .zero)
    /// Scale down after two quiet minutes (longer than a Fargate task takes to start, so the
    /// service does not flap), four tasks every 30 s at most. Busy tasks are protected and the
    /// running jobs set a floor, so shrinking quickly costs no query; `docs/benchmarks.md` shows
    /// the simulated comparison these values were chosen from.
    public static let defaultScaleDown = ScalingBehavior(
        stabilizationWindow: .seconds(120), maxStep: 4, cooldown: .seconds(30))
}
