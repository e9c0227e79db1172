/// Where the reconciler reads ECS: the services' counts and their tasks, as core values (the ECS
/// client's wire types stay inside it).
public protocol ClusterReader: Sendable {
    /// The state of each service in `names`; names ECS does not know are listed as missing.
    func services(_ names: [String], now: Instant) async throws -> ServicesSnapshot
    /// The tasks of each service in `names`, with their scale-in protection.
    func tasks(of names: [String], now: Instant) async throws -> [String: [TaskSnapshot]]
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
