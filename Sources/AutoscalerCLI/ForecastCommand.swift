import ArgumentParser
import Controller
import AutoscalerCore
import Foundation
import Logging
import PostgresClient
import QueueProbes
import RedashMetadata
import RedisClient
import SystemClock

/// `redash-autoscaler forecast`: what Redash's database says about the coming minutes.
public struct ForecastCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "Show queue routing, runtime statistics and the per-minute forecast of scheduled queries.",
        discussion: """
            Reads Redash's PostgreSQL (--database, else the policy's database.url) and, for the times the \
            scheduler last enqueued each query, Redis (sq:executed_at). Read only. Exits 1 when the database \
            cannot be read or its schema is not one the forecast supports.
            """
    )

    @OptionGroup public var options: PolicyOptions

    @Option(help: ArgumentHelp("Redash's database URL, overriding the policy's (postgresql://user:password@host:port/db).", valueName: "url"))
    public var database: String?

    @Option(help: ArgumentHelp("Redis URL for sq:executed_at, overriding the policy's.", valueName: "url"))
    public var redis: String?

    @Option(help: "Minutes ahead to forecast.")
    public var minutes = 30

    @Flag(help: "Print one JSON object instead of tables.")
    public var json = false

    @OptionGroup public var logging: LoggingOptions

    public init() {}

    public mutating func validate() throws {
        guard (1...1440).contains(minutes) else { throw ValidationError("--minutes must be between 1 and 1440") }
    }

    public func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let (policy, _) = try await PolicySource.load(options, environment: environment, allowEmbedded: true)
        guard let url = database.map(SecretURL.init) ?? policy.database?.url else {
            throw ValidationError("no database: set database.url in the policy (the shipped one reads $REDASH_DATABASE_URL) or pass --database")
        }
        let report = await Self.report(
            databaseURL: url, redisURL: redis ?? policy.redis.url.unredacted,
            redashRedisURL: redis == nil ? policy.redis.redashURL?.unredacted : nil, layout: policy.redis.layout, minutes: minutes, json: json,
            now: WallClock.now(), logger: logging.logger("redash-autoscaler.forecast"))
        if !report.standardError.isEmpty { StandardError.write(report.standardError) }
        print(report.standardOutput)
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }

    /// Reads everything once and renders it; `redisURL` nil skips Redis.
    public static func report(
        databaseURL: SecretURL, redisURL: String?, redashRedisURL: String? = nil, layout: QueueLayout = .auto, minutes: Int, json: Bool,
        now: Instant, logger: Logger = Logger(label: "redash-autoscaler.forecast", factory: { StreamLogHandler.standardError(label: $0) })
    ) async -> CommandReport {
        let session = PostgresSession(url: databaseURL, logger: logger)
        let reader = RedashMetadataReader(session: session)
        var notes: [String] = []
        let schema: RedashSchema, routes: [DataSourceRoute], scheduled: RedashMetadataReader.ScheduledQueries, stats: [String: RuntimeStats]
        do {
            schema = try await reader.inspectSchema()
            routes = try await reader.routing()
            scheduled = try await reader.scheduledQueries(schema: schema)
            stats = try await reader.runtimeStats(window: .seconds(7 * 86_400))
        } catch {
            let message = "cannot read Redash's database \(databaseURL): \(error)"
            return CommandReport(exitCode: 1, standardOutput: json ? JSONOutput.render(["error": message]) : "", standardError: json ? "" : message)
        }
        if !schema.hasScheduleFailures { notes.append("queries.schedule_failures is missing: failure backoff is not forecast") }
        var scheduler = RedashSchedulerState()
        var health: SchedulerHealth?
        var forecast = ScheduledWorkForecast.build(
            queries: scheduled.queries, skipped: scheduled.skipped, routes: routes, scheduler: scheduler,
            neverRunIsDue: schema.era.runsNeverRunQueries, stats: stats, now: now, horizonMinutes: minutes)
        if let redisURL {
            var clients: [RedisClient] = []
            do {
                let client = RedisClient(endpoint: try RedisEndpoint(url: redisURL), logger: logger)
                clients.append(client)
                let redashClient = try redashRedisURL.map { RedisClient(endpoint: try RedisEndpoint(url: $0), logger: logger) }
                if let redashClient { clients.append(redashClient) }
                let prober = QueueProber(client: client, redashClient: redashClient, layout: layout, logger: logger)
                let queues = Array(Set(routes.map(\.scheduledQueue))).sorted()
                // Twice, as the controller does over two ticks: the first forecast names the
                // queries due now, whose locks the second read looks up.
                var request = SchedulerStateRequest(dataSources: routes.map(\.id))
                for _ in 0..<2 {
                    let probe = await prober.probe(queues: queues, scheduler: request, now: now)
                    if let problem = probe.redashSchedulerProblem { throw SetupFailure(problem) }
                    health = probe.scheduler
                    scheduler = probe.redashScheduler ?? scheduler
                    forecast = ScheduledWorkForecast.build(
                        queries: scheduled.queries, skipped: scheduled.skipped, routes: routes, scheduler: scheduler,
                        neverRunIsDue: schema.era.runsNeverRunQueries, stats: stats, now: now, horizonMinutes: minutes)
                    guard !forecast.locksToCheck.isEmpty else { break }
                    request.locks = forecast.locksToCheck
                }
            } catch {
                notes.append("Redis not read (\(error)); previous runs taken from query_results.retrieved_at, paused data sources and locks unknown")
            }
            for client in clients { await client.close() }
        } else {
            notes.append("no Redis given: previous runs taken from query_results.retrieved_at, paused data sources and locks unknown")
        }
        if let health {
            if !health.isJudged {
                notes.append("Redash's scheduler cannot be judged: Redis has no redash:status last_refresh_at yet; the forecast's refresh grid is not anchored")
            } else if health.isStale {
                notes.append("Redash's scheduler looks dead (redash:status last refreshed \(health.sinceLastRefresh.map { "\($0.compactDescription) ago" } ?? "never")): nothing scheduled is enqueued until it runs again")
            } else if let count = health.outdatedQueries, let at = health.refreshAnchor {
                notes.append("Redash's last refresh (\(at)) found \(count) scheduled quer\(count == 1 ? "y" : "ies") due; this forecast expects \(forecast.nextRefresh.dueQueries) at the next one (\(forecast.nextRefresh.at))")
            }
        }
        if !forecast.pausedDataSources.isEmpty {
            let names = forecast.pausedDataSources.map { id in routes.first { $0.id == id }.map { "\($0.name) (\(id))" } ?? "\(id)" }
            notes.append("paused data sources, left out of the forecast: \(names.joined(separator: ", ")); \(forecast.pausedQueries) scheduled queries")
        }
        let output = json
            ? renderJSON(schema: schema, routes: routes, stats: stats, forecast: forecast, scheduledCount: scheduled.queries.count, notes: notes)
            : renderText(databaseURL: databaseURL, schema: schema, routes: routes, stats: stats, forecast: forecast, scheduledCount: scheduled.queries.count, notes: notes)
        return CommandReport(exitCode: 0, standardOutput: output, standardError: "")
    }

    static func renderJSON(
        schema: RedashSchema, routes: [DataSourceRoute], stats: [String: RuntimeStats], forecast: ScheduledWorkForecast,
        scheduledCount: Int, notes: [String]
    ) -> String {
        var object: [String: Any] = [
            "schema": schema.era.rawValue,
            "generatedAt": forecast.generatedAt.description,
            "horizonMinutes": forecast.horizonMinutes,
            "scheduledQueries": scheduledCount,
            "neverRun": forecast.neverRun,
            "pausedDataSources": forecast.pausedDataSources,
            "pausedQueries": forecast.pausedQueries,
            "skipped": forecast.skipped.map { ["queryId": $0.queryID, "reason": $0.reason] as [String: Any] },
            "routing": routes.map { ["dataSourceId": $0.id, "name": $0.name, "queue": $0.queue, "scheduledQueue": $0.scheduledQueue] as [String: Any] },
            "runtime": stats.mapValues { ["results": $0.count, "p50Seconds": $0.p50, "p90Seconds": $0.p90] as [String: Any] },
            "notes": notes,
            "rules": forecast.rules,
            "nextRefresh": ["at": forecast.nextRefresh.at.description, "dueQueries": forecast.nextRefresh.dueQueries] as [String: Any],
            "waitingBehindLock": forecast.waitingBehindLock,
            "blockedByLock": forecast.blockedByLock,
            "blockedLocks": forecast.blockedLocks.sorted { $0.key < $1.key }.map { entry in
                ["lock": entry.key, "until": "\(entry.value.until)", "cause": "\(entry.value.cause)"]
            },
        ]
        object["forecast"] = forecast.queues.map { queue -> [String: Any] in
            [
                "queue": queue.queue,
                "minutes": queue.minutes.map { minute -> [String: Any] in
                    [
                        "offset": minute.offset,
                        "start": (forecast.generatedAt + .seconds(60 * minute.offset)).description,
                        "queries": minute.queries,
                        "expectedWorkSeconds": (minute.expectedWork * 10).rounded() / 10,
                    ]
                },
            ]
        }
        return JSONOutput.render(object)
    }

    static func renderText(
        databaseURL: SecretURL, schema: RedashSchema, routes: [DataSourceRoute], stats: [String: RuntimeStats],
        forecast: ScheduledWorkForecast, scheduledCount: Int, notes: [String]
    ) -> String {
        var lines = ["\(databaseURL) · Redash \(schema.era.rawValue) schema · \(routes.count) data source(s) · \(scheduledCount) scheduled quer\(scheduledCount == 1 ? "y" : "ies")"
            + (forecast.skipped.isEmpty ? "" : ", \(forecast.skipped.count) skipped (unreadable schedule)")
            + (forecast.neverRun == 0 ? "" : ", \(forecast.neverRun) never ran (\(schema.era.runsNeverRunQueries ? "due at once" : "never due"))")
            + (forecast.waitingBehindLock == 0 ? "" : ", \(forecast.waitingBehindLock) waiting behind their lock")
            + (forecast.blockedByLock == 0 ? "" : ", \(forecast.blockedByLock) held by a lock whose job will not run")]
        lines.append("")
        lines.append("routing")
        let nameWidth = max(14, (routes.map { $0.name.count + String($0.id).count + 1 }.max() ?? 0) + 2)
        lines.append("  " + "data source".rightPadded(to: nameWidth) + "adhoc queue".rightPadded(to: 20) + "scheduled queue")
        for route in routes {
            lines.append("  " + "\(route.id) \(route.name)".rightPadded(to: nameWidth) + route.queue.rightPadded(to: 20) + route.scheduledQueue)
        }
        lines.append("")
        lines.append("runtime of results, last 7 days")
        lines.append("  " + "queue".rightPadded(to: 22) + "results".leftPadded(to: 8) + "p50".leftPadded(to: 10) + "p90".leftPadded(to: 10))
        for queue in stats.keys.sorted() {
            let stat = stats[queue]!
            lines.append("  " + queue.rightPadded(to: 22) + "\(stat.count)".leftPadded(to: 8)
                + Duration.seconds(stat.p50).compactDescription.leftPadded(to: 10) + Duration.seconds(stat.p90).compactDescription.leftPadded(to: 10))
        }
        lines.append("")
        lines.append("rules applied")
        lines += forecast.rules.map { "  - \($0)" }
        lines.append("")
        lines.append("scheduled queries Redash will enqueue, per minute (UTC), next \(forecast.horizonMinutes) min; minutes without any left out")
        for queue in forecast.queues {
            let busy = queue.minutes.filter { $0.queries > 0 }
            let total = busy.reduce(0) { $0 + $1.queries }
            lines.append("  \(queue.queue): \(total) runs")
            for minute in busy {
                let start = CivilTime(forecast.generatedAt + .seconds(60 * minute.offset))
                lines.append("    " + "\(start.hour.zeroPadded(to: 2)):\(start.minute.zeroPadded(to: 2))" + "\(minute.queries)".leftPadded(to: 5)
                    + " quer\(minute.queries == 1 ? "y" : "ies"), ~\(Duration.seconds(minute.expectedWork).compactDescription) of work")
            }
        }
        lines += forecast.skipped.prefix(20).map { "skipped: query \($0.queryID): \($0.reason)" }
        lines += notes.map { "note: \($0)" }
        return lines.joined(separator: "\n")
    }
}
