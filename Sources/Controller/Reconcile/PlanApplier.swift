import AutoscalerCore

/// Carries out plans: each plan says whether it may be written (`ServicePlan.authority`, decided
/// once per service per tick); a withheld plan is reported, never sent. Otherwise it writes to
/// ECS: protection first, then desiredCount, and a scale-in only once protection holds. With a
/// lease, every write first asks it how long it may take (`writeWindow`) and gets no more: a
/// leader that stalled past its lease writes nothing.
///
/// Without a writer (`run --dry-run`, `plan`) nothing can be written whatever a plan says.
public struct PlanApplier: Sendable {
    let writer: (any ClusterWriter)?
    let lease: (any Leadership)?

    /// The longest one write (with its retries) may take; shorter than a new leader's guard.
    public static let writeDeadline: Duration = .seconds(5)

    /// This applier's bound on one write: `writeDeadline` unless a test needs more room.
    let deadline: Duration

    /// An applier that writes through `writer`.
    public init(writer: any ClusterWriter, lease: (any Leadership)? = nil, writeDeadline: Duration = PlanApplier.writeDeadline) {
        self.writer = writer
        self.lease = lease
        self.deadline = writeDeadline
    }

    private init() {
        writer = nil
        lease = nil
        deadline = Self.writeDeadline
    }

    /// `run --dry-run` and `plan`: writes nothing.
    public static let dryRun = PlanApplier()

    /// `dry-run` without a writer, else `live`: whether `run --dry-run` was asked for.
    public var mode: ControllerMode { writer == nil ? .dryRun : .live }

    /// How long the next write may take, or `nil` when it may not be sent.
    private func window() async -> Duration? {
        guard let lease else { return deadline }
        return await lease.writeWindow().map { min($0, deadline) }
    }

    /// Applies one service's plan.
    public func apply(_ plan: ServicePlan, service: String) async -> ApplyResult {
        await apply([(service, plan)])[0]
    }

    /// The plans of one tick, results in the same order. Withheld plans are reported; for the
    /// others, protection for every service first, in as few calls as ECS allows (ten tasks a
    /// call, whichever services they belong to); then each service's desiredCount, a scale-in
    /// only where its own busy tasks are protected.
    public func apply(_ plans: [(service: String, plan: ServicePlan)]) async -> [ApplyResult] {
        var results = plans.map { WriteAuthority.notSent($0.plan, $0.plan.authority.withheld ?? .dryRun) }
        guard let writer else { return results }
        let sent = plans.indices.filter { plans[$0].plan.authority.withheld == nil }
        let protections = await protect(sent.map { plans[$0].plan }, writer: writer)
        for (index, protection) in zip(sent, protections) {
            results[index] = await scale(plans[index].plan, service: plans[index].service, after: protection, writer: writer)
        }
        return results
    }

    private func scale(_ plan: ServicePlan, service: String, after protection: ProtectionResult, writer: any ClusterWriter) async -> ApplyResult {
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

    /// Carries out the protection plans of several services: one batched call per kind of
    /// change (protect for a given duration, release), each service's share of ECS's answer
    /// given back to it. A call that fails fails only the services that had tasks in it.
    private func protect(_ plans: [ServicePlan], writer: any ClusterWriter) async -> [ProtectionResult] {
        var results: [ProtectionResult] = plans.map { $0.protection.isEmpty ? .nothingToDo : .applied(ProtectionChange()) }
        // Protect, grouped by duration (a policy per service), then release.
        let durations = Set(plans.filter { !$0.protection.protect.isEmpty }.map(\.protectionDuration)).sorted()
        var calls: [(enable: Bool, duration: Duration?, members: [Int])] = durations.map { duration in
            (true, duration, plans.indices.filter { !plans[$0].protection.protect.isEmpty && plans[$0].protectionDuration == duration })
        }
        calls.append((false, nil, plans.indices.filter { !plans[$0].protection.release.isEmpty }))
        for call in calls where !call.members.isEmpty {
            let tasks = call.members.flatMap { call.enable ? plans[$0].protection.protect : plans[$0].protection.release }
            guard let deadline = await window() else {
                // Not in charge any more: a protection not sent means no scale-in; a release not
                // sent keeps the tasks protected, which is safe.
                for member in call.members where call.enable { results[member] = .notSent }
                continue
            }
            do {
                let answer = try await writer.setProtection(call.enable, tasks: tasks, duration: call.duration, within: deadline)
                for member in call.members {
                    guard case .applied(var change) = results[member] else { continue }
                    let mine = Set(call.enable ? plans[member].protection.protect : plans[member].protection.release)
                    if call.enable {
                        change.protected = answer.protected.filter(mine.contains)
                        change.refused = answer.refused.filter { mine.contains($0.task) }
                    } else {
                        change.released = answer.released.filter(mine.contains)
                        change.releaseRefused = answer.releaseRefused.filter { mine.contains($0.task) }
                    }
                    results[member] = .applied(change)
                }
            } catch {
                for member in call.members where call.enable || results[member] == .applied(ProtectionChange()) {
                    results[member] = .failed("\(error)")
                }
            }
        }
        return results
    }
}

/// Whether the controller was started to write (`run`) or only to say what it would do
/// (`run --dry-run`, `plan`).
public enum ControllerMode: String, Sendable {
    case live
    case dryRun = "dry-run"
}
