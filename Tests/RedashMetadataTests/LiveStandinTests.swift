import AutoscalerCore
import Foundation
import IntegrationSupport
import Logging
import QueueProbes
import RedashMetadata
import RedisClient
import Testing

/// The forecast against the Redash-like scheduler running for real: the stand-in
/// (`Python/redash_standin.py serve`) refreshing on a grid, enqueueing with the real `rq`
/// (Redash's job meta, `timeout=-1`, the lock), and real rq workers writing `sq:executed_at` when
/// they start a job. Time is compressed tenfold: refreshes every 3 s, schedules of 6–30 s, and
/// "a minute" is 6 s. The probe reads what Redis holds; the forecast is built from that alone.
@Suite("Forecast against a Redash-like scheduler on Redis with real rq workers", .testThreads, .serialized)
struct LiveStandinTests {
    static let pythonDirectories = [
        Repository.root.appendingPathComponent("Tests/RedashMetadataTests/Python").path,
        Repository.root.appendingPathComponent("Tests/QueueProbesTests/Python").path,
    ].joined(separator: ":")
    static let queuesScript = Repository.root.appendingPathComponent("Tests/QueueProbesTests/Python/redash_queues.py").path
    static let standin = Repository.root.appendingPathComponent("Tests/RedashMetadataTests/Python/redash_standin.py").path
    static let period = 3.0
    static let minute = 6.0
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    struct Run {
        var redis: RedisServer
        var workers: [ManagedProcess]
        var scheduler: ManagedProcess
        var spec: String

        func stop() {
            scheduler.stop()
            for worker in workers { worker.stop() }
            try? FileManager.default.removeItem(atPath: spec)
        }

        /// The stand-in's enqueues so far: query id and time.
        var enqueues: [(Int, Double)] {
            scheduler.output.split(separator: "\n").compactMap { line in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let id = (object["enqueued"] as? NSNumber)?.intValue, let at = (object["at"] as? NSNumber)?.doubleValue else { return nil }
                return (id, at)
            }
        }
    }

    /// Starts Redis, the workers and the stand-in; `ran` seeds `sq:executed_at` (query id →
    /// seconds ago), as a Redash that has been running a while has it.
    static func start(queries: [[String: Any]], era: String, python: String, workers count: Int, ran: [Int: Double] = [:]) async throws -> Run {
        let redis = try await RedisServer.start()
        let now = Date().timeIntervalSince1970
        for (id, ago) in ran { try await redis.cli(["HSET", "sq:executed_at", String(id), String(now - ago)]) }
        let spec = NSTemporaryDirectory() + "standin-\(UUID().uuidString).json"
        try JSONSerialization.data(withJSONObject: ["era": era, "period": period, "queries": queries]).write(to: URL(fileURLWithPath: spec))
        let environment = ["PYTHONPATH": pythonDirectories]
        var workers: [ManagedProcess] = []
        for index in 0..<count {
            workers.append(try ManagedProcess(
                python, ["-u", queuesScript, "rq-worker", redis.url, "scheduled_queries", "standin-\(index)-\(redis.port)"], environment: environment))
        }
        let scheduler = try ManagedProcess(python, ["-u", standin, "serve", redis.url, spec, "--seconds", "90"], environment: environment)
        return Run(redis: redis, workers: workers, scheduler: scheduler, spec: spec)
    }

    static func forecast(_ run: Run, queries: [ScheduledQuery], neverRunIsDue: Bool, now: Instant) async throws -> ScheduledWorkForecast {
        let client = RedisClient(endpoint: try RedisEndpoint(url: run.redis.url), logger: quiet)
        let prober = QueueProber(client: client, layout: .rq, logger: quiet)
        var request = SchedulerStateRequest(dataSources: [1])
        var forecast: ScheduledWorkForecast?
        for _ in 0..<2 {
            let probe = await prober.probe(queues: ["scheduled_queries"], scheduler: request, now: now)
            let state = try #require(probe.redashScheduler, "\(probe.redashSchedulerProblem ?? "no scheduler state")")
            forecast = ScheduledWorkForecast.build(
                queries: queries, routes: [DataSourceRoute(id: 1, name: "Production")], scheduler: state, neverRunIsDue: neverRunIsDue,
                stats: [:], now: now, horizonMinutes: 1, refreshPeriod: .seconds(period))
            request.locks = forecast?.locksToCheck ?? []
        }
        await client.close()
        return try #require(forecast)
    }

    static func buckets(_ times: [Double], from start: Double, count: Int) -> [Int] {
        var result = Array(repeating: 0, count: count)
        for time in times where time >= start {
            let bucket = Int(((time - start) / minute).rounded(.down))
            if bucket < count { result[bucket] += 1 }
        }
        return result
    }

    static let eras: [(String, Bool)] = [("v25", true), ("v10", false)]

    @Test("what the stand-in enqueues in each (compressed) minute is what the forecast said, within one minute", arguments: eras)
    func cadence(_ era: String, _ neverRunIsDue: Bool) async throws {
        let python = era == "v25" ? Repository.python : try #require(Repository.python15, "the RQ 1.5 venv is missing: run scripts/bootstrap.sh")
        let schedules: [(id: Int, interval: Int)] = [(1, 6), (2, 12), (3, 30), (4, 9)]
        var definitions = schedules.map { ["id": $0.id, "data_source": 1, "hash": "h\($0.id)", "schedule": ["interval": $0.interval], "runtime": 0.3] as [String: Any] }
        // A query that never ran: at once in v25.1+, never in v10.
        definitions.append(["id": 5, "data_source": 1, "hash": "h5", "schedule": ["interval": 15], "runtime": 0.3])
        let run = try await Self.start(queries: definitions, era: era, python: python, workers: 3, ran: [1: 5, 2: 7, 3: 20, 4: 1])
        defer { run.stop() }
        // Let the scheduler settle into its rhythm and the first runs start.
        try await Task.sleep(for: .seconds(14))
        let now = Instant(secondsSinceEpoch: Date().timeIntervalSince1970)
        let queries = (schedules.map { ($0.id, $0.interval) } + [(5, 15)]).map {
            ScheduledQuery(id: $0.0, dataSourceID: 1, queryHash: "h\($0.0)", schedule: RedashSchedule(interval: $0.1))
        }
        let forecast = try await Self.forecast(run, queries: queries, neverRunIsDue: neverRunIsDue, now: now)
        let window = 5
        try await Task.sleep(for: .seconds(Double(window) * Self.minute + 2))
        let predicted = Self.buckets(forecast.queues.flatMap(\.due).map { now.secondsSinceEpoch + $0.dueIn.inSeconds }, from: now.secondsSinceEpoch, count: window)
        let actual = Self.buckets(run.enqueues.map(\.1), from: now.secondsSinceEpoch, count: window)
        #expect(StandinForecastTests.agreeWithinOneMinute(predicted, actual), "forecast \(predicted)\nstand-in \(actual)\n\(run.scheduler.output.suffix(1500))")
        #expect(actual.reduce(0, +) >= 6, "the stand-in ran: \(run.scheduler.output.suffix(800))")
        #expect(run.enqueues.contains { $0.0 == 5 } == neverRunIsDue)
    }

    @Test("a job waiting behind a long one: its lock is read as waiting, and no second run is forecast")
    func waitingLock() async throws {
        // One worker; query 1 runs 20 s, so query 2's job waits behind it and its clock stands still.
        let definitions: [[String: Any]] = [
            ["id": 1, "data_source": 1, "hash": "long", "schedule": ["interval": 60], "runtime": 20.0],
            ["id": 2, "data_source": 1, "hash": "short", "schedule": ["interval": 6], "runtime": 0.2],
        ]
        let run = try await Self.start(queries: definitions, era: "v25", python: Repository.python, workers: 1)
        defer { run.stop() }
        let queries = [
            ScheduledQuery(id: 1, dataSourceID: 1, queryHash: "long", schedule: RedashSchedule(interval: 60)),
            ScheduledQuery(id: 2, dataSourceID: 1, queryHash: "short", schedule: RedashSchedule(interval: 6)),
        ]
        // Both never ran: both go at the first refresh; the worker takes one, the other waits.
        var forecast: ScheduledWorkForecast?
        let waiting = await eventually(timeout: 20, interval: 0.5) {
            forecast = try? await Self.forecast(run, queries: queries, neverRunIsDue: true, now: Instant(secondsSinceEpoch: Date().timeIntervalSince1970))
            return forecast?.waitingBehindLock == 1
        }
        #expect(waiting, "\(String(describing: forecast))\n\(run.scheduler.output.suffix(1000))")
        // The waiting query is not forecast again within the next interval.
        let soon = forecast?.queues.flatMap(\.due).filter { $0.dueIn < .seconds(5) }.count ?? -1
        #expect(soon == 0, "\(String(describing: forecast?.queues))")
    }
}
