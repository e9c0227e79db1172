import AutoscalerCore
import Foundation
import IntegrationSupport
import QueueProbes
import RedisClient
import Testing
import TestSupport

@Suite("Redis connections that go wrong", .testThreads)
struct RedisFailureTests {
    /// Generous timeouts unless a test is about them: on a loaded 2-core machine a first reply
    /// can take seconds, and these tests are about what goes wrong, not about speed.
    private func client(_ url: String, command: Duration = .seconds(10)) throws -> RedisClient {
        RedisClient(endpoint: try RedisEndpoint(url: url), timeouts: RedisTimeouts(connect: .seconds(10), command: command), logger: quietLogger)
    }

    @Test("the right password works; a wrong one is refused, and neither appears in the error")
    func password() async throws {
        let redis = try await RedisServer.start(password: "s3cret-Pa55")
        let good = try client("redis://:s3cret-Pa55@127.0.0.1:\(redis.port)/0")
        #expect(try await good.pipeline([["PING"]]) == [RESPValue.simpleString("PONG")])
        await good.close()
        let bad = try client("redis://:hunter2@127.0.0.1:\(redis.port)/0")
        do {
            _ = try await bad.pipeline([["PING"]])
            Issue.record("a wrong password was accepted")
        } catch let error as RedisError {
            #expect(error.kind == .authenticationFailed)
            #expect(!error.description.contains("hunter2") && !error.description.contains("s3cret"), "\(error)")
        }
    }

    @Test("an ACL user and password work")
    func aclUser() async throws {
        let redis = try await RedisServer.start(aclUser: (name: "autoscaler", password: "acl-pass"))
        let good = try client("redis://autoscaler:acl-pass@127.0.0.1:\(redis.port)/0")
        #expect(try await good.pipeline([["PING"]]) == [RESPValue.simpleString("PONG")])
        await good.close()
        let bad = try client("redis://autoscaler:nope@127.0.0.1:\(redis.port)/0")
        await #expect(throws: RedisError.self) { _ = try await bad.pipeline([["PING"]]) }
    }

    @Test("a database the server does not have is refused by name")
    func wrongDatabase() async throws {
        let redis = try await RedisServer.start()
        let selected = try client("redis://127.0.0.1:\(redis.port)/99")
        do {
            _ = try await selected.pipeline([["PING"]])
            Issue.record("SELECT 99 was accepted")
        } catch let error as RedisError {
            #expect(error.kind == .databaseSelectionFailed)
            #expect(error.description.contains("SELECT 99"))
        }
    }

    /// No bound on real time here: in the parallel pass the client's own code (an actor, on
    /// Swift's shared threads, which the controller code other tests run in-process also uses)
    /// waited up to 23 s for a thread. A hang fails at the time limit; the error's kind says the
    /// call gave up rather than answered.
    @Test("a server that accepts and never answers times out instead of hanging", .timeLimit(.minutes(1)))
    func silentServer() async throws {
        let listener = try SilentListener()
        let silent = try client("redis://127.0.0.1:\(listener.port)/0", command: .milliseconds(300))
        let started = ContinuousClock.now
        do {
            _ = try await silent.pipeline([["LLEN", "rq:queue:queries"]])
            Issue.record("no error from a silent server")
        } catch let error as RedisError {
            #expect(error.kind == .timeout, "\(error)")
            print("silent server: \(error.message), after \(ContinuousClock.now - started)")
        }
        let prober = QueueProber(client: silent, layout: .rq, logger: quietLogger)
        try await Task.sleep(for: .seconds(1))  // past the first backoff
        let report = await prober.probe(queues: ["queries"])
        #expect(report.failure("queries") != nil, "a timeout is unavailable, never empty")
    }

    @Test("a connection dropped mid-pipeline is an error, not a partial reading")
    func droppedMidPipeline() async throws {
        let port = try Ports.free()
        let server = try backgroundFixture(["half-reply-server", String(port)])
        defer { server.stop() }
        #expect(await eventually { Ports.isOpen(port) })
        let dropping = try client("redis://127.0.0.1:\(port)/0")
        let prober = QueueProber(client: dropping, layout: .rq, logger: quietLogger)
        let report = await prober.probe(queues: ["queries", "scheduled_queries"])
        #expect(report.failure("queries")?.contains("closed") == true, "\(report.readings)")
        #expect(report.failure("scheduled_queries") != nil)
    }

    @Test("nothing listening: the error names the server; the next call backs off at once, until the backoff is over")
    func refusedThenBackoff() async throws {
        let port = try Ports.free()
        // The backoff is timed by a clock the test moves: however long the machine makes the
        // test wait between calls, the second call is within it.
        let clock = ManualClock()
        let nobody = RedisClient(
            endpoint: try RedisEndpoint(url: "redis://:hunter2@127.0.0.1:\(port)/0"), logger: quietLogger,
            pacing: ReconnectPacing(first: .seconds(1), cap: .seconds(1)), clock: clock)
        do {
            _ = try await nobody.pipeline([["PING"]])
            Issue.record("connected to nothing")
        } catch let error as RedisError {
            #expect(error.kind == .connectionFailed)
            #expect(error.description.contains("127.0.0.1:\(port)") && !error.description.contains("hunter2"))
        }
        // The kind proves no connection was attempted; the time bound only catches a wait (on
        // the manual clock a wait would never end; 10 s leaves a loaded machine room).
        let started = ContinuousClock.now
        do {
            _ = try await nobody.pipeline([["PING"]])
            Issue.record("the second call connected")
        } catch let error as RedisError {
            #expect(error.kind == .backingOff)
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        // Past the backoff it tries again (and fails again, connecting).
        clock.advance(by: .seconds(2))
        do {
            _ = try await nobody.pipeline([["PING"]])
            Issue.record("connected to nothing")
        } catch let error as RedisError {
            #expect(error.kind == .connectionFailed, "\(error)")
        }
    }

    @Test("TLS: rediss:// trusting the server's CA works; without it the handshake fails as a TLS error")
    func tls() async throws {
        let redis = try await RedisServer.start(tls: true)
        let caFile = try #require(redis.tls?.caFile)
        try await fixture(["rq-enqueue", "rediss://127.0.0.1:\(redis.port)/0?ssl_ca_certs=\(caFile)", "queries", "2"])
        let (trusted, prober) = try makeProber("rediss://127.0.0.1:\(redis.port)/0?ssl_ca_certs=\(caFile)")
        let report = await prober.probe(queues: ["queries"])
        await trusted.close()
        #expect(report.observation("queries")?.pending == 2, "\(report.readings)")
        let untrusted = try client("rediss://127.0.0.1:\(redis.port)/0")
        do {
            _ = try await untrusted.pipeline([["PING"]])
            Issue.record("an untrusted certificate was accepted")
        } catch let error as RedisError {
            #expect(error.kind == .tls, "\(error)")
        }
        let unverified = try client("rediss://127.0.0.1:\(redis.port)/0?ssl_cert_reqs=none")
        #expect(try await unverified.pipeline([["PING"]]) == [RESPValue.simpleString("PONG")])
        await unverified.close()
    }
}
