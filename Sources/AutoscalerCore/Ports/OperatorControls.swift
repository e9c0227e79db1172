/// Where the reconciler reads the operators' holds ("hold this service at N until T"): the
/// controller's database in production.
/// Other autoscalers registered on the services: an Application Auto Scaling target whose
/// dynamic scaling is not suspended sets desiredCount too, and the two would undo each other.
public protocol CompetingScalers: Sendable {
    /// The services with an active target, and its resource id; read at most every few minutes.
    func competing(services: [String], now: Instant) async throws -> [String: String]
}

public protocol HoldSource: Sendable {
    /// The holds in force at `now`, by service.
    func activeHolds(now: Instant) async throws -> [String: OperatorHold]
}

/// The controller-wide kill switch: a file or a parameter holding `active`, `dry-run` or
/// `paused`, read every tick.
public protocol ModeSwitch: Sendable {
    /// Where it is read, for reports.
    var source: String { get }
    /// The mode it asks for now (`nil`: no override, as when the file or parameter does not
    /// exist); throws when it cannot be read or holds something else.
    func read(now: Instant) async throws -> ServiceMode?
}
