/// Where the live applier writes to ECS: desiredCount and task scale-in protection. Every write
/// has a deadline: it is not sent, and not waited for, after it (a write made under a lease must
/// land inside the lease).
public protocol ClusterWriter: Sendable {
    /// Sets the service's desiredCount, and nothing else about it.
    func setDesiredCount(_ count: Int, service: String, within deadline: Duration) async throws
    /// Turns scale-in protection on (for `duration`) or off for `tasks`; returns ECS's answer
    /// per task.
    func setProtection(_ isEnabled: Bool, tasks: [String], duration: Duration?, within deadline: Duration) async throws -> ProtectionChange
}
