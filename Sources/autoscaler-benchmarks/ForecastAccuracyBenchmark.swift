import AutoscalerCore
import Foundation
import RedashMetadata

/// The forecast for a stand-in scenario (the JSON `scripts/bench-forecast-accuracy.sh` writes and
/// `redash_standin.py simulate` runs): prints the runs per minute it predicts, as one JSON line,
/// for the script to compare with what the stand-in enqueued.
enum ForecastAccuracyBenchmark {
    static func run(spec path: String) {
        guard let data = FileManager.default.contents(atPath: path),
              let spec = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let start = (spec["start"] as? NSNumber)?.doubleValue, let minutes = (spec["minutes"] as? NSNumber)?.intValue,
              let firstRefresh = (spec["first_refresh"] as? NSNumber)?.doubleValue, let era = spec["era"] as? String
        else {
            FileHandle.standardError.write(Data("forecast-accuracy: \(path) is not a stand-in spec\n".utf8))
            exit(2)
        }
        let period = (spec["period"] as? NSNumber)?.doubleValue ?? 30
        let now = Instant(secondsSinceEpoch: start)
        var queries: [ScheduledQuery] = []
        for object in spec["queries"] as? [[String: Any]] ?? [] {
            guard let id = (object["id"] as? NSNumber)?.intValue, let schedule = object["schedule"] as? [String: Any] else { continue }
            var parsed = RedashSchedule(interval: (schedule["interval"] as? NSNumber)?.intValue)
            if let time = schedule["time"] as? String {
                let parts = time.split(separator: ":").compactMap { Int($0) }
                if parts.count == 2 { parsed.time = (parts[0], parts[1]) }
            }
            if let day = schedule["day_of_week"] as? String { parsed.dayOfWeek = RedashSchedule.dayNames.firstIndex(of: day) }
            queries.append(ScheduledQuery(
                id: id, dataSourceID: (object["data_source"] as? NSNumber)?.intValue ?? 1, queryHash: object["hash"] as? String ?? "\(id)",
                schedule: parsed, failures: (object["failures"] as? NSNumber)?.intValue ?? 0,
                lastRetrievedAt: (object["retrieved_at"] as? NSNumber).map { Instant(secondsSinceEpoch: $0.doubleValue) },
                lastRuntime: (object["runtime"] as? NSNumber)?.doubleValue))
        }
        var executions: [Int: Instant] = [:]
        for (key, value) in spec["executed_at"] as? [String: Any] ?? [:] {
            if let id = Int(key), let seconds = (value as? NSNumber)?.doubleValue { executions[id] = Instant(secondsSinceEpoch: seconds) }
        }
        let clock = ContinuousClock()
        var forecast: ScheduledWorkForecast?
        let elapsed = clock.measure {
            forecast = ScheduledWorkForecast.build(
                queries: queries, routes: [DataSourceRoute(id: 1, name: "bench")],
                scheduler: RedashSchedulerState(executions: executions, refreshAnchor: Instant(secondsSinceEpoch: firstRefresh - period)),
                neverRunIsDue: era == "v25", stats: [:], now: now, horizonMinutes: minutes, refreshPeriod: .seconds(period))
        }
        let perMinute = forecast?.queues.first?.minutes.map(\.queries) ?? Array(repeating: 0, count: minutes)
        let output: [String: Any] = [
            "perMinute": perMinute, "buildMilliseconds": (elapsed.inSeconds * 10_000).rounded() / 10,
            "firstRefreshDue": forecast?.nextRefresh.dueQueries ?? 0,
        ]
        print(String(decoding: try! JSONSerialization.data(withJSONObject: output), as: UTF8.self))
    }
}
