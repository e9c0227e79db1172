import AutoscalerCore
import IntegrationSupport
import RedisClient
import Testing
import TestSupport

/// During a Redis outage the controller tries again every few seconds; the log says so once
/// (then once a minute), and once when Redis answers again.
@Suite("Redis outage in the log", .testThreads)
struct RedisOutageLogTests {
    @Test("ten failed attempts log 'redis unavailable' once; the reconnect logs once, with the failures counted")
    func loggedOnce() async throws {
        let logs = CollectedLogs()
        let port = try Ports.free()
        let client = RedisClient(
            endpoint: try RedisEndpoint(url: "redis://127.0.0.1:\(port)/0"), logger: logs.logger(),
            pacing: ReconnectPacing(first: .milliseconds(1), cap: .milliseconds(1)))
        for _ in 0..<10 {
            _ = try? await client.pipeline([["PING"]])
            try await Task.sleep(for: .milliseconds(5))
        }
        let unavailable = logs.all.filter { $0.contains("redis unavailable") }
        #expect(unavailable.count == 1, "\(unavailable)")
        #expect(unavailable.first?.contains("redis.failures=1") == true)

        let server = try await RedisServer.start(port: port)
        _ = server
        #expect(try await client.pipeline([["PING"]]).first == .simpleString("PONG"))
        let reconnected = logs.all.filter { $0.contains("redis reconnected") }
        #expect(reconnected.count == 1 && reconnected.first?.contains("redis.failures=") == true, "\(reconnected)")
        await client.close()
    }
}
