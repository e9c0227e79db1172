/// Everything the scaling rule needs to decide for one service. The rule reads nothing else:
/// no clock, no network, no globals.
public struct DecisionInput: Sendable {
    /// The service's policy.
    public var policy: ServicePolicy
    /// What the probes read, keyed by queue name. A queue of the policy that has no entry
    /// counts as missing.
    public var queues: [String: QueueReading]
    /// What ECS reported; `nil` when it could not be read.
    public var service: ServiceState?
    /// Capacity a forecast asks for, when a database is configured.
    public var predicted: PredictedDemand?
    /// Recent recommendations and actions for this service.
    public var history: ScalingHistory
    /// The moment of the decision.
    public var now: Instant
    /// Typical runtime of a job per queue (the median of recent results), when the database
    /// gives it; used with `target.drainTime`.
    public var expectedRuntimes: [String: Duration]
    /// Queues of the service that none of its live workers listens on: their work is not
    /// servable (`QueueConsumption`).
    public var unconsumedQueues: Set<String>

    /// Creates an input.
    public init(
        policy: ServicePolicy, queues: [String: QueueReading], service: ServiceState?,
        predicted: PredictedDemand? = nil, history: ScalingHistory, now: Instant,
        expectedRuntimes: [String: Duration] = [:], unconsumedQueues: Set<String> = []
    ) {
        self.unconsumedQueues = unconsumedQueues
        self.expectedRuntimes = expectedRuntimes
        self.policy = policy
        self.queues = queues
        self.service = service
        self.predicted = predicted
        self.history = history
        self.now = now
    }
}
