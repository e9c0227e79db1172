/// Whether one service's plan may be carried out at one tick, decided once, from everything that
/// can stop a write: the service's `mode`, the policy's, the kill switch, `run --dry-run`, and
/// whether this controller holds the lease now. The plan carries it; the applier answers it.
///
/// An operator's hold is not part of it: a hold is a count the step plans to, and it is written
/// like any other plan, within the mode decided here.
public struct WriteAuthority: Hashable, Sendable {
    /// The strictest mode that applies to the service.
    public var mode: ServiceMode
    /// Whether this controller may write now (it leads, and its lease allows a write).
    public var isLeader: Bool
    /// Another autoscaler registered on the service (an Application Auto Scaling target's
    /// resource id): an active service is then not written, since each would undo the other.
    public var competitor: String?

    /// Creates an authority.
    public init(mode: ServiceMode = .active, isLeader: Bool = true, competitor: String? = nil) {
        self.mode = mode
        self.isLeader = isLeader
        self.competitor = competitor
    }

    /// Everything that can stop a write, combined.
    /// - Parameters:
    ///   - controller: the controller-wide mode: `run --dry-run`, the policy's `mode` and the
    ///     kill switch, combined (`controllerMode`).
    ///   - service: the service's own `mode`.
    ///   - mayWrite: whether this controller leads and may write now.
    ///   - competitor: another autoscaler's target on the service, if any.
    public static func decide(controller: ServiceMode, service: ServiceMode, mayWrite: Bool, competitor: String? = nil) -> WriteAuthority {
        WriteAuthority(mode: .combined(controller, service), isLeader: mayWrite, competitor: competitor)
    }

    /// The controller-wide mode: the strictest of `run --dry-run`, the policy's `mode` and the
    /// kill switch's.
    public static func controllerMode(isDryRun: Bool, policy: ServiceMode, killSwitch: ServiceMode?) -> ServiceMode {
        .combined(isDryRun ? .dryRun : .active, policy, killSwitch)
    }

    /// Why the plan is not to be sent, or `nil` when it may be: a paused or dry-run service is
    /// reported only, whoever leads; an active one waits for the lease.
    public var withheld: NotSentReason? {
        switch mode {
        case .paused: .paused
        case .dryRun: .dryRun
        case .active: !isLeader ? .notLeader : competitor != nil ? .competingAutoscaler : nil
        }
    }

    /// What becomes of `plan` when it is not sent: nothing is written, and the change it
    /// carries is reported with `reason`.
    public static func notSent(_ plan: ServicePlan, _ reason: NotSentReason) -> ApplyResult {
        let scale: ScaleResult
        if case .set = plan.action { scale = .notSent(reason) } else { scale = .nothingToSend }
        return ApplyResult(protection: plan.protection.isEmpty ? .nothingToDo : .notSent, scale: scale)
    }
}
