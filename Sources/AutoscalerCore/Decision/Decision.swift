/// The scaling rule's verdict for one service at one moment, with the reason and the numbers
/// behind it. A value: the reconciler applies it, dry-run prints it, the simulator replays it.
public struct Decision: Hashable, Sendable {
    /// The ECS service name.
    public var service: String
    /// When the decision was made.
    public var at: Instant
    /// desiredCount before the decision; `nil` when ECS could not be read.
    public var current: Int?
    /// desiredCount after the decision; equals `current` when holding.
    public var desired: Int?
    /// The bounded count the signals ask for before stabilization, cooldown and step limits;
    /// the history keeps it for the stabilization window. `nil` when ECS could not be read.
    public var recommendation: Int?
    /// The main cause, stable for logs and metric labels.
    public var code: ReasonCode
    /// The cause in words an operator can check against the numbers.
    public var reason: String
    /// The numbers behind the decision.
    public var figures: DecisionFigures

    /// Creates a decision.
    public init(
        service: String, at: Instant, current: Int?, desired: Int?, recommendation: Int?,
        code: ReasonCode, reason: String, figures: DecisionFigures
    ) {
        self.service = service
        self.at = at
        self.current = current
        self.desired = desired
        self.recommendation = recommendation
        self.code = code
        self.reason = reason
        self.figures = figures
    }

    /// Which way the decision moves the service.
    public var direction: ScalingDirection {
        guard let current, let desired, current != desired else { return .hold }
        return desired > current ? .up : .down
    }

    /// True when the decision changes desiredCount.
    public var isChange: Bool { direction != .hold }
}

/// The direction of a decision.
public enum ScalingDirection: String, Hashable, Sendable {
    case up, down, hold
}

/// Why a decision came out as it did; raw values are stable names for logs and metrics.
public enum ReasonCode: String, Hashable, Sendable, CaseIterable {
    /// Pending and running jobs set the count.
    case backlog
    /// The oldest job waited longer than the target.
    case latency
    /// Jobs already running set the floor.
    case runningJobs = "running-jobs"
    /// A forecast of scheduled work set the count.
    case forecast
    /// A time-of-day schedule set the floor.
    case schedule
    /// `minTasks` set the floor.
    case minimum
    /// `maxTasks` capped the count.
    case maximum
    /// A queue signal is missing and the policy's fallback count applies.
    case fallback
    /// A queue signal is missing, so the rule will not scale in.
    case signalsMissing = "signals-missing"
    /// ECS could not be read.
    case serviceUnknown = "service-unknown"
    /// A scale-down waits for the stabilization window.
    case stabilizing
    /// The previous action was too recent.
    case cooldown
    /// An ECS deployment is rolling out; no scale-in until it ends.
    case deployment
    /// An operator holds the service at a count until a time (`redash-autoscaler hold`).
    case operatorHold = "operator-hold"
    /// The tasks asked for have not started for longer than tasks take to start: no more are
    /// asked for until they do.
    case capacityStalled = "capacity-stalled"
}

/// The numbers a decision was made from, for logs, `plan` and the decision table.
public struct DecisionFigures: Hashable, Sendable {
    /// Pending jobs across the service's readable queues.
    public var pending: Int = 0
    /// Of them, what a new task could pick up; `nil` when that is all of them.
    public var servable: Int?
    /// Prefetched by live busy nodes, stranded by killed ones, and on queues the service's
    /// workers do not listen on; `nil` with `servable`.
    public var held: Int?
    public var stranded: Int?
    public var unconsumed: Int?
    /// Running jobs across the service's readable queues; `nil` when a queue does not say
    /// (Celery without a complete remote-control round): unknown, never zero.
    public var running: Int?
    /// Busy workers, where the queue system records them.
    public var busyWorkers: Int?
    /// Age of the oldest pending job across the queues.
    public var oldestAge: Duration?
    /// Queues with no usable observation, with the reason.
    public var missingQueues: [String] = []
    /// Tasks the pending and running jobs need at the backlog target.
    public var byBacklog: Int = 0
    /// Tasks the latency signal asks for, when the oldest job waited too long.
    public var byLatency: Int?
    /// Tasks the running jobs alone need.
    public var runningFloor: Int = 0
    /// The active schedule floor, if any.
    public var scheduleFloor: Int?
    /// Tasks a forecast asks for, if any.
    public var predicted: Int?
    /// The lowest count allowed now (`minTasks` or a schedule floor).
    public var lowerBound: Int = 0
    /// The highest count allowed (`maxTasks`).
    public var upperBound: Int = 0

    /// Creates empty figures.
    public init() {}
}
