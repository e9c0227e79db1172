import AutoscalerCore

/// Runs the scaling rule tick by tick against a service whose desiredCount follows every
/// decision at once, as the reconciler would with a perfectly obedient ECS.
public struct RuleDriver {
    public var policy: ServicePolicy
    public var history = ScalingHistory()
    public var desired: Int
    public var now: Instant
    public var interval: Duration
    public private(set) var decisions: [Decision] = []

    public init(policy: ServicePolicy, desired: Int, start: Instant = Build.monday, interval: Duration = .seconds(5)) {
        self.policy = policy
        self.desired = desired
        self.now = start
        self.interval = interval
    }

    /// One tick with these queue readings; returns the decision.
    @discardableResult
    public mutating func tick(_ queues: [String: QueueReading]) -> Decision {
        let decision = ScalingRule.decide(DecisionInput(
            policy: policy, queues: queues, service: Build.state(desired: desired, at: now),
            history: history, now: now))
        history.record(decision, policy: policy)
        if decision.isChange, let target = decision.desired {
            history.recordApplied(decision)
            desired = target
        }
        decisions.append(decision)
        now = now + interval
        return decision
    }

    /// `count` ticks with readings computed from the tick's instant.
    public mutating func run(ticks count: Int, _ queues: (Instant) -> [String: QueueReading]) {
        for _ in 0..<count { tick(queues(now)) }
    }
}
