/// Where the live applier writes to ECS: desiredCount and task scale-in protection.
public protocol ClusterWriter: Sendable {
    /// Sets the service's desiredCount, and nothing else about it.
    func setDesiredCount(_ count: Int, service: String) async throws
    /// Turns scale-in protection on (for `duration`) or off for `tasks`; returns ECS's answer
    /// per task.
    func setProtection(_ isEnabled: Bool, tasks: [String], duration: Duration?) async throws -> ProtectionChange
}
