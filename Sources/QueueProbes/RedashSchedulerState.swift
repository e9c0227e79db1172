import AutoscalerCore
import RedisClient

/// What Redash's scheduler keeps in Redis about scheduled queries, read in one pipelined round
/// trip: when it last enqueued each query (the hash `sq:executed_at`, query id → seconds since
/// the epoch, which Redash's rule prefers over the latest result's `retrieved_at`), and which
/// data sources are paused (a key `ds:<id>:pause` exists; the scheduler skips their queries).
public struct RedashSchedulerState: Sendable, Equatable {
    public static let executionsKey = "sq:executed_at"

    /// Previous executions by query id; unreadable entries are left out.
    public var executions: [Int: Instant]
    /// Data sources whose scheduled queries Redash will not enqueue while paused.
    public var pausedDataSources: Set<Int>

    public init(executions: [Int: Instant] = [:], pausedDataSources: Set<Int> = []) {
        self.executions = executions
        self.pausedDataSources = pausedDataSources
    }

    static func pauseKey(_ dataSource: Int) -> String { "ds:\(dataSource):pause" }

    /// Reads both for `dataSources` (the ids in Redash's `data_sources` table). An error when
    /// Redis cannot be read; the forecast then goes on without them, as Redash's rule would
    /// without `sq:executed_at`.
    public static func read(_ client: RedisClient, dataSources: [Int]) async throws -> RedashSchedulerState {
        let replies = try await client.pipeline([["HGETALL", executionsKey]] + dataSources.map { ["EXISTS", pauseKey($0)] })
        guard let first = replies.first else { return RedashSchedulerState() }
        if let message = first.errorMessage { throw RedisError(.protocolViolation, server: "", "HGETALL \(executionsKey): \(message)") }
        let elements = first.array ?? []
        var executions: [Int: Instant] = [:]
        var index = 0
        while index + 1 < elements.count {
            if let id = elements[index].string.flatMap({ Int($0) }), let seconds = elements[index + 1].string.flatMap({ Double($0) }) {
                executions[id] = Instant(secondsSinceEpoch: seconds)
            }
            index += 2
        }
        var paused = Set<Int>()
        for (dataSource, reply) in zip(dataSources, replies.dropFirst()) {
            if let message = reply.errorMessage { throw RedisError(.protocolViolation, server: "", "EXISTS \(pauseKey(dataSource)): \(message)") }
            if (reply.integer ?? 0) > 0 { paused.insert(dataSource) }
        }
        return RedashSchedulerState(executions: executions, pausedDataSources: paused)
    }
}
