import AutoscalerCLI
import AutoscalerCore
import Foundation
import IntegrationSupport
import PostgresClient
import RedashMetadata
import Testing

/// `forecast --json` against a real PostgreSQL 15 holding a Redash-shaped schema of each era,
/// with due times worked out by hand below.
@Suite("Scheduled-query forecast against PostgreSQL", .testThreads)
struct ForecastIntegrationTests {
    /// Monday 2026-11-23 10:00:20 UTC.
    static let now = CivilTime.instant(year: 2026, month: 11, day: 23, hour: 10, minute: 0, second: 20)

    static func ago(_ seconds: Double) -> Instant { now - .seconds(seconds) }

    /// Seeds the same queries in either era; returns the id of the hourly query (whose previous
    /// run the v25 test sets in `sq:executed_at`). Each test works out by hand, in its comments,
    /// the minute in which Redash will enqueue each run: at the first refresh of its 30 s grid
    /// strictly after the run falls due, the next run counted from that start (+1 s).
    static func seed(_ connection: PostgresConnection, era: RedashDatabase.Era) async throws -> Int {
        let main = try await RedashDatabase.dataSource(connection, "Production")
        let heavy = try await RedashDatabase.dataSource(connection, "Warehouse", queue: "queries_heavy", scheduledQueue: "scheduled_queries_heavy")
        // A: every 5 min, last result 09:58:10: first due 10:03:10.
        try await RedashDatabase.query(connection, dataSource: main, hash: "h-every5", schedule: #"{"interval": 300, "time": null, "day_of_week": null, "until": null}"#, retrievedAt: ago(130), runtime: 12.5)
        // The same text on the same data source: Redash enqueues it once.
        try await RedashDatabase.query(connection, dataSource: main, hash: "h-every5", schedule: #"{"interval": 300}"#, retrievedAt: ago(130))
        // B: daily at 10:15, ran yesterday at 10:15:05: due 10:15:05.
        try await RedashDatabase.query(connection, dataSource: main, hash: "h-daily", schedule: #"{"interval": 86400, "time": "10:15", "day_of_week": null, "until": null}"#,
                                       retrievedAt: CivilTime.instant(year: 2026, month: 11, day: 22, hour: 10, minute: 15, second: 5))
        // C: weekly on Monday at 10:20, ran last Monday 10:20:30: due 10:20:30.
        try await RedashDatabase.query(connection, dataSource: main, hash: "h-weekly", schedule: #"{"interval": 604800, "time": "10:20", "day_of_week": "Monday", "until": null}"#,
                                       retrievedAt: CivilTime.instant(year: 2026, month: 11, day: 16, hour: 10, minute: 20, second: 30))
        // D: daily at 09:00, ran yesterday at 09:00: overdue, at the next refresh.
        try await RedashDatabase.query(connection, dataSource: main, hash: "h-overdue", schedule: #"{"interval": 86400, "time": "09:00"}"#,
                                       retrievedAt: CivilTime.instant(year: 2026, month: 11, day: 22, hour: 9, minute: 0))
        // E: every 10 min with 3 failures, last result 09:52:00: 10:02:00 + 8 min = 10:10:00; a
        // projected run succeeds, so the next is 10 min after it, without back-off.
        try await RedashDatabase.query(connection, dataSource: main, hash: "h-failing", schedule: #"{"interval": 600}"#, failures: 3, retrievedAt: ago(500))
        // Ended, disabled, archived, not scheduled: nothing. Never ran (every 60 s): nothing in
        // v7–v10, at once and then every 90 s in v25.1+.
        try await RedashDatabase.query(connection, dataSource: main, hash: "h-ended", schedule: #"{"interval": 60, "until": "2026-11-01"}"#, retrievedAt: ago(600))
        try await RedashDatabase.query(connection, dataSource: main, hash: "h-disabled", schedule: #"{"interval": 60, "disabled": true}"#, retrievedAt: ago(600))
        try await RedashDatabase.query(connection, dataSource: main, hash: "h-archived", schedule: #"{"interval": 60}"#, retrievedAt: ago(600), archived: true)
        try await RedashDatabase.query(connection, dataSource: main, hash: "h-null", schedule: era == .v25 ? "null" : nil, retrievedAt: ago(600))
        try await RedashDatabase.query(connection, dataSource: main, hash: "h-never", schedule: #"{"interval": 60}"#)
        // A schedule Redash itself could not use: skipped and counted.
        try await RedashDatabase.query(connection, dataSource: main, hash: "h-broken", schedule: era == .v10 ? "{interval: 60" : #"{"interval": "often"}"#, retrievedAt: ago(30))
        // G: hourly, last result 09:10:20 (due 10:10:20), but started by a worker at 09:00:30
        // (sq:executed_at, when read): due 10:00:30.
        let executed = try await RedashDatabase.query(connection, dataSource: main, hash: "h-hourly", schedule: #"{"interval": 3600}"#, retrievedAt: ago(3000))
        // H: the warehouse's own scheduled queue, every 15 min, last 09:59:20: due 10:14:20.
        try await RedashDatabase.query(connection, dataSource: heavy, hash: "h-heavy", schedule: #"{"interval": 900}"#, retrievedAt: ago(60), runtime: 200)
        return executed
    }

    static func minutes(_ object: [String: Any]) -> [String: [Int: Int]] {
        var result: [String: [Int: Int]] = [:]
        for queue in object["forecast"] as? [[String: Any]] ?? [] {
            let name = queue["queue"] as? String ?? "?"
            for minute in queue["minutes"] as? [[String: Any]] ?? [] {
                let count = minute["queries"] as? Int ?? 0
                if count > 0 { result[name, default: [:]][minute["offset"] as? Int ?? -1] = count }
            }
        }
        return result
    }

    @Test("v7–v10 schema (schedule as JSON text), previous runs from query_results: forecast --json minute by minute")
    func textEra() async throws {
        let server = try await PostgresServer.start()
        let connection = try await PostgresConnection.connect(url: SecretURL(server.url))
        try await RedashDatabase.create(connection, era: .v10)
        _ = try await Self.seed(connection, era: .v10)
        // No Redis: the refresh grid's phase is unknown and assumed halfway, refreshes at :05 and
        // :35 (now is 10:00:20). A: 10:03:35 (+3), then every 330 s: 10:09:05 (+8), 10:14:35
        // (+14), 10:20:05 (+19), 10:25:35 (+25). B: 10:15:35 (+15). C: 10:20:35 (+20). D: 10:00:35
        // (+0). E: 10:10:05 (+9), then 10:20:35 (+20). G from retrieved_at: 10:10:35 (+10). H:
        // 10:14:35 (+14), 10:30:05 (+29). The never-run query: never (v10).
        let expected: [String: [Int: Int]] = [
            "scheduled_queries": [0: 1, 3: 1, 8: 1, 9: 1, 10: 1, 14: 1, 15: 1, 19: 1, 20: 2, 25: 1],
            "scheduled_queries_heavy": [14: 1, 29: 1],
        ]
        let report = await ForecastCommand.report(databaseURL: SecretURL(server.url), redisURL: nil, minutes: 30, json: true, now: Self.now)
        #expect(report.exitCode == 0, "\(report.standardError)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.standardOutput.utf8)) as? [String: Any])
        #expect(object["schema"] as? String == "v7-v10")
        #expect(Self.minutes(object) == expected)
        #expect((object["skipped"] as? [[String: Any]])?.count == 1)
        #expect(object["neverRun"] as? Int == 1)
        let routing = try #require(object["routing"] as? [[String: Any]])
        #expect(routing.map { $0["scheduledQueue"] as? String } == ["scheduled_queries", "scheduled_queries_heavy"])
        // A's two copies: Redash enqueues the higher id (whose last result took 10 s, not the
        // first copy's 12.5 s), and its new result moves the other copy on.
        let queue = try #require((object["forecast"] as? [[String: Any]])?.first { $0["queue"] as? String == "scheduled_queries" })
        #expect(((queue["minutes"] as? [[String: Any]])?[3]["expectedWorkSeconds"] as? Double) == 10)
        #expect((object["rules"] as? [String])?.contains { $0.contains("never due (Redash v7 to v10)") } == true)
        #expect(!report.standardOutput.contains(server.password))
    }

    @Test("v25+ schema (jsonb), previous runs from Redis sq:executed_at where the scheduler recorded them")
    func jsonbEra() async throws {
        let server = try await PostgresServer.start()
        let redis = try await RedisServer.start()
        let connection = try await PostgresConnection.connect(url: SecretURL(server.url))
        try await RedashDatabase.create(connection, era: .v25)
        let executedID = try await Self.seed(connection, era: .v25)
        try await ManagedProcess.run("/usr/bin/redis-cli", ["-p", String(redis.port), "HSET", "sq:executed_at", String(executedID), String(Self.ago(3590).secondsSinceEpoch)])
        // Redash's last refresh started and ended at 10:00:00: refreshes at :00 and :30.
        try await ManagedProcess.run("/usr/bin/redis-cli", [
            "-p", String(redis.port), "HSET", "redash:status", "started_at", String(Self.ago(20).secondsSinceEpoch),
            "last_refresh_at", String(Self.ago(20).secondsSinceEpoch), "outdated_queries_count", "3",
        ])
        // A: 10:03:30 (+3), 10:09:00 (+8), 10:14:30 (+14), 10:20:00 (+19), 10:25:30 (+25). B:
        // 10:15:30 (+15). C: 10:21:00 (+20). D: 10:00:30 (+0). E: 10:10:30 (+10), 10:21:00 (+20).
        // G, due 10:00:30 exactly: the refresh at 10:00:30 does not find it due yet, 10:01:00
        // does (+0). H: 10:14:30 (+14), 10:30:00 (+29). Never ran (v25): 10:00:30 (+0), then
        // every 90 s: +1, +3, +4, +6, +7, +9, +10, +12, +13, +15, +16, +18, +19, +21, +22, +24,
        // +25, +27, +28.
        var expected: [String: [Int: Int]] = [
            "scheduled_queries": [
                0: 3, 1: 1, 3: 2, 4: 1, 6: 1, 7: 1, 8: 1, 9: 1, 10: 2, 12: 1, 13: 1, 14: 1, 15: 2, 16: 1, 18: 1, 19: 2, 20: 2,
                21: 1, 22: 1, 24: 1, 25: 2, 27: 1, 28: 1,
            ],
            "scheduled_queries_heavy": [14: 1, 29: 1],
        ]
        let report = await ForecastCommand.report(databaseURL: SecretURL(server.url), redisURL: redis.url, minutes: 30, json: true, now: Self.now)
        #expect(report.exitCode == 0, "\(report.standardError)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.standardOutput.utf8)) as? [String: Any])
        #expect(object["schema"] as? String == "v25+")
        #expect(Self.minutes(object) == expected)
        #expect((object["skipped"] as? [[String: Any]])?.first?["reason"] as? String == "interval is not a number")
        // The next refresh (10:00:30) finds D and the never-run query due: what Redash will count.
        #expect((object["nextRefresh"] as? [String: Any])?["dueQueries"] as? Int == 2)
        #expect((object["notes"] as? [String])?.contains { $0.contains("found 3 scheduled queries due") } == true, "\(object["notes"] ?? "")")

        // The human form shows the same minutes.
        let text = await ForecastCommand.report(databaseURL: SecretURL(server.url), redisURL: redis.url, minutes: 30, json: false, now: Self.now)
        #expect(text.standardOutput.contains("scheduled_queries_heavy: 2 runs"))
        #expect(text.standardOutput.contains("10:14    1 query, ~3m20s of work"), "\(text.standardOutput)")

        // Pausing the warehouse in Redash (the key its `DataSource.pause` sets) takes its
        // scheduled queries out of the forecast: Redash's scheduler skips them.
        let warehouse = try #require((object["routing"] as? [[String: Any]])?.first { $0["name"] as? String == "Warehouse" }?["dataSourceId"] as? Int)
        try await ManagedProcess.run("/usr/bin/redis-cli", ["-p", String(redis.port), "SET", "ds:\(warehouse):pause", "maintenance"])
        let paused = await ForecastCommand.report(databaseURL: SecretURL(server.url), redisURL: redis.url, minutes: 30, json: true, now: Self.now)
        let pausedObject = try #require(try JSONSerialization.jsonObject(with: Data(paused.standardOutput.utf8)) as? [String: Any])
        expected["scheduled_queries_heavy"] = nil
        #expect(Self.minutes(pausedObject) == expected)
        #expect(pausedObject["pausedDataSources"] as? [Int] == [warehouse])
        #expect(pausedObject["pausedQueries"] as? Int == 1)
        #expect((pausedObject["notes"] as? [String])?.contains { $0.contains("Warehouse (\(warehouse))") } == true, "\(pausedObject)")
        // Resumed: back in.
        try await ManagedProcess.run("/usr/bin/redis-cli", ["-p", String(redis.port), "DEL", "ds:\(warehouse):pause"])
        let resumed = await ForecastCommand.report(databaseURL: SecretURL(server.url), redisURL: redis.url, minutes: 30, json: true, now: Self.now)
        let resumedObject = try #require(try JSONSerialization.jsonObject(with: Data(resumed.standardOutput.utf8)) as? [String: Any])
        #expect(Self.minutes(resumedObject)["scheduled_queries_heavy"] == [14: 1, 29: 1])
    }

    @Test("runtime statistics per queue over a window: count, p50, p90; old results left out")
    func runtimeStats() async throws {
        let server = try await PostgresServer.start()
        let connection = try await PostgresConnection.connect(url: SecretURL(server.url))
        try await RedashDatabase.create(connection, era: .v25)
        let main = try await RedashDatabase.dataSource(connection, "Production")
        let recent = Instant(secondsSinceEpoch: Date().timeIntervalSince1970 - 3600)
        for runtime in 1...10 {
            try await RedashDatabase.query(connection, dataSource: main, hash: "r\(runtime)", schedule: nil, retrievedAt: recent, runtime: Double(runtime))
        }
        try await RedashDatabase.query(connection, dataSource: main, hash: "old", schedule: nil, retrievedAt: Instant(secondsSinceEpoch: Date().timeIntervalSince1970 - 30 * 86_400), runtime: 1000)
        let reader = RedashMetadataReader(session: PostgresSession(url: SecretURL(server.url)))
        let stats = try await reader.runtimeStats(window: .seconds(7 * 86_400))
        // percentile_cont over 1…10: p50 5.5, p90 9.1. Both queues of the data source count them.
        #expect(stats["queries"] == RuntimeStats(queue: "queries", count: 10, p50: 5.5, p90: 9.1))
        #expect(stats["scheduled_queries"]?.count == 10)
    }

    @Test("a schema older or newer than expected names the missing column; the cache turns the forecast off and keeps going")
    func schemaMismatch() async throws {
        let server = try await PostgresServer.start()
        let connection = try await PostgresConnection.connect(url: SecretURL(server.url))
        try await RedashDatabase.create(connection, era: .v10)
        _ = try await connection.query("ALTER TABLE data_sources DROP COLUMN scheduled_queue_name")
        let session = PostgresSession(url: SecretURL(server.url))
        let reader = RedashMetadataReader(session: session)
        await #expect {
            _ = try await reader.inspectSchema()
        } throws: { error in
            (error as? MetadataError)?.message == "Redash schema not as expected: column data_sources.scheduled_queue_name is missing (supported: Redash v7 to v25)"
        }
        let cache = MetadataCache(reader: reader)
        await cache.refresh(now: Self.now)
        #expect(await cache.problem?.contains("data_sources.scheduled_queue_name is missing") == true)
        #expect(await cache.forecast(now: Self.now, horizonMinutes: 10) == nil)

        // Without schedule_failures (an older schema) the forecast still works, without backoff.
        let older = try await PostgresServer.start()
        let olderConnection = try await PostgresConnection.connect(url: SecretURL(older.url))
        try await RedashDatabase.create(olderConnection, era: .v10, withFailures: false)
        let source = try await RedashDatabase.dataSource(olderConnection, "Production")
        try await RedashDatabase.query(olderConnection, dataSource: source, hash: "h", schedule: #"{"interval": 300}"#, retrievedAt: Self.ago(130))
        let report = await ForecastCommand.report(databaseURL: SecretURL(older.url), redisURL: nil, minutes: 10, json: true, now: Self.now)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.standardOutput.utf8)) as? [String: Any])
        #expect(Self.minutes(object) == ["scheduled_queries": [3: 1, 8: 1]])
        #expect((object["notes"] as? [String])?.first?.contains("schedule_failures is missing") == true)
    }

    @Test("an unreachable database and a wrong password: exit 1, a clear message, no password")
    func badConnections() async throws {
        let closed = try Ports.free()
        let unreachable = await ForecastCommand.report(
            databaseURL: SecretURL("postgresql://redash:s3cret-pw@127.0.0.1:\(closed)/redash"), redisURL: nil, minutes: 5, json: false, now: Self.now)
        #expect(unreachable.exitCode == 1)
        #expect(unreachable.standardError.contains("cannot read Redash's database postgresql://redash:***@127.0.0.1:\(closed)/redash"), "\(unreachable.standardError)")
        #expect(!unreachable.standardError.contains("s3cret-pw"))

        let server = try await PostgresServer.start()
        let wrong = server.url.replacingOccurrences(of: server.password, with: "not-the-password")
        let refused = await ForecastCommand.report(databaseURL: SecretURL(wrong), redisURL: nil, minutes: 5, json: true, now: Self.now)
        #expect(refused.exitCode == 1)
        #expect(refused.standardOutput.contains("password authentication failed"))
        #expect(!refused.standardOutput.contains("not-the-password"))
    }

    @Test("a statement timeout during a refresh keeps the last good metadata and says why")
    func statementTimeout() async throws {
        let server = try await Self.redashWithOneScheduledQuery()
        // 8 s: the blocked statements time out whatever the value, and ordinary ones must not on
        // a loaded machine (with 2 s, none of the first refreshes completed within 10 s in a
        // clean-clone parallel pass).
        let session = PostgresSession(url: SecretURL(server.url), statementTimeout: .seconds(8))
        let cache = MetadataCache(reader: RedashMetadataReader(session: session), scheduleRefresh: .zero, statsRefresh: .zero)
        // The controller's way: a refresher beside the reconcile loop, ready a moment later.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await MetadataRefresher(cache: cache, period: .milliseconds(100), now: { Self.now }).run() }
            #expect(await eventually(timeout: 60) { await cache.forecast(now: Self.now, horizonMinutes: 10) != nil })
            group.cancelAll()
        }
        #expect(await cache.problem == nil)
        #expect(await cache.forecast(now: Self.now, horizonMinutes: 10)?.queues.first?.due.count == 2)

        // Another session holds `queries` locked: the refresh's statements time out.
        let blocker = try await PostgresConnection.connect(url: SecretURL(server.url))
        _ = try await blocker.query("BEGIN")
        _ = try await blocker.query("LOCK TABLE queries IN ACCESS EXCLUSIVE MODE")
        await cache.refresh(now: Self.now + .seconds(60))
        let problem = await cache.problem
        #expect(problem?.contains("57014") == true, "\(problem ?? "no problem")")
        #expect(await cache.forecast(now: Self.now, horizonMinutes: 10)?.queues.first?.due.count == 2)
        _ = try await blocker.query("ROLLBACK")
        await cache.refresh(now: Self.now + .seconds(120))
        #expect(await cache.problem == nil)
    }

    @Test("the first load is waited for (bounded): the first decision sees the forecast; a database that is not there answers false at once")
    func firstLoad() async throws {
        let server = try await Self.redashWithOneScheduledQuery()
        let cache = MetadataCache(reader: RedashMetadataReader(session: PostgresSession(url: SecretURL(server.url))))
        #expect(await !cache.isLoaded)
        #expect(await cache.waitForFirstLoad(limit: .seconds(30), now: { Self.now }))
        #expect(await cache.forecast(now: Self.now, horizonMinutes: 10)?.queues.first?.due.count == 2, "the forecast is there before the first tick")

        let closed = try Ports.free()
        let absent = MetadataCache(reader: RedashMetadataReader(session: PostgresSession(url: SecretURL("postgresql://redash:pw@127.0.0.1:\(closed)/redash"))))
        let started = ContinuousClock.now
        #expect(await !absent.waitForFirstLoad(limit: .seconds(30)))
        #expect(ContinuousClock.now - started < .seconds(20), "a refused connection is an answer, not a wait for the whole limit")
        #expect(await absent.problem != nil)
    }

    /// A Redash v25 database with one query scheduled every 5 minutes, last run 130 s ago.
    static func redashWithOneScheduledQuery() async throws -> PostgresServer {
        let server = try await PostgresServer.start()
        let connection = try await PostgresConnection.connect(url: SecretURL(server.url))
        try await RedashDatabase.create(connection, era: .v25)
        let source = try await RedashDatabase.dataSource(connection, "Production")
        try await RedashDatabase.query(connection, dataSource: source, hash: "h", schedule: #"{"interval": 300}"#, retrievedAt: Self.ago(130))
        return server
    }
}
