/// How the simulated ECS and Redash workers behave.
public struct ECSModel: Sendable {
    /// Seconds from a desiredCount increase to the task running (Fargate: image pull, ENI, start).
    public var taskStart: ClosedRange<Double>
    /// What a busy worker does when its task is stopped.
    public var shutdown: WorkerShutdown
    /// ECS's stopTimeout: SIGKILL this long after SIGTERM (30 s default, 120 s max on Fargate).
    public var stopTimeout: Double
    /// Seconds from an autoscaler's reading of the cluster to ECS acting on its answer: the
    /// `UpdateTaskProtection` and `UpdateService` calls and the service scheduler's reaction.
    /// Protection lands before the new count, as our controller orders them; a worker that takes
    /// a job on an idle task in between can still be stopped under it.
    public var actionLatency: Double
    /// Seconds from a reading taken just before the writes (our controller's second reading
    /// before a scale-in) to ECS acting on them: the two calls and the scheduler's reaction.
    public var recheckLatency: Double
    /// Seconds from a worker taking its first job to its own protection call landing, for
    /// workers that protect their task themselves (`Simulation.workersProtectTheirTasks`).
    public var selfProtectionLatency: Double
    /// How big a task of a given `workersPerTask` is.
    public var sizing: TaskSizing
    /// What a task of a given size costs per hour.
    public var prices: FargatePrices

    /// Fargate-like defaults with RQ-era workers.
    public init(
        taskStart: ClosedRange<Double> = 30...90, shutdown: WorkerShutdown = .rq, stopTimeout: Double = 30,
        actionLatency: Double = 2, recheckLatency: Double = 0.5, selfProtectionLatency: Double = 0.5,
        sizing: TaskSizing = .redashWorker, prices: FargatePrices = .usEast1LinuxX86
    ) {
        self.actionLatency = actionLatency
        self.recheckLatency = recheckLatency
        self.selfProtectionLatency = selfProtectionLatency
        self.taskStart = taskStart
        self.shutdown = shutdown
        self.stopTimeout = stopTimeout
        self.sizing = sizing
        self.prices = prices
    }

    /// Seconds after SIGTERM at which a running job is lost.
    var abortDelay: Double {
        switch shutdown {
        case .rq: min(6, stopTimeout)
        case .celery: stopTimeout
        }
    }
}

/// Redash's two worker kinds differ in how a stopped task treats its running job.
public enum WorkerShutdown: String, Sendable, Codable, CaseIterable {
    /// Redash v10+: RQ's HerokuWorker aborts the running job about 6 s after SIGTERM; the
    /// query is not re-queued.
    case rq
    /// Redash v7–v8: Celery's warm shutdown waits, and ECS kills it at stopTimeout; the acked
    /// query is lost.
    case celery
}
