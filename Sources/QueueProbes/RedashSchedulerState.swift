import AutoscalerCore
import RedisClient

/// Reads what Redash's scheduler keeps in Redis (`RedashSchedulerState`): the hash
/// `sq:executed_at` and a pause key `ds:<id>:pause` per data source.
public enum RedashSchedulerStateReader {
    public static let executionsKey = "sq:executed_at"

    static func pauseKey(_ dataSource: Int) -> String { "ds:\(dataSource):pause" }

    /// The commands, to pipeline with others.
    static func commands(dataSources: [Int]) -> [[String]] {
        [["HGETALL", executionsKey]] + dataSources.map { ["EXISTS", pauseKey($0)] }
    }

    struct Problem: Error {
        var message: String
    }

    /// Reads the replies of `commands(dataSources:)`. An error reply (a wrong type, say) fails
    /// the whole reading: half a state would make the forecast lie.
    static func interpret(_ replies: [RESPValue], dataSources: [Int], now: Instant) -> Result<RedashSchedulerState, Problem> {
        guard let first = replies.first, replies.count == dataSources.count + 1 else {
            return .failure(Problem(message: "\(executionsKey): no reply"))
        }
        if let message = first.errorMessage { return .failure(Problem(message: "HGETALL \(executionsKey): \(message)")) }
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
            if let message = reply.errorMessage { return .failure(Problem(message: "EXISTS \(pauseKey(dataSource)): \(message)")) }
            if (reply.integer ?? 0) > 0 { paused.insert(dataSource) }
        }
        return .success(RedashSchedulerState(executions: executions, pausedDataSources: paused, dataSources: dataSources, readAt: now))
    }

    /// Reads both for `dataSources` in one round trip (the `forecast` command). An error when
    /// Redis cannot be read.
    public static func read(_ client: RedisClient, dataSources: [Int], now: Instant) async throws -> RedashSchedulerState {
        let replies = try await client.pipeline(commands(dataSources: dataSources))
        switch interpret(replies, dataSources: dataSources, now: now) {
        case .success(let state): return state
        case .failure(let problem): throw RedisError(.protocolViolation, server: "", problem.message)
        }
    }
}
