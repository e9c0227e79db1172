/// Where the reconciler reads ECS: the services' counts and their tasks, as core values (the ECS
/// client's wire types stay inside it).
public protocol ClusterReader: Sendable {
    /// The state of each service in `names`; names ECS does not know are listed as missing. A
    /// reader may answer from what it read at an earlier tick (`ServiceState.observedAt` says
    /// when); the reconciler calls `refreshServices` before it writes.
    func services(_ names: [String], now: Instant) async throws -> ServicesSnapshot
    /// The state of each service in `names`, read from ECS now, whatever was read before.
    func refreshServices(_ names: [String], now: Instant) async throws -> ServicesSnapshot
    /// The tasks of each service in `names`, with their scale-in protection.
    func tasks(of names: [String], now: Instant) async throws -> [String: [TaskSnapshot]]
    /// Takes up a reloaded policy's `ecs` settings (rate limit, refresh).
    func adopt(_ settings: ECSSettings) async
}

extension ClusterReader {
    /// A reader with nothing to tune.
    public func adopt(_ settings: ECSSettings) async {}

    /// A reader that always reads ECS anew has nothing to refresh.
    public func refreshServices(_ names: [String], now: Instant) async throws -> ServicesSnapshot {
        try await services(names, now: now)
    }
}

/// Counts the API requests an adapter sent: how the controller shows its share of ECS's
/// account-wide rate limits.
public protocol APICallCounting: Sendable {
    /// Requests sent since the adapter was made, by action.
    func callsSoFar() -> [String: Int]
}

/// What ECS said about the managed services.
public struct ServicesSnapshot: Hashable, Sendable {
    /// A service ECS does not know (or knows as deleted), with its reason.
    public struct Missing: Hashable, Sendable {
        public var name: String
        public var reason: String

        public init(name: String, reason: String) {
            self.name = name
            self.reason = reason
        }
    }

    /// The services found, by name.
    public var states: [String: ServiceState]
    /// The services not found.
    public var missing: [Missing]

    /// Creates a snapshot.
    public init(states: [String: ServiceState], missing: [Missing] = []) {
        self.states = states
        self.missing = missing
    }
}
