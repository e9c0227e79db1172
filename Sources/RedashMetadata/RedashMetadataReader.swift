import AutoscalerCore
import PostgresClient

/// Which Redash schema the database has.
public enum RedashSchemaEra: String, Sendable, Equatable {
    /// Redash v7–v10: `queries.schedule` is JSON in a text column.
    case textSchedule = "v7-v10"
    /// Redash v25+: `queries.schedule` is jsonb.
    case jsonbSchedule = "v25+"

    /// Whether Redash runs a scheduled query that never ran at its next refresh: since v25.1
    /// (`should_schedule_next` returns true without a previous run); v7–v10 never run it.
    public var runsNeverRunQueries: Bool { self == .jsonbSchedule }
}

public struct RedashSchema: Sendable, Equatable {
    public var era: RedashSchemaEra
    /// `queries.schedule_failures` exists (it drives the failure backoff).
    public var hasScheduleFailures: Bool
}

/// Where a data source's queries go.
public struct DataSourceRoute: Sendable, Equatable {
    public var id: Int
    public var name: String
    /// Adhoc queries (`data_sources.queue_name`, default `queries`).
    public var queue: String
    /// Scheduled refreshes (`data_sources.scheduled_queue_name`, default `scheduled_queries`).
    public var scheduledQueue: String

    public init(id: Int, name: String, queue: String = "queries", scheduledQueue: String = "scheduled_queries") {
        self.id = id
        self.name = name
        self.queue = queue
        self.scheduledQueue = scheduledQueue
    }
}

extension [DataSourceRoute] {
    /// The data sources routed to each queue (adhoc and scheduled), by queue name.
    public var routedQueues: [String: [String]] {
        var routed: [String: [String]] = [:]
        for route in self {
            routed[route.queue, default: []].append(route.name)
            if route.scheduledQueue != route.queue { routed[route.scheduledQueue, default: []].append(route.name) }
        }
        return routed
    }
}

/// A query with a schedule, and what the forecast needs of its last run.
public struct ScheduledQuery: Sendable, Equatable {
    public var id: Int
    public var dataSourceID: Int
    public var queryHash: String
    public var schedule: RedashSchedule
    public var failures: Int
    /// `retrieved_at` of its latest result.
    public var lastRetrievedAt: Instant?
    /// `runtime` of its latest result, in seconds.
    public var lastRuntime: Double?

    public init(
        id: Int, dataSourceID: Int, queryHash: String, schedule: RedashSchedule, failures: Int = 0, lastRetrievedAt: Instant? = nil,
        lastRuntime: Double? = nil
    ) {
        self.id = id
        self.dataSourceID = dataSourceID
        self.queryHash = queryHash
        self.schedule = schedule
        self.failures = failures
        self.lastRetrievedAt = lastRetrievedAt
        self.lastRuntime = lastRuntime
    }
}

/// Runtime of the queries a queue ran over a window.
public struct RuntimeStats: Sendable, Equatable {
    public var queue: String
    public var count: Int
    public var p50: Double
    public var p90: Double

    public init(queue: String, count: Int, p50: Double, p90: Double) {
        self.queue = queue
        self.count = count
        self.p50 = p50
        self.p90 = p90
    }
}

/// The Redash database cannot serve the forecast: schema too old or too new, a missing column.
public struct MetadataError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads Redash's metadata. Statements are fixed text with bound parameters; the only choice made
/// at run time is between two fixed statements for the two schema eras.
public struct RedashMetadataReader: Sendable {
    let session: PostgresSession

    public init(session: PostgresSession) {
        self.session = session
    }

    /// Columns the reader uses, per table; `queries.schedule_failures` is optional.
    static let required: [String: [String]] = [
        "queries": ["id", "data_source_id", "query_hash", "schedule", "latest_query_data_id", "is_archived"],
        "data_sources": ["id", "name", "queue_name", "scheduled_queue_name"],
        "query_results": ["id", "data_source_id", "runtime", "retrieved_at"],
    ]

    /// Checks the tables and columns the reader needs and tells the era apart. A missing table
    /// or column is an error naming it.
    public func inspectSchema() async throws -> RedashSchema {
        let rows = try await session.query("""
            SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type
            FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name IN ('queries', 'data_sources', 'query_results')
            """)
        var columns: [String: [String: String]] = [:]
        for index in rows.rows.indices {
            guard let table = rows[index, "table_name"]?.string, let column = rows[index, "column_name"]?.string else { continue }
            columns[table, default: [:]][column] = rows[index, "data_type"]?.string ?? ""
        }
        for table in Self.required.keys.sorted() {
            guard let present = columns[table] else {
                throw MetadataError("the database has no table \(table) in schema search_path: is database.url Redash's database?")
            }
            for column in Self.required[table]! where present[column] == nil {
                throw MetadataError("Redash schema not as expected: column \(table).\(column) is missing (supported: Redash v7 to v25)")
            }
        }
        let era: RedashSchemaEra
        switch columns["queries"]!["schedule"]! {
        case "jsonb", "json": era = .jsonbSchedule
        case "text", "character varying": era = .textSchedule
        case let other: throw MetadataError("Redash schema not as expected: queries.schedule is \(other), not text (v7–v10) or jsonb (v25+)")
        }
        return RedashSchema(era: era, hasScheduleFailures: columns["queries"]!["schedule_failures"] != nil)
    }

    public func routing() async throws -> [DataSourceRoute] {
        let rows = try await session.query("SELECT id, name, queue_name, scheduled_queue_name FROM data_sources ORDER BY id")
        return rows.rows.indices.map { index in
            DataSourceRoute(
                id: rows[index, "id"]?.int ?? 0, name: rows[index, "name"]?.string ?? "",
                queue: rows[index, "queue_name"]?.string ?? "queries",
                scheduledQueue: rows[index, "scheduled_queue_name"]?.string ?? "scheduled_queries")
        }
    }

    /// Scheduled queries, and the ones whose schedule Redash itself could not use (skipped, with why).
    public struct ScheduledQueries: Sendable, Equatable {
        public var queries: [ScheduledQuery]
        public var skipped: [Skipped]

        public init(queries: [ScheduledQuery] = [], skipped: [Skipped] = []) {
            self.queries = queries
            self.skipped = skipped
        }

        public struct Skipped: Sendable, Equatable {
            public var queryID: Int
            public var reason: String
        }
    }

    public func scheduledQueries(schema: RedashSchema) async throws -> ScheduledQueries {
        // Two fixed statements: with and without schedule_failures (older schemas).
        let sql = schema.hasScheduleFailures
            ? """
              SELECT q.id, q.data_source_id, q.query_hash, q.schedule::text AS schedule, q.schedule_failures AS failures,
                     r.retrieved_at, r.runtime
              FROM queries q LEFT JOIN query_results r ON r.id = q.latest_query_data_id
              WHERE q.schedule IS NOT NULL AND NOT q.is_archived
              ORDER BY q.id
              """
            : """
              SELECT q.id, q.data_source_id, q.query_hash, q.schedule::text AS schedule, 0 AS failures,
                     r.retrieved_at, r.runtime
              FROM queries q LEFT JOIN query_results r ON r.id = q.latest_query_data_id
              WHERE q.schedule IS NOT NULL AND NOT q.is_archived
              ORDER BY q.id
              """
        let rows = try await session.query(sql)
        var result = ScheduledQueries(queries: [], skipped: [])
        result.queries.reserveCapacity(rows.rows.count)
        for index in rows.rows.indices {
            let id = rows[index, "id"]?.int ?? 0
            switch ScheduleDocument.parse(rows[index, "schedule"]?.string) {
            case .unscheduled: continue
            case .invalid(let reason): result.skipped.append(.init(queryID: id, reason: reason))
            case .schedule(let schedule):
                result.queries.append(ScheduledQuery(
                    id: id, dataSourceID: rows[index, "data_source_id"]?.int ?? 0, queryHash: rows[index, "query_hash"]?.string ?? "",
                    schedule: schedule, failures: rows[index, "failures"]?.int ?? 0,
                    lastRetrievedAt: rows[index, "retrieved_at"]?.instant.flatMap { $0.isPlausible ? $0 : nil },
                    lastRuntime: Self.plausibleRuntime(rows[index, "runtime"]?.double)))
            }
        }
        return result
    }

    /// A runtime in seconds from the database, when it is one: finite, from 0 to a week.
    static func plausibleRuntime(_ value: Double?) -> Double? {
        guard let value, value.isFinite, value >= 0, value <= 7 * 86_400 else { return nil }
        return value
    }

    /// Count, median and 90th percentile of `query_results.runtime` per queue over `window`.
    /// A data source's results count for both its adhoc and its scheduled queue. This scans
    /// `query_results` (it has no index on `retrieved_at`): call it on a slow interval.
    public func runtimeStats(window: Duration) async throws -> [String: RuntimeStats] {
        let rows = try await session.query("""
            WITH recent AS (
                SELECT data_source_id, runtime FROM query_results
                WHERE retrieved_at > now() - make_interval(secs => $1::float8)
            ), routed AS (
                SELECT d.queue_name AS queue, r.runtime FROM recent r JOIN data_sources d ON d.id = r.data_source_id
                UNION ALL
                SELECT d.scheduled_queue_name, r.runtime FROM recent r JOIN data_sources d ON d.id = r.data_source_id
            )
            SELECT queue, count(*) AS n,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY runtime) AS p50,
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY runtime) AS p90
            FROM routed WHERE queue IS NOT NULL GROUP BY queue
            """, [String(window.inSeconds)])
        var stats: [String: RuntimeStats] = [:]
        for index in rows.rows.indices {
            guard let queue = rows[index, "queue"]?.string else { continue }
            // A runtime that is not a number of seconds a query could take is no statistic.
            guard let p50 = Self.plausibleRuntime(rows[index, "p50"]?.double), let p90 = Self.plausibleRuntime(rows[index, "p90"]?.double) else { continue }
            stats[queue] = RuntimeStats(queue: queue, count: max(0, rows[index, "n"]?.int ?? 0), p50: p50, p90: p90)
        }
        return stats
    }
}
