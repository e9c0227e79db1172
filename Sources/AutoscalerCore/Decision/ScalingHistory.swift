/// What the rule remembers about one service between decisions: the recommendations inside the
/// longest stabilization window, and when it last scaled each way.
///
/// A value, updated by the reconciler after each decision; the rule only reads it.
public struct ScalingHistory: Hashable, Sendable {
    /// One remembered recommendation.
    public struct Entry: Hashable, Sendable {
        /// When it was made.
        public var at: Instant
        /// The bounded count the signals asked for.
        public var recommendation: Int

        /// Creates an entry (durable state and tests restore histories this way).
        public init(at: Instant, recommendation: Int) {
            self.at = at
            self.recommendation = recommendation
        }
    }

    /// Recommendations, oldest first, no older than the longest window.
    public private(set) var entries: [Entry]
    /// When the first recommendation was recorded. A scale-down needs a whole window of
    /// watching, so a freshly started controller never scales in on its first tick.
    public private(set) var observingSince: Instant?
    /// When the last scale-up was applied.
    public private(set) var lastScaleUp: Instant?
    /// When the last scale-down was applied.
    public private(set) var lastScaleDown: Instant?

    /// Creates a history, optionally restored from durable state.
    public init(
        entries: [Entry] = [], observingSince: Instant? = nil, lastScaleUp: Instant? = nil,
        lastScaleDown: Instant? = nil
    ) {
        self.entries = entries
        self.observingSince = observingSince ?? entries.first?.at
        self.lastScaleUp = lastScaleUp
        self.lastScaleDown = lastScaleDown
    }

    /// The most recent applied action in either direction.
    public var lastAction: Instant? {
        switch (lastScaleUp, lastScaleDown) {
        case let (up?, down?): max(up, down)
        case let (up, down): up ?? down
        }
    }

    /// Remembers a decision's recommendation, forgetting what every window of `policy` has left.
    public mutating func record(_ decision: Decision, policy: ServicePolicy) {
        guard let recommendation = decision.recommendation else { return }
        entries.append(Entry(at: decision.at, recommendation: recommendation))
        if observingSince == nil { observingSince = decision.at }
        let retention = max(policy.scaleUp.stabilizationWindow, policy.scaleDown.stabilizationWindow)
        let horizon = decision.at - retention
        if let keepFrom = entries.firstIndex(where: { $0.at >= horizon }), keepFrom > 0 {
            entries.removeFirst(keepFrom)
        }
    }

    /// Remembers that a decision was applied to ECS, for the cooldowns.
    public mutating func recordApplied(_ decision: Decision) {
        switch decision.direction {
        case .up: lastScaleUp = decision.at
        case .down: lastScaleDown = decision.at
        case .hold: break
        }
    }
}
