import AutoscalerCore
import Foundation
import IntegrationSupport
import PostgresClient
import RedashMetadata
import Testing

@Suite("Controller state and leader lease against PostgreSQL")
struct ControllerStateTests {
    @Test("migrations are idempotent; decisions and scaling history round-trip")
    func stateRoundTrip() async throws {
        let server = try await PostgresServer.start()
        let store = try ControllerStateStore(session: PostgresSession(url: SecretURL(server.url)))
        #expect(try await store.migrate() == 1)
        // A second controller starting against the same schema changes nothing.
        let second = try ControllerStateStore(session: PostgresSession(url: SecretURL(server.url)))
        #expect(try await second.migrate() == 1)

        let at = CivilTime.instant(year: 2026, month: 11, day: 23, hour: 10)
        var figures = DecisionFigures()
        figures.pending = 7
        figures.running = 2
        figures.oldestAge = .seconds(42)
        let decision = Decision(service: "redash-adhoc-worker", at: at, current: 2, desired: 5, recommendation: 5, code: .backlog, reason: "7 pending", figures: figures)
        try await store.record(decision, mode: "dry-run", controller: "laptop-1")
        let logged = try await store.recentDecisions(service: "redash-adhoc-worker")
        #expect(logged.count == 1)
        #expect(logged.first?.from == 2 && logged.first?.to == 5 && logged.first?.mode == "dry-run" && logged.first?.decidedAt == at)
        let observations = try #require(try JSONSerialization.jsonObject(with: Data(logged[0].observations.utf8)) as? [String: Any])
        #expect(observations["pending"] as? Int == 7)
        #expect(observations["oldestAgeSeconds"] as? Double == 42)

        try await store.saveHistory(service: "redash-adhoc-worker", lastScaleUp: at, lastScaleDown: nil, at: at)
        try await store.saveHistory(service: "redash-adhoc-worker", lastScaleUp: at, lastScaleDown: at + .seconds(300), at: at + .seconds(300))
        let history = try await second.loadHistory()
        #expect(history["redash-adhoc-worker"]?.lastScaleUp == at)
        #expect(history["redash-adhoc-worker"]?.lastScaleDown == at + .seconds(300))

        #expect(throws: MetadataError.self) { try ControllerStateStore(session: PostgresSession(url: SecretURL(server.url)), schema: "x; DROP TABLE y") }
    }

    @Test("two controllers: one leads, the other stands by, and takes over when the leader's session is killed")
    func leaderLease() async throws {
        let server = try await PostgresServer.start()
        let url = SecretURL(server.url)
        let store = try ControllerStateStore(session: PostgresSession(url: url))
        try await store.migrate()
        let first = await LeaderLease(store: store, url: url, holder: "ecs-task-a")
        let second = await LeaderLease(store: store, url: url, holder: "laptop-b")
        let now = CivilTime.instant(year: 2026, month: 11, day: 23, hour: 10)
        #expect(await first.acquireOrConfirm(now: now))
        #expect(await !second.acquireOrConfirm(now: now))
        #expect(await first.acquireOrConfirm(now: now + .seconds(5)))
        #expect(await !second.acquireOrConfirm(now: now + .seconds(5)))

        // The leader's session dies (a killed task, a failover): PostgreSQL drops the lock.
        let admin = try await PostgresConnection.connect(url: url)
        let pid = try await first.backendPID()
        _ = try await admin.query("SELECT pg_terminate_backend($1::integer)", [String(pid)])
        #expect(await !first.acquireOrConfirm(now: now + .seconds(10)))
        #expect(await second.acquireOrConfirm(now: now + .seconds(10)))
        let holder = try await admin.query("SELECT holder FROM redash_autoscaler.leader WHERE id = 1")[0, "holder"]?.string
        #expect(holder == "laptop-b")
        // The old leader stays a standby now.
        #expect(await !first.acquireOrConfirm(now: now + .seconds(15)))

        // A clean shutdown hands over at the standby's next try (its own reconnect backoff after
        // losing its session is 1 s).
        await second.release()
        #expect(await eventually(timeout: 5, interval: 0.25) { await first.acquireOrConfirm(now: now + .seconds(20)) })
    }
}
