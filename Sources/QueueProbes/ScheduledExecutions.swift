import AutoscalerCore
import RedisClient

/// When Redash's scheduler last enqueued each scheduled query: the hash `sq:executed_at`
/// (query id → seconds since the epoch), which Redash's rule prefers over the latest result's
/// `retrieved_at`.
public enum ScheduledExecutions {
    public static let key = "sq:executed_at"

    /// The executions by query id; unreadable entries are left out. An error when Redis cannot
    /// be read (the forecast then falls back to `retrieved_at`, as Redash would without them).
    public static func read(_ client: RedisClient) async throws -> [Int: Instant] {
        let reply = try await client.pipeline([["HGETALL", key]])
        guard let first = reply.first else { return [:] }
        if let message = first.errorMessage { throw RedisError(.protocolViolation, server: "", "HGETALL \(key): \(message)") }
        let elements = first.array ?? []
        var result: [Int: Instant] = [:]
        var index = 0
        while index + 1 < elements.count {
            if let id = elements[index].string.flatMap({ Int($0) }), let seconds = elements[index + 1].string.flatMap({ Double($0) }) {
                result[id] = Instant(secondsSinceEpoch: seconds)
            }
            index += 2
        }
        return result
    }
}
