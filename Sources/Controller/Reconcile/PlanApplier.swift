import AutoscalerCore

/// Carries out plans: the only thing that differs between a live controller, a dry-run and a
/// standby. Each returns what it did; the step settles the memory from that.
public protocol PlanApplier: Sendable {
    /// `live` or `dry-run`, for reports.
    var mode: ControllerMode { get }
    /// Applies one service's plan.
    func apply(_ plan: ServicePlan, service: String) async -> ApplyResult
}

/// Whether the controller writes to ECS.
public enum ControllerMode: String, Sendable {
    case live
    case dryRun = "dry-run"
}

/// Writes to ECS: protection first, then desiredCount, and a scale-in only once protection holds.
/// With a lease, every write first asks it how long it may take (`writeWindow`) and gets no more:
/// a leader that stalled past its lease writes nothing.
public struct LiveApplier: PlanApplier {
    let writer: any ClusterWriter
    let lease: (any Leadership)?

    /// The longest one write (with its retries) may take; shorter than a new leader's guard.
    public static let writeDeadline: Duration = .seconds(5)

    public init(writer: any ClusterWriter, lease: (any Leadership)? = nil) {
        self.writer = writer
        self.lease = lease
    }

    public var mode: ControllerMode { .live }

    /// How long the next write may take, or `nil` when it may not be sent.
    private func window() async -> Duration? {
        guard let lease else { return Self.writeDeadline }
        return await lease.writeWindow().map { min($0, Self.writeDeadline) }
    }

    public func apply(_ plan: ServicePlan, service: String) async -> ApplyResult {
        let protection = await protect(plan)
        switch plan.desiredCountToSend(after: protection) {
        case .nothing:
            return ApplyResult(protection: protection, scale: .nothingToSend)
        case .withhold(let reason):
            return ApplyResult(protection: protection, scale: .withheld(reason))
        case .send(let count):
            guard let deadline = await window() else { return ApplyResult(protection: protection, scale: .notSent(.notLeader)) }
            do {
                try await writer.setDesiredCount(count, service: service, within: deadline)
                return ApplyResult(protection: protection, scale: .sent)
            } catch {
                return ApplyResult(protection: protection, scale: .failed("\(error)"))
            }
        }
    }

    private func protect(_ plan: ServicePlan) async -> ProtectionResult {
        guard !plan.protection.isEmpty else { return .nothingToDo }
        var change = ProtectionChange()
        do {
            if !plan.protection.protect.isEmpty {
                guard let deadline = await window() else { return .notSent }
                let answer = try await writer.setProtection(true, tasks: plan.protection.protect, duration: plan.protectionDuration, within: deadline)
                change.protected = answer.protected
                change.refused = answer.refused
            }
            if !plan.protection.release.isEmpty {
                guard let deadline = await window() else { return .applied(change) }
                let answer = try await writer.setProtection(false, tasks: plan.protection.release, duration: nil, within: deadline)
                change.released = answer.released
                change.releaseRefused = answer.releaseRefused
            }
            return .applied(change)
        } catch {
            return .failed("\(error)")
        }
    }
}

/// Dry-run: writes nothing and reports every change the live applier would attempt.
public struct DryRunApplier: PlanApplier {
    public init() {}

    public var mode: ControllerMode { .dryRun }

    public func apply(_ plan: ServicePlan, service: String) async -> ApplyResult {
        let scale: ScaleResult
        if case .set = plan.action { scale = .notSent(.dryRun) } else { scale = .nothingToSend }
        return ApplyResult(protection: plan.protection.isEmpty ? .nothingToDo : .notSent, scale: scale)
    }
}

/// A standby (another controller holds the lease): writes nothing, not even protection.
struct StandbyApplier: PlanApplier {
    let mode: ControllerMode

    func apply(_ plan: ServicePlan, service: String) async -> ApplyResult {
        ApplyResult(protection: plan.protection.isEmpty ? .nothingToDo : .notSent, scale: .notSent(.notLeader))
    }
}
