import AutoscalerCore
import Foundation
import Logging
import PostgresClient

/// The controller's own state in its own schema of Redash's database (default
/// `redash_autoscaler`): a log of every decision, the last scale-up and scale-down per service
/// (so cooldowns survive a redeploy), and the leader row. Created and migrated at start,
/// idempotently, under a transaction-level advisory lock so that two controllers starting at once
/// do not race.
public actor ControllerStateStore: DecisionStore {
    public let schema: String
    let session: PostgresSession
    let logger: Logger

    /// Each migration is a list of statements; its index + 1 is its version. Never edit one that
    /// has shipped: add the next.
    static func migrations(_ s: String) -> [[String]] {
        [
            [
                """
                CREATE TABLE IF NOT EXISTS \(s).decisions (
                    id bigserial PRIMARY KEY,
                    decided_at timestamptz NOT NULL,
                    service text NOT NULL,
                    from_count integer,
                    to_count integer,
                    reason_code text NOT NULL,
                    reason text NOT NULL,
                    observations jsonb NOT NULL DEFAULT '{}',
                    mode text NOT NULL CHECK (mode IN ('applied', 'dry-run', 'failed', 'hold')),
                    controller text NOT NULL
                )
                """,
                "CREATE INDEX IF NOT EXISTS decisions_service_time ON \(s).decisions (service, decided_at DESC)",
                """
                CREATE TABLE IF NOT EXISTS \(s).scaling_history (
                    service text PRIMARY KEY,
                    last_scale_up timestamptz,
                    last_scale_down timestamptz,
                    updated_at timestamptz NOT NULL
                )
                """,
                """
                CREATE TABLE IF NOT EXISTS \(s).leader (
                    id integer PRIMARY KEY CHECK (id = 1),
                    holder text NOT NULL,
                    acquired_at timestamptz NOT NULL,
                    heartbeat_at timestamptz NOT NULL
                )
                """,
            ],
        ]
    }

    /// `schema` must be a plain lower-case identifier: it is the one name written into SQL text
    /// (PostgreSQL cannot bind identifiers), so it is checked here and quoted.
    public init(session: PostgresSession, schema: String = "redash_autoscaler", logger: Logger = Logger(label: "controller-state")) throws {
        guard Self.isPlainIdentifier(schema) else {
            throw MetadataError("state schema \"\(schema)\" must be lower-case letters, digits and _ (starting with a letter or _), at most 63 characters")
        }
        self.schema = schema
        self.session = session
        self.logger = logger
    }

    public static func isPlainIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 63 else { return false }
        let letters = "abcdefghijklmnopqrstuvwxyz_"
        return letters.unicodeScalars.contains(first)
            && name.unicodeScalars.allSatisfy { letters.unicodeScalars.contains($0) || ("0"..."9").contains($0) }
    }

    var quoted: String { "\"\(schema)\"" }

    /// The advisory-lock key of this schema's migrations and lease (stable across processes).
    var lockKey: Int64 {
        // FNV-1a of the schema name: stable, unlike Hasher.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in schema.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return Int64(bitPattern: hash)
    }

    /// Creates the schema and applies missing migrations. Returns the version now in place.
    @discardableResult
    public func migrate() async throws -> Int {
        let migrations = Self.migrations(quoted)
        _ = try await session.query("BEGIN")
        do {
            _ = try await session.query("SELECT pg_advisory_xact_lock($1::bigint)", [String(lockKey &+ 1)])
            _ = try await session.query("CREATE SCHEMA IF NOT EXISTS \(quoted)")
            _ = try await session.query("CREATE TABLE IF NOT EXISTS \(quoted).schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            let current = try await session.query("SELECT coalesce(max(version), 0) AS v FROM \(quoted).schema_migrations")[0, "v"]?.int ?? 0
            guard current <= migrations.count else {
                throw MetadataError("schema \(schema) is at version \(current), newer than this controller knows (\(migrations.count)); run the newer controller, or a different state schema")
            }
            for version in (current + 1)...max(current + 1, migrations.count) where version <= migrations.count {
                for statement in migrations[version - 1] { _ = try await session.query(statement) }
                _ = try await session.query("INSERT INTO \(quoted).schema_migrations (version) VALUES ($1::integer)", [String(version)])
                logger.info("state schema migrated", metadata: ["schema": "\(schema)", "version": "\(version)"])
            }
            _ = try await session.query("COMMIT")
            return migrations.count
        } catch {
            _ = try? await session.query("ROLLBACK")
            throw error
        }
    }

    /// One line of the decision log.
    public struct LoggedDecision: Sendable, Equatable {
        public var decidedAt: Instant
        public var service: String
        public var from: Int?
        public var to: Int?
        public var reasonCode: String
        public var reason: String
        /// The figures behind it, as JSON.
        public var observations: String
        /// `applied`, `dry-run`, `failed` (the ECS call failed), `hold`.
        public var mode: String
        public var controller: String
    }

    public func record(_ decision: Decision, mode: String, controller: String) async throws {
        _ = try await session.query("""
            INSERT INTO \(quoted).decisions (decided_at, service, from_count, to_count, reason_code, reason, observations, mode, controller)
            VALUES (to_timestamp($1::float8), $2, $3::integer, $4::integer, $5, $6, $7::jsonb, $8, $9)
            """, [
                String(decision.at.secondsSinceEpoch), decision.service, decision.current.map(String.init), decision.desired.map(String.init),
                decision.code.rawValue, decision.reason, Self.json(decision.figures), mode, controller,
            ])
    }

    /// The latest `limit` decisions, newest first, optionally for one service.
    public func recentDecisions(service: String? = nil, limit: Int = 50) async throws -> [LoggedDecision] {
        let rows = try await session.query("""
            SELECT extract(epoch FROM decided_at)::float8 AS at, service, from_count, to_count, reason_code, reason,
                   observations::text AS observations, mode, controller
            FROM \(quoted).decisions WHERE ($1::text IS NULL OR service = $1) ORDER BY decided_at DESC, id DESC LIMIT $2::integer
            """, [service, String(limit)])
        return rows.rows.indices.map { index in
            LoggedDecision(
                decidedAt: Instant(secondsSinceEpoch: rows[index, "at"]?.double ?? 0), service: rows[index, "service"]?.string ?? "",
                from: rows[index, "from_count"]?.int, to: rows[index, "to_count"]?.int,
                reasonCode: rows[index, "reason_code"]?.string ?? "", reason: rows[index, "reason"]?.string ?? "",
                observations: rows[index, "observations"]?.string ?? "{}", mode: rows[index, "mode"]?.string ?? "",
                controller: rows[index, "controller"]?.string ?? "")
        }
    }

    /// Saves when a service was last scaled up and down.
    public func saveHistory(service: String, lastScaleUp: Instant?, lastScaleDown: Instant?, at now: Instant) async throws {
        _ = try await session.query("""
            INSERT INTO \(quoted).scaling_history (service, last_scale_up, last_scale_down, updated_at)
            VALUES ($1, to_timestamp($2::float8), to_timestamp($3::float8), to_timestamp($4::float8))
            ON CONFLICT (service) DO UPDATE SET last_scale_up = excluded.last_scale_up,
                last_scale_down = excluded.last_scale_down, updated_at = excluded.updated_at
            """, [service, lastScaleUp.map { String($0.secondsSinceEpoch) }, lastScaleDown.map { String($0.secondsSinceEpoch) }, String(now.secondsSinceEpoch)])
    }

    /// Last scale-up and scale-down per service, to restore cooldowns after a restart.
    public func loadHistory() async throws -> [String: (lastScaleUp: Instant?, lastScaleDown: Instant?)] {
        let rows = try await session.query("""
            SELECT service, extract(epoch FROM last_scale_up)::float8 AS up, extract(epoch FROM last_scale_down)::float8 AS down
            FROM \(quoted).scaling_history
            """)
        var result: [String: (lastScaleUp: Instant?, lastScaleDown: Instant?)] = [:]
        for index in rows.rows.indices {
            guard let service = rows[index, "service"]?.string else { continue }
            let up = rows[index, "up"]?.double.map { Instant(secondsSinceEpoch: $0) }
            let down = rows[index, "down"]?.double.map { Instant(secondsSinceEpoch: $0) }
            result[service] = (up, down)
        }
        return result
    }

    public func loadActionTimes() async throws -> [String: ActionTimes] {
        try await loadHistory().mapValues { ActionTimes(lastScaleUp: $0.lastScaleUp, lastScaleDown: $0.lastScaleDown) }
    }

    static func json(_ figures: DecisionFigures) -> String {
        var object: [String: Any] = [
            "pending": figures.pending, "running": figures.running, "byBacklog": figures.byBacklog,
            "runningFloor": figures.runningFloor, "lowerBound": figures.lowerBound, "upperBound": figures.upperBound,
        ]
        if let busy = figures.busyWorkers { object["busyWorkers"] = busy }
        if let age = figures.oldestAge { object["oldestAgeSeconds"] = (age.inSeconds * 10).rounded() / 10 }
        if !figures.missingQueues.isEmpty { object["missingQueues"] = figures.missingQueues }
        if let latency = figures.byLatency { object["byLatency"] = latency }
        if let floor = figures.scheduleFloor { object["scheduleFloor"] = floor }
        if let predicted = figures.predicted { object["predicted"] = predicted }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
