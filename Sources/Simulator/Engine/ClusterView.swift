import AutoscalerCore

/// What an autoscaler can see at one tick: the queues as the Redis probes would report them
/// and the services as ECS and the worker registry would.
public struct ClusterView: Sendable {
    /// Wall-clock time of the tick.
    public var now: Instant
    /// Each queue's observation, keyed by name.
    public var queues: [String: QueueObservation]
    /// Each managed service, in policy order.
    public var services: [ServiceView]

    /// Creates a view.
    public init(now: Instant, queues: [String: QueueObservation], services: [ServiceView]) {
        self.now = now
        self.queues = queues
        self.services = services
    }
}

/// One service as ECS reports it, with its tasks' activity.
public struct ServiceView: Sendable {
    /// ECS service name.
    public var name: String
    /// desiredCount.
    public var desired: Int
    /// Tasks RUNNING.
    public var running: Int
    /// Tasks starting.
    public var pending: Int
    /// True while a simulated ECS deployment rolls out.
    public var isDeploying: Bool
    /// The tasks as ECS would describe them: address, phase and scale-in protection.
    public var tasks: [TaskSnapshot]
    /// The RQ workers as Redis' worker registry would list them (each connects from its task's
    /// address, so busy workers map to tasks the way they do in production).
    public var workers: [WorkerIdentity]
    /// Average CPU of the running tasks now, 0…1 (a busy worker keeps its share of the task's
    /// CPU busy: Redash workers process results in Python).
    public var cpu: Double

    /// Creates a service view.
    public init(
        name: String, desired: Int, running: Int, pending: Int, isDeploying: Bool = false, tasks: [TaskSnapshot] = [],
        workers: [WorkerIdentity] = [], cpu: Double
    ) {
        self.name = name
        self.desired = desired
        self.running = running
        self.pending = pending
        self.isDeploying = isDeploying
        self.tasks = tasks
        self.workers = workers
        self.cpu = cpu
    }
}

/// What an autoscaler asks for after a tick.
public struct AutoscalerActions: Sendable {
    /// New desiredCount per service name; services not named keep theirs.
    public var desired: [String: Int] = [:]
    /// Protection changes per service name, applied before any desiredCount change, and how
    /// long a protection set now lasts.
    public var protection: [String: (plan: ProtectionPlan, duration: Duration)] = [:]

    public init(desired: [String: Int] = [:], protection: [String: (plan: ProtectionPlan, duration: Duration)] = [:]) {
        self.desired = desired
        self.protection = protection
    }
}

/// Anything that can size the simulated services: our controller or a baseline.
public protocol SimulatedAutoscaler {
    /// Name in reports.
    var name: String { get }
    /// Seconds between two ticks.
    var tickInterval: Double { get }
    /// Looks at the cluster and answers.
    mutating func tick(_ view: ClusterView) -> AutoscalerActions
    /// Whether the view must list every task and worker. Only an autoscaler that maps busy
    /// workers to tasks needs them; building them each tick took about half of a tuning run.
    var readsTasks: Bool { get }
    /// Whether it reads the queues and workers again just before a scale-in it answered reaches
    /// ECS (`ECSModel.recheckLatency` before it lands), as our controller does.
    var rechecksBeforeScaleIn: Bool { get }
    /// The answer made again from `view`, the second reading, for the `actions` of its last tick.
    mutating func recheck(_ actions: AutoscalerActions, _ view: ClusterView) -> AutoscalerActions
    /// Seconds between two looks at the queues alone between ticks; 0: none.
    var reactInterval: Double { get }
    /// Whether what the queues show now calls for a tick at once.
    mutating func wantsEarlyTick(_ view: ClusterView) -> Bool
}

extension SimulatedAutoscaler {
    /// Our controller maps workers to tasks; the baselines say `false`.
    public var readsTasks: Bool { true }
    /// The baselines act on the reading of their tick.
    public var rechecksBeforeScaleIn: Bool { false }
    public mutating func recheck(_ actions: AutoscalerActions, _ view: ClusterView) -> AutoscalerActions { actions }
    /// The baselines look at their signals at their own pace only.
    public var reactInterval: Double { 0 }
    public mutating func wantsEarlyTick(_ view: ClusterView) -> Bool { false }
}
