/// What ECS reported about one service at one moment.
public struct ServiceState: Hashable, Sendable {
    /// The service's desiredCount.
    public var desired: Int
    /// Tasks in the RUNNING state.
    public var running: Int
    /// Tasks started but not yet running (pulling the image, starting the container).
    public var pending: Int
    /// True while a deployment other than the primary one is still rolling out; the rule never
    /// scales in during a rollout, so that ECS does not stop new tasks it is still placing.
    public var isDeploymentInProgress: Bool
    /// When ECS was asked.
    public var observedAt: Instant
    /// Tasks known to run at least one job, when busy workers could be mapped to tasks (RQ's
    /// worker registry and ECS's task IPs). Jobs are not packed onto as few tasks as possible,
    /// so three busy tasks with two workers each still need three tasks, not two; `nil` when
    /// the mapping is unknown (Celery, or unmapped workers).
    public var busyTasks: Int?
    /// Its most recent ECS events (why tasks do not start is said only there).
    public var events: [ServiceEventNote] = []

    /// Creates a service state.
    public init(
        desired: Int, running: Int, pending: Int, isDeploymentInProgress: Bool = false,
        busyTasks: Int? = nil, observedAt: Instant, events: [ServiceEventNote] = []
    ) {
        self.events = events
        self.desired = desired
        self.running = running
        self.pending = pending
        self.isDeploymentInProgress = isDeploymentInProgress
        self.busyTasks = busyTasks
        self.observedAt = observedAt
    }
}

/// Capacity a forecast says a service will need soon, for example a burst of scheduled queries
/// falling due within the time a new task takes to start.
public struct PredictedDemand: Hashable, Sendable {
    /// Tasks the forecast asks for.
    public var tasks: Int
    /// Why, in words an operator can check ("14 scheduled queries due at 09:00").
    public var reason: String

    /// Creates a predicted demand.
    public init(tasks: Int, reason: String) {
        self.tasks = tasks
        self.reason = reason
    }
}
