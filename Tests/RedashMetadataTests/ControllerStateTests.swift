import AutoscalerCore
import Foundation
import IntegrationSupport
import PostgresClient
import RedashMetadata
import Testing
import TestSupport

@Suite("Controller state and leader lease against PostgreSQL", .testThreads)
struct ControllerStateTests {
    @Test("migrations are idempotent; decisions and scaling history round-trip")
    func stateRoundTrip() async throws {
        let server = try await PostgresServer.start()
        let store = try ControllerStateStore(session: PostgresSession(url: SecretURL(server.url)))
        #expect(try await store.migrate() == 6)
        // A second controller starting against the same schema changes nothing.
        let second = try ControllerStateStore(session: PostgresSession(url: SecretURL(server.url)))
        #expect(try await second.migrate() == 6)
        try await store.saveStartTimes(service: "adhoc", samples: [42.5, 61], at: CivilTime.instant(year: 2026, month: 11, day: 23, hour: 10))
        #expect(try await store.loadStartTimes() == ["adhoc": [42.5, 61]])

        let at = CivilTime.instant(year: 2026, month: 11, day: 23, hour: 10)
        var figures = DecisionFigures()
        figures.pending = 7
        figures.running = 2
        figures.oldestAge = .seconds(42)
        let decision = Decision(service: "redash-adhoc-worker", at: at, current: 2, desired: 5, recommendation: 5, code: .backlog, reason: "7 pending", figures: figures)
        try await store.record(decision, mode: "dry-run", controller: "laptop-1", generation: 7)
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

    @Test("holds: set, replaced, read only while in force, cleared; a paused decision is logged as such")
    func holds() async throws {
        let server = try await PostgresServer.start()
        let store = try ControllerStateStore(session: PostgresSession(url: SecretURL(server.url)))
        try await store.migrate()
        let now = CivilTime.instant(year: 2026, month: 12, day: 1, hour: 12)
        try await store.setHold(OperatorHold(service: "adhoc", tasks: 6, until: now + .seconds(1800), setBy: "alice", reason: "incident 42", setAt: now))
        try await store.setHold(OperatorHold(service: "scheduled", tasks: 1, until: now + .seconds(60), setBy: "bob", setAt: now))
        #expect(try await store.activeHolds(now: now).mapValues(\.tasks) == ["adhoc": 6, "scheduled": 1])
        // Replaced, not added.
        try await store.setHold(OperatorHold(service: "adhoc", tasks: 8, until: now + .seconds(3600), setBy: "carol", setAt: now + .seconds(10)))
        let adhoc = try #require(try await store.activeHolds(now: now)["adhoc"])
        #expect(adhoc.tasks == 8 && adhoc.setBy == "carol" && adhoc.until == now + .seconds(3600))
        // Expired holds are not in force.
        #expect(try await store.activeHolds(now: now + .seconds(120)).keys.sorted() == ["adhoc"])
        #expect(try await store.clearHold(service: "adhoc", now: now))
        #expect(try await !store.clearHold(service: "adhoc", now: now))
        #expect(try await !store.clearHold(service: "scheduled", now: now + .seconds(120)), "an expired hold was not in force")
        #expect(try await store.activeHolds(now: now).isEmpty)

        let decision = Decision(service: "adhoc", at: now, current: 2, desired: 4, recommendation: 4, code: .backlog, reason: "r", figures: DecisionFigures())
        try await store.record(decision, mode: "paused", controller: "c", generation: 1)
        #expect(try await store.recentDecisions().first?.mode == "paused")
    }

    @Test("a newer schema: used when its changes are additive for this controller, refused otherwise, naming what to run")
    func schemaCompatibility() async throws {
        let server = try await PostgresServer.start()
        let store = try ControllerStateStore(session: PostgresSession(url: SecretURL(server.url)), controllerVersion: "0.2.0")
        #expect(try await store.migrate() == 6)
        let admin = try await PostgresConnection.connect(url: SecretURL(server.url))
        // A later controller added a column (additive: compatible with schema 6) — rolling back to
        // this controller keeps working.
        _ = try await admin.query("ALTER TABLE redash_autoscaler.decisions ADD COLUMN note text")
        _ = try await admin.query("INSERT INTO redash_autoscaler.schema_migrations (version, compatible_since, applied_by) VALUES (7, 6, '0.6.0')")
        #expect(try await store.migrate() == 7)
        // Then one that changed how leadership works: refused, saying which controller to run.
        _ = try await admin.query("INSERT INTO redash_autoscaler.schema_migrations (version, compatible_since, applied_by) VALUES (8, 8, '0.7.0')")
        await #expect {
            try await store.migrate()
        } throws: { error in
            let message = "\(error)"
            return message.contains("needs a controller that knows schema version 8") && message.contains("0.7.0") && message.contains("knows 6")
        }
    }

    @Test("the lease's local side by a clock the test moves: no write within the takeover guard, none in the last second, none once the lease has run out by its own clock")
    func localClock() async throws {
        let server = try await PostgresServer.start()
        let url = SecretURL(server.url)
        let store = try ControllerStateStore(session: PostgresSession(url: url))
        try await store.migrate()
        let clock = ManualClock()
        let lease = await LeaderLease(
            store: store, url: url, holder: "a", scope: "redash", duration: .seconds(15), safety: .seconds(2), takeoverGuard: .seconds(6),
            clock: clock)
        let now = CivilTime.instant(year: 2026, month: 11, day: 23, hour: 10)
        #expect(await lease.acquireOrConfirm(now: now).isLeader)
        #expect(await lease.writeWindow() == nil, "within the guard")
        clock.advance(by: .milliseconds(5_999))
        #expect(await lease.writeWindow() == nil, "still within the guard")
        clock.advance(by: .milliseconds(2))
        // 15 s less 2 s of safety from before the acquire, 6 s gone: about 7 s left.
        let window = try #require(await lease.writeWindow())
        #expect(window > .milliseconds(6_990) && window <= .seconds(7), "\(window)")
        clock.advance(by: .milliseconds(6_100))
        #expect(await lease.writeWindow() == nil, "less than a second left: no write is started")
        #expect(await lease.isLeader)
        clock.advance(by: .seconds(1))
        #expect(await !lease.isLeader, "its own clock says the lease has run out")
        // Renewed (the database's row is its own), it leads again with a fresh window.
        #expect(await lease.acquireOrConfirm(now: now).isLeader)
        #expect(await lease.writeWindow().map { $0 > .seconds(12) } == true)
    }

    @Test("the lease: one leads; a leader whose session dies leads on only until its lease runs out; never two writers")
    func leaderLease() async throws {
        let server = try await PostgresServer.start()
        let url = SecretURL(server.url)
        let store = try ControllerStateStore(session: PostgresSession(url: url))
        try await store.migrate()
        // Leases of 30 s, renewed by each call: long enough that round trips slowed by a loaded
        // machine (several seconds each in the parallel pass, where dozens of PostgreSQL servers
        // start at once) do not use up the window the first checks count on; the hung leader
        // below loses it all the same, the loop ending as soon as the standby may write.
        let first = await LeaderLease(store: store, url: url, holder: "ecs-task-a", scope: "redash", duration: .seconds(30), safety: .seconds(2), takeoverGuard: .milliseconds(500))
        let second = await LeaderLease(store: store, url: url, holder: "laptop-b", scope: "redash", duration: .seconds(30), safety: .seconds(2), takeoverGuard: .milliseconds(500))
        let now = CivilTime.instant(year: 2026, month: 11, day: 23, hour: 10)
        let taken = await first.acquireOrConfirm(now: now)
        #expect(taken.isLeader && taken.generation == 1)
        #expect(await !second.acquireOrConfirm(now: now).isLeader)
        // Past its guard it may write (the guard itself, exactly: `localClock` below).
        try await Task.sleep(for: .milliseconds(600))
        #expect(await first.writeWindow() != nil)

        // The leader's lease session is killed (a failover, a restarted proxy): it reconnects and
        // renews its own lease; no needless change of leader.
        let admin = try await PostgresConnection.connect(url: url)
        _ = try await admin.query("SELECT pg_terminate_backend($1::integer)", [String(try await first.backendPID())])
        #expect(await eventually(timeout: 10, interval: 0.3) { await first.acquireOrConfirm(now: now).generation == 1 })
        #expect(await !second.acquireOrConfirm(now: now).isLeader)

        // The leader hangs (it stops renewing): its own clock ends its writes before the
        // database's expiry lets the standby in; the two never both may write.
        var bothCouldWrite = 0, secondLed = false, firstStoppedWriting = false
        // Past the 30 s lease, with the standby's guard and a loaded machine's round trips.
        let deadline = ContinuousClock.now + .seconds(45)
        var secondMayWrite = false
        while ContinuousClock.now < deadline && !(secondLed && firstStoppedWriting && secondMayWrite) {
            let b = await second.acquireOrConfirm(now: now)
            let windows = (await first.writeWindow(), await second.writeWindow())
            if windows.0 == nil { firstStoppedWriting = true }
            if windows.0 != nil && windows.1 != nil { bothCouldWrite += 1 }
            if b.isLeader { secondLed = true }
            if windows.1 != nil { secondMayWrite = true }
            if b.isLeader { #expect(windows.0 == nil, "the hung leader may still write while the standby leads") }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(firstStoppedWriting && secondLed, "stopped \(firstStoppedWriting), taken over \(secondLed)")
        #expect(bothCouldWrite == 0, "two writers \(bothCouldWrite) times")
        let row = try await admin.query("SELECT holder, generation FROM redash_autoscaler.leader WHERE scope = 'redash'")
        #expect(row[0, "holder"]?.string == "laptop-b" && row[0, "generation"]?.int == 2)
        // The old leader wakes: its renewal finds the lease gone, and it stays a standby.
        #expect(await !first.acquireOrConfirm(now: now).isLeader)
        #expect(await first.writeWindow() == nil)

        // A clean shutdown hands over at once (the new leader then waits its guard).
        await second.release()
        #expect(await eventually(timeout: 5, interval: 0.2) { await first.acquireOrConfirm(now: now).isLeader })
        #expect(await first.acquireOrConfirm(now: now).generation == 3)
    }

    @Test("a lease per cluster: controllers of two clusters on one database both lead; the lease of a controller from before leases per cluster holds new ones off until it expires")
    func leasePerCluster() async throws {
        let server = try await PostgresServer.start()
        let url = SecretURL(server.url)
        let admin = try await PostgresConnection.connect(url: url)
        // A database a controller of schema 3 used: its one lease row (id 1) is still held.
        let old = try ControllerStateStore(session: PostgresSession(url: url))
        try await old.migrate()
        _ = try await admin.query("DELETE FROM redash_autoscaler.schema_migrations WHERE version >= 4")
        _ = try await admin.query("DROP INDEX redash_autoscaler.leader_scope")
        _ = try await admin.query("ALTER TABLE redash_autoscaler.leader DROP COLUMN scope")
        _ = try await admin.query("ALTER TABLE redash_autoscaler.leader ADD PRIMARY KEY (id)")
        _ = try await admin.query("""
            INSERT INTO redash_autoscaler.leader (id, holder, generation, acquired_at, heartbeat_at, expires_at)
            VALUES (1, 'old-controller', 7, now(), now(), now() + interval '1 hour')
            """)
        let store = try ControllerStateStore(session: PostgresSession(url: url))
        #expect(try await store.migrate() == 6)
        let now = CivilTime.instant(year: 2026, month: 11, day: 23, hour: 10)
        let redash = await LeaderLease(store: store, url: url, holder: "a", scope: "redash", duration: .seconds(3), safety: .milliseconds(500), takeoverGuard: .milliseconds(100))
        let staging = await LeaderLease(store: store, url: url, holder: "b", scope: "redash-staging", duration: .seconds(3), safety: .milliseconds(500), takeoverGuard: .milliseconds(100))
        #expect(await !redash.acquireOrConfirm(now: now).isLeader, "the old controller's lease still holds")
        // It expires (the old controller stopped in a rolling deployment; its expiry is moved to
        // the past rather than waited for, so that a slow migration cannot outlast it first):
        // both clusters' controllers lead.
        _ = try await admin.query("UPDATE redash_autoscaler.leader SET expires_at = now() - interval '1 second' WHERE holder = 'old-controller'")
        #expect(await eventually(timeout: 10, interval: 0.2) { await redash.acquireOrConfirm(now: now).isLeader })
        #expect(await staging.acquireOrConfirm(now: now).isLeader)
        #expect(await redash.acquireOrConfirm(now: now).isLeader, "both lead at once, each its own cluster")
        let rows = try await admin.query("SELECT scope, holder FROM redash_autoscaler.leader WHERE scope <> '' ORDER BY scope")
        #expect(rows.rows.count == 2)
        #expect(rows[0, "holder"]?.string == "a" && rows[1, "holder"]?.string == "b")
        // Another controller of the same cluster waits.
        let second = await LeaderLease(store: store, url: url, holder: "c", scope: "redash", duration: .seconds(3), safety: .milliseconds(500))
        #expect(await !second.acquireOrConfirm(now: now).isLeader)
    }

    @Test("the release at shutdown waits at most its deadline for a database that stopped answering; the lease then expires as usual")
    func releaseOnStoppedDatabase() async throws {
        let server = try await PostgresServer.start()
        let url = SecretURL(server.url)
        let store = try ControllerStateStore(session: PostgresSession(url: url))
        try await store.migrate()
        // The lease session's client deadline is 20 s + 2 s here (2 s + 2 s in production), so
        // that the release's own 1 s deadline cannot be mistaken for it on a loaded machine.
        let first = await LeaderLease(store: store, url: url, holder: "ecs-task-a", scope: "redash", duration: .seconds(3), safety: .milliseconds(500), takeoverGuard: .milliseconds(500), statementTimeout: .seconds(20))
        let second = await LeaderLease(store: store, url: url, holder: "ecs-task-b", scope: "redash", duration: .seconds(3), safety: .milliseconds(500), takeoverGuard: .milliseconds(500))
        let now = CivilTime.instant(year: 2026, month: 11, day: 23, hour: 10)
        #expect(await first.acquireOrConfirm(now: now).isLeader)
        let pid = try await first.backendPID()
        #expect(kill(pid_t(pid), SIGSTOP) == 0)
        let started = ContinuousClock.now
        await first.release()
        let waited = ContinuousClock.now - started
        _ = kill(pid_t(pid), SIGCONT)
        // Not the lease session's client deadline (22 s here), nor a reconnect: its own 1 s, and
        // what a loaded machine adds (4.5 s once in the parallel pass).
        #expect(waited < .seconds(12), "release waited \(waited), not its \(LeaderLease.releaseDeadline)")
        // The other takes it over all the same: at its expiry, or sooner if the continued
        // backend still runs the release it was sent.
        #expect(await eventually(timeout: 8, interval: 0.2) { await second.acquireOrConfirm(now: now).isLeader })
        let admin = try await PostgresConnection.connect(url: url)
        let row = try await admin.query("SELECT holder, generation FROM redash_autoscaler.leader WHERE scope = 'redash'")
        #expect(row[0, "holder"]?.string == "ecs-task-b" && row[0, "generation"]?.int == 2)
    }
}
