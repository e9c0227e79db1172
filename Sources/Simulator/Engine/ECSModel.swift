/// How the simulated ECS and Redash workers behave.
public struct ECSModel: Sendable {
    /// Seconds from a desiredCount increase to the task running (Fargate: image pull, ENI, start).
    public var taskStart: ClosedRange<Double>
    /// What a busy worker does when its task is stopped.
    public var shutdown: WorkerShutdown
    /// ECS's stopTimeout: SIGKILL this long after SIGTERM (30 s default, 120 s max on Fargate).
    public var stopTimeout: Double

    /// Fargate-like defaults with RQ-era workers.
    public init(taskStart: ClosedRange<Double> = 30...90, shutdown: WorkerShutdown = .rq, stopTimeout: Double = 30) {
        self.taskStart = taskStart
        self.shutdown = shutdown
        self.stopTimeout = stopTimeout
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
