/// What the controller remembers about one service between ticks. A value: the step returns the
/// next one, the reconciler keeps it, the simulator and the tests keep theirs.
public struct ServiceMemory: Hashable, Sendable {
    /// Recommendations within the stabilization windows and the last applied actions.
    public var history: ScalingHistory
    /// The desiredCount this controller last set, so its own change is not taken for an outside one.
    public var lastSetByUs: Int?
    /// The desiredCount ECS reported at the previous tick while this controller was in charge of
    /// the service; `nil` when it was not (standby, paused): then it cannot tell who changed what.
    public var lastSeenDesired: Int?
    /// Until when an outside change of desiredCount is left alone.
    public var outsideChangeUntil: Instant?
    /// Tasks this controller protected from scale-in, so that it knows to release them.
    public var protectedByUs: Set<String>
    /// The Celery nodes of the service at the last complete remote-control round, by node name:
    /// a node that stops answering when ECS stops its task (SIGTERM) still runs its queries to
    /// the end, and they are kept counted until the task has stopped.
    public var celeryNodes: [String: RememberedNode] = [:]
    /// How long the service's tasks took to start, learned from ECS.
    public var startTimes = TaskStartWatch.Learned()
    /// Since when fewer of its tasks run than desired; `nil` while they all run.
    public var shortSince: Instant?

    /// Creates a memory; a new controller starts with an empty one (cooldowns may be restored
    /// into `history` from durable state).
    public init(
        history: ScalingHistory = ScalingHistory(), lastSetByUs: Int? = nil, lastSeenDesired: Int? = nil,
        outsideChangeUntil: Instant? = nil, protectedByUs: Set<String> = []
    ) {
        self.history = history
        self.lastSetByUs = lastSetByUs
        self.lastSeenDesired = lastSeenDesired
        self.outsideChangeUntil = outsideChangeUntil
        self.protectedByUs = protectedByUs
    }
}

/// A Celery node as the last complete round saw it.
public struct RememberedNode: Hashable, Sendable {
    /// The task address its name spells (`ip-10-0-1-23` → `10.0.1.23`).
    public var address: String?
    /// Tasks it was running, by queue (the service's queues only).
    public var running: [String: Int]

    public init(address: String?, running: [String: Int]) {
        self.address = address
        self.running = running
    }
}
