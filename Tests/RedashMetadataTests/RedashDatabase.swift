import AutoscalerCore
import IntegrationSupport
import PostgresClient

/// A Redash-shaped database for one era: only the tables and columns the reader uses, written
/// here from what Redash stores (not copied from its migrations).
enum RedashDatabase {
    enum Era { case v10, v25 }

    static func create(_ connection: PostgresConnection, era: Era, withFailures: Bool = true) async throws {
        let scheduleType = era == .v10 ? "text" : "jsonb"
        for statement in [
            """
            CREATE TABLE data_sources (
                id serial PRIMARY KEY, name varchar(255) NOT NULL,
                queue_name varchar(255) NOT NULL DEFAULT 'queries',
                scheduled_queue_name varchar(255) NOT NULL DEFAULT 'scheduled_queries')
            """,
            """
            CREATE TABLE query_results (
                id serial PRIMARY KEY, data_source_id integer NOT NULL REFERENCES data_sources (id),
                query_hash varchar(32) NOT NULL, runtime double precision NOT NULL, retrieved_at timestamptz NOT NULL)
            """,
            """
            CREATE TABLE queries (
                id serial PRIMARY KEY, data_source_id integer REFERENCES data_sources (id),
                latest_query_data_id integer REFERENCES query_results (id), query_hash varchar(32) NOT NULL,
                schedule \(scheduleType), \(withFailures ? "schedule_failures integer NOT NULL DEFAULT 0," : "")
                is_archived boolean NOT NULL DEFAULT false)
            """,
        ] {
            _ = try await connection.query(statement)
        }
    }

    /// Adds a data source; returns its id.
    @discardableResult
    static func dataSource(_ connection: PostgresConnection, _ name: String, queue: String = "queries", scheduledQueue: String = "scheduled_queries") async throws -> Int {
        try await connection.query(
            "INSERT INTO data_sources (name, queue_name, scheduled_queue_name) VALUES ($1, $2, $3) RETURNING id",
            [name, queue, scheduledQueue])[0, "id"]?.int ?? -1
    }

    /// Adds a query with `schedule` (SQL NULL when nil) and, when `retrievedAt` is given, a latest
    /// result. Returns the query id.
    @discardableResult
    static func query(
        _ connection: PostgresConnection, dataSource: Int, hash: String, schedule: String?, failures: Int = 0,
        retrievedAt: Instant? = nil, runtime: Double = 10, archived: Bool = false
    ) async throws -> Int {
        var resultID: String?
        if let retrievedAt {
            resultID = try await connection.query(
                "INSERT INTO query_results (data_source_id, query_hash, runtime, retrieved_at) VALUES ($1::integer, $2, $3::float8, to_timestamp($4::float8)) RETURNING id",
                [String(dataSource), hash, String(runtime), String(retrievedAt.secondsSinceEpoch)])[0, "id"]?.int.map(String.init)
        }
        let hasFailures = try await connection.query(
            "SELECT count(*) AS n FROM information_schema.columns WHERE table_name = 'queries' AND column_name = 'schedule_failures'")[0, "n"]?.int == 1
        // The schedule is bound as text and cast by the column's own type (text or jsonb).
        let rows = hasFailures
            ? try await connection.query(
                "INSERT INTO queries (data_source_id, latest_query_data_id, query_hash, schedule, is_archived, schedule_failures) VALUES ($1::integer, $2::integer, $3, $4, $5::boolean, $6::integer) RETURNING id",
                [String(dataSource), resultID, hash, schedule, archived ? "true" : "false", String(failures)])
            : try await connection.query(
                "INSERT INTO queries (data_source_id, latest_query_data_id, query_hash, schedule, is_archived) VALUES ($1::integer, $2::integer, $3, $4, $5::boolean) RETURNING id",
                [String(dataSource), resultID, hash, schedule, archived ? "true" : "false"])
        return rows[0, "id"]?.int ?? -1
    }
}
