import AutoscalerCore
import Foundation
import IntegrationSupport
import RedashMetadata
import Testing

/// The forecast against what a Redash-like scheduler really enqueues: `Python/redash_standin.py`,
/// written from Redash's documented and observed behaviour (refreshes every 30 s, runs counted
/// from their start, locks, failures), run in simulated time.
@Suite("Forecast against a Redash-like scheduler", .testThreads)
struct StandinForecastTests {
    static let script = Repository.root.appendingPathComponent("Tests/RedashMetadataTests/Python/redash_standin.py").path
    /// Monday 2026-11-23 10:00:07 UTC; Redash refreshed at 10:00:00, every 30 s.
    static let now = CivilTime.instant(year: 2026, month: 11, day: 23, hour: 10, minute: 0, second: 7)
    static let lastRefresh = CivilTime.instant(year: 2026, month: 11, day: 23, hour: 10)

    /// A job that holds a query's lock when the run starts.
    enum Held: Sendable {
        case waiting
        case running(endsIn: Double)

        var json: Any {
            switch self {
            case .waiting: "waiting"
            case .running(let endsIn): ["ends_in": endsIn]
            }
        }
    }

    /// One scheduled query as both sides see it.
    struct Query: Sendable {
        var id: Int
        var interval: Int
        var time: String? = nil
        var executedAgo: Double?
        var retrievedAgo: Double? = nil
        var failures = 0
        var failRuns = 0
        var runtime = 5.0
        var hash: String? = nil
        var locked: Held? = nil

        var schedule: [String: Any] {
            var object: [String: Any] = ["interval": interval]
            if let time { object["time"] = time }
            return object
        }

        var redashSchedule: RedashSchedule {
            var schedule = RedashSchedule(interval: interval)
            if let time {
                let parts = time.split(separator: ":").compactMap { Int($0) }
                schedule.time = (parts[0], parts[1])
            }
            return schedule
        }
    }

    /// Runs the stand-in from `now` for `minutes` and returns when each query was enqueued, and
    /// what each refresh counted.
    static func standin(_ queries: [Query], era: String, minutes: Int, workers: Int = 1000) async throws -> (enqueues: [(Int, Double)], refreshes: [(Double, Int)]) {
        var spec: [String: Any] = [
            "era": era, "start": now.secondsSinceEpoch, "minutes": minutes, "period": 30.0, "workers": workers,
            "first_refresh": (lastRefresh + .seconds(30)).secondsSinceEpoch,
        ]
        spec["queries"] = queries.map { query -> [String: Any] in
            var object: [String: Any] = [
                "id": query.id, "data_source": 1, "hash": query.hash ?? "h\(query.id)", "schedule": query.schedule,
                "failures": query.failures, "fail_runs": query.failRuns, "runtime": query.runtime,
            ]
            if let ago = query.retrievedAgo { object["retrieved_at"] = (now - .seconds(ago)).secondsSinceEpoch }
            return object
        }
        spec["executed_at"] = Dictionary(uniqueKeysWithValues: queries.compactMap { query in
            query.executedAgo.map { ("\(query.id)", (now - .seconds($0)).secondsSinceEpoch) }
        })
        spec["locked"] = Dictionary(uniqueKeysWithValues: queries.compactMap { query in query.locked.map { ("\(query.id)", $0.json) } })
        let file = NSTemporaryDirectory() + "standin-\(UUID().uuidString).json"
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let output = try await ManagedProcess.run(Repository.python, [script, "simulate", file])
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw HarnessError("no JSON from the stand-in:\n\(output)")
        }
        let enqueues = (object["enqueues"] as? [[Any]] ?? []).map { (($0[0] as? NSNumber)?.intValue ?? -1, ($0[1] as? NSNumber)?.doubleValue ?? 0) }
        let refreshes = (object["refreshes"] as? [[Any]] ?? []).map { (($0[0] as? NSNumber)?.doubleValue ?? 0, ($0[1] as? NSNumber)?.intValue ?? -1) }
        return (enqueues, refreshes)
    }

    /// The forecast at `now` for the same queries.
    static func forecast(_ queries: [Query], neverRunIsDue: Bool, minutes: Int) -> ScheduledWorkForecast {
        var locks: [String: JobLock] = [:]
        for query in queries {
            // A running job restarted the clock at its start: only a waiting one holds the lock.
            if case .waiting? = query.locked { locks[ScheduledWorkForecast.lockKey(dataSource: 1, queryHash: query.hash ?? "h\(query.id)")] = .waiting }
        }
        let scheduler = RedashSchedulerState(
            executions: Dictionary(uniqueKeysWithValues: queries.compactMap { query in query.executedAgo.map { (query.id, now - .seconds($0)) } }),
            locks: locks, refreshAnchor: lastRefresh)
        return ScheduledWorkForecast.build(
            queries: queries.map {
                ScheduledQuery(
                    id: $0.id, dataSourceID: 1, queryHash: $0.hash ?? "h\($0.id)", schedule: $0.redashSchedule, failures: $0.failures,
                    lastRetrievedAt: $0.retrievedAgo.map { now - .seconds($0) }, lastRuntime: $0.runtime)
            },
            routes: [DataSourceRoute(id: 1, name: "Production")], scheduler: scheduler, neverRunIsDue: neverRunIsDue, stats: [:],
            now: now, horizonMinutes: minutes)
    }

    /// Runs per minute from now.
    static func perMinute(_ times: [Double], minutes: Int) -> [Int] {
        var counts = Array(repeating: 0, count: minutes)
        for time in times {
            let minute = Int(((time - now.secondsSinceEpoch) / 60).rounded(.down))
            if (0..<minutes).contains(minute) { counts[minute] += 1 }
        }
        return counts
    }

    /// Equal totals, and every run of one side within a minute of the other's: the cumulative
    /// counts never differ by more than one minute's shift.
    static func agreeWithinOneMinute(_ forecast: [Int], _ truth: [Int]) -> Bool {
        guard forecast.reduce(0, +) == truth.reduce(0, +) else { return false }
        var predicted = 0, seen = 0, seenBefore = 0
        for minute in forecast.indices {
            predicted += forecast[minute]
            seenBefore = seen
            seen += truth[minute]
            let seenAfter = seen + (minute + 1 < truth.count ? truth[minute + 1] : 0)
            if predicted < seenBefore || predicted > seenAfter { return false }
        }
        return true
    }

    /// Every schedule shape the issue names, plus the ones around them.
    static let mixed: [Query] = [
        Query(id: 1, interval: 60, executedAgo: 66.7),
        Query(id: 2, interval: 120, executedAgo: 36.4),
        Query(id: 3, interval: 300, executedAgo: 100),
        Query(id: 4, interval: 240, executedAgo: 230),
        Query(id: 5, interval: 180, executedAgo: nil),  // never ran
        Query(id: 6, interval: 600, executedAgo: 500, failures: 2),  // failed twice, now succeeds
        Query(id: 7, interval: 86_400, time: "10:12", executedAgo: 86_400 - 5 * 60),
        Query(id: 8, interval: 900, executedAgo: nil, retrievedAgo: 840),  // only a result to go by
        // Two copies of one text on one data source: Redash enqueues one per refresh, and the
        // other's clock has not restarted, so they alternate.
        Query(id: 9, interval: 300, executedAgo: 400, hash: "same"),
        Query(id: 10, interval: 300, executedAgo: 400, hash: "same"),
    ]

    @Test("per minute, the forecast equals what the scheduler enqueues, within one minute: v25 (never-run at once) and v10 (never)",
          arguments: [("v25", true), ("v10", false)])
    func mixedSchedules(_ era: String, _ neverRunIsDue: Bool) async throws {
        let minutes = 30
        let truth = try await Self.standin(Self.mixed, era: era, minutes: minutes)
        let forecast = Self.forecast(Self.mixed, neverRunIsDue: neverRunIsDue, minutes: minutes)
        let predicted = forecast.queues.first?.minutes.map(\.queries) ?? Array(repeating: 0, count: minutes)
        let actual = Self.perMinute(truth.enqueues.map(\.1), minutes: minutes)
        #expect(Self.agreeWithinOneMinute(predicted, actual), "forecast \(predicted)\nredash   \(actual)")
        // Query by query, the rule gives the very refreshes the scheduler used.
        for query in Self.mixed where query.hash == nil {
            let expected = truth.enqueues.filter { $0.0 == query.id }.map(\.1)
            let times = RedashScheduleRule.enqueueTimes(
                previous: query.executedAgo.map { Self.now - .seconds($0) } ?? query.retrievedAgo.map { Self.now - .seconds($0) },
                schedule: query.redashSchedule, failures: query.failures, neverRunIsDue: neverRunIsDue, now: Self.now,
                horizon: .seconds(Double(60 * minutes)), grid: RedashRefreshGrid(anchor: Self.lastRefresh))
            #expect(times.map(\.secondsSinceEpoch) == expected, "query \(query.id): \(times) vs \(expected.map { Instant(secondsSinceEpoch: $0) })")
        }
        // The two copies, as one group: the same refreshes, the same copy each time.
        let copies = Self.mixed.filter { $0.hash == "same" }.map {
            RedashScheduleRule.Member(
                id: $0.id, previous: $0.executedAgo.map { Self.now - .seconds($0) }, schedule: $0.redashSchedule, failures: 0, runtime: .seconds($0.runtime))
        }
        let groupTimes = RedashScheduleRule.enqueueTimes(
            group: copies, neverRunIsDue: neverRunIsDue, now: Self.now, horizon: .seconds(Double(60 * minutes)), grid: RedashRefreshGrid(anchor: Self.lastRefresh))
        let groupTruth = truth.enqueues.filter { $0.0 == 9 || $0.0 == 10 }
        #expect(groupTimes.map { "\($0.query)@\($0.time.secondsSinceEpoch)" } == groupTruth.map { "\($0.0)@\($0.1)" })
        #expect(Set(groupTruth.map(\.0)) == [9, 10], "the copies alternate")
        // A 60 s schedule runs every 90 s: 20 times in 30 minutes, not 30.
        #expect(truth.enqueues.filter { $0.0 == 1 }.count == 20)
        #expect(truth.enqueues.contains { $0.0 == 5 } == neverRunIsDue)
        // The first refresh counts what the forecast said it would.
        #expect(truth.refreshes.first?.1 == forecast.nextRefresh.dueQueries, "\(truth.refreshes.prefix(2)) vs \(forecast.nextRefresh)")
    }

    @Test("a backed-up scheduled queue: a query behind its waiting job gets no second run; the next comes after it can start")
    func backedUpQueue() async throws {
        // One worker; query 1's job waits behind a 5-minute query already running.
        let queries = [
            Query(id: 1, interval: 60, executedAgo: 600, runtime: 2, locked: .waiting),
            Query(id: 2, interval: 3600, executedAgo: 30, runtime: 300, locked: .running(endsIn: 290)),
        ]
        let minutes = 10
        let truth = try await Self.standin(queries, era: "v25", minutes: minutes, workers: 1)
        let forecast = Self.forecast(queries, neverRunIsDue: true, minutes: minutes)
        let firstRedash = try #require(truth.enqueues.first { $0.0 == 1 }?.1)
        let firstForecast = try #require(forecast.queues.first?.due.first?.dueIn)
        // Without the lock the forecast would say "at the next refresh" (7 s from now), and every
        // 90 s after: the very time the queue is backed up. Redash enqueues nothing until the
        // waiting job has run (after 290 s).
        #expect(firstRedash - Self.now.secondsSinceEpoch > 290)
        #expect(firstForecast > .seconds(60), "forecast \(firstForecast)")
        #expect(forecast.waitingBehindLock == 1)
        // Every refresh still counts the waiting query as due, as Redash does.
        #expect(truth.refreshes.first?.1 == 1 && forecast.nextRefresh.dueQueries == 1)
    }
}
