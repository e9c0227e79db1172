import AutoscalerCore

/// Runs the production step (`ServiceStep`) tick by tick against a service whose desiredCount
/// follows every change at once, as the reconciler would with a perfectly obedient ECS.
public struct RuleDriver {
    public var policy: ServicePolicy
    public var memory = ServiceMemory()
    public var desired: Int
    public var now: Instant
    public var interval: Duration
    public private(set) var decisions: [Decision] = []
    public private(set) var plans: [ServicePlan] = []

    public init(policy: ServicePolicy, desired: Int, start: Instant = Build.monday, interval: Duration = .seconds(5)) {
        self.policy = policy
        self.desired = desired
        self.now = start
        self.interval = interval
    }

    /// One tick with these queue readings; returns the decision.
    @discardableResult
    public mutating func tick(_ queues: [String: QueueReading]) -> Decision {
        let observation = ServiceObservation(queues: queues, service: Build.state(desired: desired, at: now))
        let (plan, planned) = ServiceStep.plan(observation, memory: memory, policy: policy, context: .init(interval: interval), now: now)
        var scale = ScaleResult.nothingToSend
        if case .send(let count) = plan.desiredCountToSend(after: .nothingToDo) {
            desired = count
            scale = .sent
        }
        memory = ServiceStep.settle(plan, memory: planned, result: ApplyResult(protection: .nothingToDo, scale: scale)).memory
        decisions.append(plan.decision)
        plans.append(plan)
        now = now + interval
        return plan.decision
    }

    /// `count` ticks with readings computed from the tick's instant.
    public mutating func run(ticks count: Int, _ queues: (Instant) -> [String: QueueReading]) {
        for _ in 0..<count { tick(queues(now)) }
    }
}
