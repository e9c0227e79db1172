import AutoscalerCore
import Foundation
import Logging
import PostgresClient
import RedashMetadata

/// The Redash metadata path on a database filled by scripts/bench-forecast.sh: the slow
/// refreshes (scheduled queries, runtime statistics) and the per-tick forecast from memory.
enum ForecastBenchmark {
    static func run(url: String, rounds: Int) async {
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let session = PostgresSession(url: SecretURL(url), statementTimeout: .seconds(60), logger: logger)
        let reader = RedashMetadataReader(session: session)
        let clock = ContinuousClock()
        func milliseconds(_ duration: Duration) -> Double { duration.inSeconds * 1000 }
        func median(_ values: [Double]) -> String { String(format: "%.1f", values.sorted()[values.count / 2]) }
        do {
            let schema = try await reader.inspectSchema()
            var scheduledTimes: [Double] = [], statsTimes: [Double] = [], buildTimes: [Double] = []
            var scheduled = RedashMetadataReader.ScheduledQueries(queries: [], skipped: [])
            var stats: [String: RuntimeStats] = [:]
            var routes: [DataSourceRoute] = []
            for _ in 0..<rounds {
                scheduledTimes.append(milliseconds(try await clock.measure {
                    routes = try await reader.routing()
                    scheduled = try await reader.scheduledQueries(schema: schema)
                }))
                statsTimes.append(milliseconds(try await clock.measure { stats = try await reader.runtimeStats(window: .seconds(7 * 86_400)) }))
            }
            var forecast: ScheduledWorkForecast?
            let now = Instant(secondsSinceEpoch: Date().timeIntervalSince1970)
            for _ in 0..<rounds {
                buildTimes.append(milliseconds(clock.measure {
                    forecast = ScheduledWorkForecast.build(
                        queries: scheduled.queries, skipped: scheduled.skipped, routes: routes,
                        scheduler: RedashSchedulerState(refreshAnchor: now - .seconds(7)), neverRunIsDue: true, stats: stats,
                        now: now, horizonMinutes: 30)
                }))
            }
            let due = forecast?.queues.reduce(0) { $0 + $1.due.count } ?? 0
            print("forecast: \(scheduled.queries.count) scheduled queries read (\(scheduled.skipped.count) skipped), \(stats.count) queues with runtime statistics, \(rounds) rounds")
            print("forecast: routing + scheduled queries refresh: median \(median(scheduledTimes)) ms (every 60 s by default)")
            print("forecast: runtime statistics over 7 days of query_results: median \(median(statsTimes)) ms (every 10 min by default)")
            print("forecast: per-tick forecast from memory (30 minutes, \(due) runs due): median \(median(buildTimes)) ms")
            if let peak = peakResidentKilobytes() { print("forecast: peak RSS \(String(format: "%.1f", Double(peak) / 1024)) MiB") }
        } catch {
            print("forecast: \(error)")
        }
    }
}
