import AutoscalerCLI
import AutoscalerCore
import IntegrationSupport
import PostgresClient
import Testing

/// `queues` finds what `plan` finds: a queue a data source routes to that no service of the
/// policy consumes, read from Redash's database when the policy names one.
@Suite("queues command with Redash's database", .testThreads)
struct QueuesRoutingTests {
    @Test("a data source routed to a queue no service consumes is a finding of queues, as of plan; without the database it is not seen")
    func routedButUnconsumed() async throws {
        let redis = try await RedisServer.start()
        let server = try await PostgresServer.start()
        let connection = try await PostgresConnection.connect(url: SecretURL(server.url))
        try await RedashDatabase.create(connection, era: .v10)
        _ = try await RedashDatabase.dataSource(connection, "Production")
        _ = try await RedashDatabase.dataSource(connection, "Warehouse", queue: "queries_heavy", scheduledQueue: "scheduled_queries")
        try await redis.cli(["SET", "redash:placeholder", "1"])
        func policy(database: Bool) -> Policy {
            Policy(
                cluster: "redash", redis: RedisSettings(url: SecretURL(redis.url), layout: .rq),
                database: database ? DatabaseSettings(url: SecretURL(server.url)) : nil,
                services: [
                    ServicePolicy(name: "adhoc", queues: ["queries"], minTasks: 1, maxTasks: 4),
                    ServicePolicy(name: "scheduled", queues: ["scheduled_queries"], minTasks: 1, maxTasks: 2),
                ])
        }
        let with = try await QueuesCommand.report(policy: policy(database: true), redisURL: nil, json: false)
        #expect(with.standardOutput.contains("queries_heavy") && with.standardOutput.contains("Warehouse"), "\(with.standardOutput)")
        #expect(with.standardError.isEmpty, "\(with.standardError)")
        let without = try await QueuesCommand.report(policy: policy(database: false), redisURL: nil, json: false)
        #expect(!without.standardOutput.contains("queries_heavy"), "\(without.standardOutput)")
    }
}
