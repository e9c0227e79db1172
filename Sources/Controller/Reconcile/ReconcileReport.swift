import AutoscalerCore
import Foundation

/// What one reconcile saw, decided and did.
public struct ReconcileReport: Sendable {
    public var at: Instant
    public var duration: Duration
    public var mode: ControllerMode
    /// Whether this controller may act (holds the lease, or needs none).
    public var isLeader: Bool
    public var probe: ProbeReport
    public var services: [ServiceReport]
    /// Every failed read or write of the tick, in the order they happened.
    public var errors: [DependencyError]
    /// The forecast checked against Redash's refreshes so far.
    public var forecastCheck: ForecastCheck = ForecastCheck()
    /// The refresh compared in this tick, if Redash recorded one.
    public var newComparison: ForecastCheck.Comparison?
    /// Policy queues that exist nowhere, and queues with work no service consumes.
    public var queueFindings: [QueueNameCheck.Finding] = []
    /// The ECS requests sent during the tick, by action (retries count); `nil` when not counted.
    public var apiCalls: [String: Int]?
    /// The controller-wide mode this tick: `run --dry-run`, the policy's `mode` and the kill
    /// switch combined.
    public var controllerMode: ServiceMode = .active
    /// What the kill switch said, when there is one.
    public var killSwitch: KillSwitchState?

    /// All ECS requests of the tick.
    public var apiCallCount: Int? { apiCalls.map { $0.values.reduce(0, +) } }

    /// Whether Redis and ECS were both read and written as planned: what `/readyz` asks of the
    /// last reconcile.
    public var succeeded: Bool { !errors.contains { $0.dependency == .redis || $0.dependency == .ecs } }

    /// The errors of one dependency.
    public func errors(of dependency: DependencyError.Dependency) -> [DependencyError] {
        errors.filter { $0.dependency == dependency }
    }
}

/// The kill switch as last read.
public struct KillSwitchState: Hashable, Sendable {
    public var source: String
    /// The mode it asks for; `nil`: none.
    public var mode: ServiceMode?
    /// Why the last read failed (the mode is then the last one read).
    public var problem: String?
}

/// One failed read or write: which dependency, what was being done, what it said.
public struct DependencyError: Hashable, Sendable, CustomStringConvertible {
    public enum Dependency: String, Hashable, Sendable, CaseIterable {
        case redis, ecs, database
        /// The kill switch (a file or SSM parameter) could not be read.
        case killSwitch = "kill-switch"
    }

    public var dependency: Dependency
    /// What was being done: `DescribeServices`, `tasks of redash-adhoc-worker`, `queue queries`.
    public var operation: String
    public var message: String

    public init(_ dependency: Dependency, _ operation: String, _ message: String) {
        self.dependency = dependency
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(operation): \(message)" }

    /// The IAM action the error says is missing, from AWS's AccessDenied message
    /// ("not authorized to perform: ecs:ListTasks") or the client's hint ("must allow …").
    public var missingPermission: String? {
        for marker in ["not authorized to perform: ", "must allow "] {
            guard let range = message.range(of: marker) else { continue }
            let action = message[range.upperBound...].prefix { !$0.isWhitespace && $0 != "," && $0 != ")" && $0 != "." }
            if action.contains(":") { return String(action) }
        }
        return nil
    }

    /// The message without its numbers, so that one failure repeating with other figures (a
    /// time, a count, an address) counts as the same line.
    var shape: String { String(message.map { $0.isNumber ? "#" : $0 }) }
}

/// One service's part of a reconcile.
public struct ServiceReport: Sendable {
    public var name: String
    public var queues: [String]
    /// The mode the service was handled in this tick (its own and the controller's combined).
    public var mode: ServiceMode = .active
    /// The operator's hold in force, if any.
    public var hold: OperatorHold?
    /// What ECS said, with the busy tasks the step found; `nil` when ECS could not be read.
    public var state: ServiceState?
    public var plan: ServicePlan
    public var outcome: ServiceOutcome
    /// How long the service's tasks take to start, as learned so far.
    public var startTimes = TaskStartWatch.Learned()

    public var decision: Decision { plan.decision }

    /// `would scale redash-adhoc-worker 1 → 4: …`, `scaled …`, `holding …`.
    public var summary: String {
        let from = decision.current.map(String.init) ?? "?"
        let to = decision.desired.map(String.init) ?? "?"
        switch outcome {
        case .unchanged: return "\(name) stays at \(from): \(decision.reason)"
        case .applied: return "scaled \(name) \(from) → \(to): \(decision.reason)"
        case .dryRun: return "would scale \(name) \(from) → \(to): \(decision.reason)"
        case .paused: return "paused, not scaling \(name) \(from) → \(to): \(decision.reason)"
        case .notLeader: return "not leader, not scaling \(name) \(from) → \(to): \(decision.reason)"
        case .externalChangeRespected(let until): return "respecting an outside change of \(name) to \(from) until \(until); would scale → \(to): \(decision.reason)"
        case .withheld(let reason): return "not scaling \(name) \(from) → \(to): \(reason)"
        case .failed(let error): return "failed to scale \(name) \(from) → \(to): \(error)"
        }
    }
}
