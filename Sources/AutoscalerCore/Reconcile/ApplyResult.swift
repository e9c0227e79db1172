/// What an applier did with a plan: the protection changes and the desiredCount change.
public struct ApplyResult: Hashable, Sendable {
    public var protection: ProtectionResult
    public var scale: ScaleResult

    /// Creates a result.
    public init(protection: ProtectionResult, scale: ScaleResult) {
        self.protection = protection
        self.scale = scale
    }
}

/// What happened to a plan's protection changes.
public enum ProtectionResult: Hashable, Sendable {
    /// The plan had none.
    case nothingToDo
    /// Not sent (dry-run, standby, paused).
    case notSent
    /// Sent; ECS's answer.
    case applied(ProtectionChange)
    /// The call failed.
    case failed(String)
}

/// ECS's answer to protection changes.
public struct ProtectionChange: Hashable, Sendable {
    /// One task ECS would not change, and why (`DEPLOYMENT_BLOCKED`, `TASK_NOT_VALID`, …).
    public struct Refusal: Hashable, Sendable {
        public var task: String
        public var reason: String

        public init(task: String, reason: String) {
            self.task = task
            self.reason = reason
        }
    }

    /// Tasks now protected.
    public var protected: [String]
    /// Tasks now released.
    public var released: [String]
    /// Tasks ECS would not protect: a scale-in must wait.
    public var refused: [Refusal]
    /// Tasks ECS would not release: they stay protected, which keeps their queries safe.
    public var releaseRefused: [Refusal]

    /// Creates a change.
    public init(protected: [String] = [], released: [String] = [], refused: [Refusal] = [], releaseRefused: [Refusal] = []) {
        self.protected = protected
        self.released = released
        self.refused = refused
        self.releaseRefused = releaseRefused
    }
}

/// What happened to a plan's desiredCount change.
public enum ScaleResult: Hashable, Sendable {
    /// The plan changes nothing.
    case nothingToSend
    /// A change was due but not sent, and why.
    case notSent(NotSentReason)
    /// UpdateService accepted the new count.
    case sent
    /// A scale-in held back because protection did not hold.
    case withheld(String)
    /// UpdateService failed.
    case failed(String)
}

/// Why an applier did not send a change.
public enum NotSentReason: String, Hashable, Sendable {
    /// Dry-run: reported only.
    case dryRun = "dry-run"
    /// Another controller holds the lease.
    case notLeader = "not-leader"
    /// The service is paused: read and reported, never written.
    case paused
    /// Another autoscaler (an Application Auto Scaling target) sets the service's desiredCount.
    case competingAutoscaler = "competing-autoscaler"
}

/// What became of one service at one tick, for logs, `plan`, `/status` and the decision log.
public enum ServiceOutcome: Hashable, Sendable {
    /// Nothing to change.
    case unchanged
    /// UpdateService sent and accepted.
    case applied
    /// Dry-run: would have been sent.
    case dryRun
    /// Paused: would have been sent.
    case paused
    /// Another controller holds the lease.
    case notLeader
    /// Someone else changed desiredCount recently; left alone until then.
    case externalChangeRespected(until: Instant)
    /// A scale-in refused this tick, and why (busy tasks unknown or unprotected).
    case withheld(String)
    /// UpdateService failed.
    case failed(String)

    /// A stable name for JSON and metric labels.
    public var name: String {
        switch self {
        case .unchanged: "unchanged"
        case .applied: "applied"
        case .dryRun: "dry-run"
        case .paused: "paused"
        case .notLeader: "not-leader"
        case .externalChangeRespected: "external-change-respected"
        case .withheld: "withheld"
        case .failed: "failed"
        }
    }
}
