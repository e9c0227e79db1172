import AutoscalerCore

/// Reads a user's own history to replay: CSV with a header naming `enqueued_at`, `queue` and
/// `runtime_seconds` (other columns are ignored). `enqueued_at` is ISO 8601 in UTC
/// (`2026-11-23T09:00:12Z`, `2026-11-23 09:00:12.5+00`) or seconds since the epoch. An optional
/// `kind` column says `adhoc` or `scheduled`; without one, a job on a queue whose name contains
/// `scheduled` (Redash's `scheduled_queue_name` default is `scheduled_queries`) counts as a
/// scheduled refresh, any other as adhoc. docs/simulator.md shows the SQL that exports it from
/// Redash's database.
public enum TraceReader {
    /// A problem with the trace, with its line.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Parses `text` into a workload starting on the minute of the first job and ending an hour
    /// after the last one arrives (so that the service can settle).
    public static func parse(_ text: String) throws(Failure) -> Workload {
        var lines = text.split(whereSeparator: \.isNewline).map(String.init)
        guard !lines.isEmpty else { throw Failure(line: 1, message: "the trace is empty") }
        let header = fields(lines.removeFirst()).map { $0.lowercased() }
        guard let timeColumn = header.firstIndex(of: "enqueued_at"),
              let queueColumn = header.firstIndex(of: "queue"),
              let runtimeColumn = header.firstIndex(of: "runtime_seconds") else {
            throw Failure(line: 1, message: "the header must name enqueued_at, queue and runtime_seconds; found \(header.joined(separator: ","))")
        }
        let kindColumn = header.firstIndex(of: "kind")
        var rows: [(time: Double, queue: String, runtime: Double, kind: SimulatedJob.Kind)] = []
        for (offset, line) in lines.enumerated() where !line.trimmingWhitespace.isEmpty {
            let number = offset + 2
            let cells = fields(line)
            guard cells.count > max(timeColumn, queueColumn, runtimeColumn) else {
                throw Failure(line: number, message: "expected \(header.count) columns, found \(cells.count)")
            }
            guard let time = timestamp(cells[timeColumn]) else {
                throw Failure(line: number, message: "`\(cells[timeColumn])` is not an ISO 8601 UTC time or epoch seconds")
            }
            guard let runtime = Double(cells[runtimeColumn]), runtime >= 0, runtime.isFinite else {
                throw Failure(line: number, message: "`\(cells[runtimeColumn])` is not a runtime in seconds")
            }
            let queue = cells[queueColumn]
            guard !queue.isEmpty else { throw Failure(line: number, message: "the queue is empty") }
            var kind: SimulatedJob.Kind = queue.contains("scheduled") ? .scheduled : .adhoc
            if let kindColumn, kindColumn < cells.count, !cells[kindColumn].isEmpty {
                guard let named = SimulatedJob.Kind(rawValue: cells[kindColumn].lowercased()) else {
                    throw Failure(line: number, message: "`\(cells[kindColumn])` is not a kind; use adhoc or scheduled")
                }
                kind = named
            }
            rows.append((time, queue, runtime, kind))
        }
        guard let first = rows.map(\.time).min(), let last = rows.map(\.time).max() else {
            throw Failure(line: 2, message: "the trace has no rows")
        }
        let start = (first / 60).rounded(.down) * 60
        let jobs = rows.map { SimulatedJob(arrival: $0.time - start, queue: $0.queue, runtime: $0.runtime, kind: $0.kind) }
        return Workload(start: Instant(secondsSinceEpoch: start), duration: last - start + 3600, jobs: jobs)
    }

    private static func fields(_ line: String) -> [String] {
        line.split(separator: ",", omittingEmptySubsequences: false).map {
            var cell = $0.trimmingWhitespace
            if cell.hasPrefix("\""), cell.hasSuffix("\""), cell.count >= 2 { cell = String(cell.dropFirst().dropLast()) }
            return cell
        }
    }

    /// ISO 8601 (UTC unless an offset is given), or epoch seconds.
    static func timestamp(_ text: String) -> Double? {
        if let epoch = Double(text) { return epoch }
        return CivilTime.parseTimestamp(text)?.secondsSinceEpoch
    }
}
