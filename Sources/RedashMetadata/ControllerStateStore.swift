import AutoscalerCore
import Foundation
import Logging
import PostgresClient

/// The controller's own state in its own schema of Redash's database (default
/// `redash_autoscaler`): a log of every decision, the last scale-up and scale-down per service
/// (so cooldowns survive a redeploy), and the leader row. Created and migrated at start,
/// idempotently, under a transaction-level advisory lock so that two controllers starting at once
/// do not race.
public actor ControllerStateStore: DecisionStore, HoldSource {
    public let schema: String
    let session: PostgresSession
    let logger: Logger

    /// One step of the schema: its statements, and the oldest schema version whose controllers
    /// can still run against the schema after it (additive changes leave older controllers
    /// working; a change to how leadership or decisions work does not).
    struct Migration {
        var statements: [String]
        var compatibleSince: Int
    }

    /// Each migration's index + 1 is its version. Never edit one that has shipped: add the next.
    static func migrations(_ s: String) -> [Migration] {
        [
            Migration(statements: [
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
            ], compatibleSince: 1),
            // The lease becomes an expiring row (a hung leader keeps a session lock for ever), with
            // a generation recorded beside each decision. A controller of version 1 would still
            // take the session lock and lead beside a version 2 one: not compatible.
            Migration(statements: [
                "ALTER TABLE \(s).leader ADD COLUMN IF NOT EXISTS generation bigint NOT NULL DEFAULT 0",
                "ALTER TABLE \(s).leader ADD COLUMN IF NOT EXISTS expires_at timestamptz NOT NULL DEFAULT now()",
                "ALTER TABLE \(s).decisions ADD COLUMN IF NOT EXISTS lease_generation bigint",
            ], compatibleSince: 2),
            // Operators' holds, and `paused` as a decision's mode. Additive: a version 2
            // controller ignores the table and never writes `paused`.
            Migration(statements: [
                "ALTER TABLE \(s).decisions DROP CONSTRAINT IF EXISTS decisions_mode_check",
                "ALTER TABLE \(s).decisions ADD CONSTRAINT decisions_mode_check CHECK (mode IN ('applied', 'dry-run', 'paused', 'failed', 'hold'))",
                """
                CREATE TABLE IF NOT EXISTS \(s).holds (
                    service text PRIMARY KEY,
                    tasks integer NOT NULL CHECK (tasks >= 0),
                    until timestamptz NOT NULL,
                    set_by text NOT NULL,
                    reason text NOT NULL DEFAULT '',
                    set_at timestamptz NOT NULL
                )
                """,
            ], compatibleSince: 2),
            // A lease per cluster: two controllers of different clusters on one database both
            // lead. The row of the one lease before (scope '') stays, so that a controller of the
            // previous version still running (a rolling deployment) keeps renewing it, and new
            // ones wait until it has expired. An older controller could no longer take a lease:
            // not compatible (it refuses to start rather than wait for ever).
            Migration(statements: [
                "ALTER TABLE \(s).leader ADD COLUMN IF NOT EXISTS scope text NOT NULL DEFAULT ''",
                "ALTER TABLE \(s).leader DROP CONSTRAINT IF EXISTS leader_pkey",
                "ALTER TABLE \(s).leader DROP CONSTRAINT IF EXISTS leader_id_check",
                "CREATE UNIQUE INDEX IF NOT EXISTS leader_scope ON \(s).leader (scope)",
            ], compatibleSince: 4),
            // How long each service's tasks take to start, learned from ECS, kept across restarts.
            // Additive: a version 4 controller ignores the table.
            Migration(statements: [
                """
                CREATE TABLE IF NOT EXISTS \(s).task_starts (
                    service text PRIMARY KEY,
                    samples double precision[] NOT NULL,
                    updated_at timestamptz NOT NULL
                )
                """,
            ], compatibleSince: 4),
            // `not-applied` as a decision's mode: a decision that was not sent (an outside change
            // waited out, a scale-in withheld, a standby), which `hold` used to say, the word of
            // an operator's hold. Additive: a version 5 controller still writes `hold`.
            Migration(statements: [
                "ALTER TABLE \(s).decisions DROP CONSTRAINT IF EXISTS decisions_mode_check",
                "ALTER TABLE \(s).decisions ADD CONSTRAINT decisions_mode_check CHECK (mode IN ('applied', 'dry-run', 'paused', 'failed', 'hold', 'not-applied'))",
            ], compatibleSince: 4),
        ]
    }


    /// `schema` must be a plain lower-case identifier: it is the one name written into SQL text
    /// (PostgreSQL cannot bind identifiers), so it is checked here and quoted.
    /// This controller's version, written beside each migration it applies and named when a
    /// schema is too new for it.
    let controllerVersion: String

    public init(
        session: PostgresSession, schema: String = "redash_autoscaler", controllerVersion: String = "unknown",
        logger: Logger = Logger(label: "controller-state")
    ) throws {
        self.controllerVersion = controllerVersion
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
    /// A schema newer than this controller knows is used when every newer migration is additive
    /// for it (its `compatible_since` is this controller's version or older: rolling back after
    /// an upgrade keeps a leader), and refused otherwise, saying which controller to run.
    @discardableResult
    public func migrate() async throws -> Int {
        let migrations = Self.migrations(quoted)
        _ = try await session.query("BEGIN")
        do {
            _ = try await session.query("SELECT pg_advisory_xact_lock($1::bigint)", [String(lockKey &+ 1)])
            _ = try await session.query("CREATE SCHEMA IF NOT EXISTS \(quoted)")
            _ = try await session.query("CREATE TABLE IF NOT EXISTS \(quoted).schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            _ = try await session.query("ALTER TABLE \(quoted).schema_migrations ADD COLUMN IF NOT EXISTS compatible_since integer")
            _ = try await session.query("ALTER TABLE \(quoted).schema_migrations ADD COLUMN IF NOT EXISTS applied_by text")
            let current = try await session.query("SELECT coalesce(max(version), 0) AS v FROM \(quoted).schema_migrations")[0, "v"]?.int ?? 0
            if current > migrations.count {
                let rows = try await session.query("""
                    SELECT coalesce(max(coalesce(compatible_since, version)), 0) AS needs, string_agg(DISTINCT applied_by, ', ') AS by
                    FROM \(quoted).schema_migrations WHERE version > $1::integer
                    """, [String(migrations.count)])
                let needs = rows[0, "needs"]?.int ?? current
                guard needs <= migrations.count else {
                    let by = rows[0, "by"]?.string.map { " (applied by redash-autoscaler \($0))" } ?? ""
                    throw MetadataError("schema \(schema) is at version \(current)\(by) and needs a controller that knows schema version \(needs); this one (\(controllerVersion)) knows \(migrations.count): run the newer controller, or a different state schema")
                }
                _ = try await session.query("COMMIT")
                logger.notice("state schema is newer than this controller, and compatible with it", metadata: [
                    "schema": "\(schema)", "version": "\(current)", "known": "\(migrations.count)",
                ])
                return current
            }
            for version in (current + 1)...max(current + 1, migrations.count) where version <= migrations.count {
                for statement in migrations[version - 1].statements { _ = try await session.query(statement) }
                _ = try await session.query(
                    "INSERT INTO \(quoted).schema_migrations (version, compatible_since, applied_by) VALUES ($1::integer, $2::integer, $3)",
                    [String(version), String(migrations[version - 1].compatibleSince), controllerVersion])
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

    /// The longest a reconcile waits for one statement of the decision log, the scaling history
    /// or the operators' holds, instead of the session's client deadline (12 s): these are single-row writes
    /// and reads, and a database that stopped answering must not hold the tick for long (the
    /// session's backoff then fails the tick's other statements at once).
    public static let tickStatementDeadline: Duration = .seconds(3)

    public func record(_ decision: Decision, mode: String, controller: String, generation: Int64?) async throws {
        _ = try await session.query("""
            INSERT INTO \(quoted).decisions (decided_at, service, from_count, to_count, reason_code, reason, observations, mode, controller, lease_generation)
            VALUES (to_timestamp($1::float8), $2, $3::integer, $4::integer, $5, $6, $7::jsonb, $8, $9, $10::bigint)
            """, [
                String(decision.at.secondsSinceEpoch), decision.service, decision.current.map(String.init), decision.desired.map(String.init),
                decision.code.rawValue, decision.reason, Self.json(decision.figures), mode, controller, generation.map(String.init),
            ], within: Self.tickStatementDeadline)
    }

    /// The latest `limit` decisions, newest first, optionally for one service and from `since`.
    public func recentDecisions(service: String? = nil, since: Instant? = nil, limit: Int = 50) async throws -> [LoggedDecision] {
        let rows = try await session.query("""
            SELECT extract(epoch FROM decided_at)::float8 AS at, service, from_count, to_count, reason_code, reason,
                   observations::text AS observations, mode, controller
            FROM \(quoted).decisions
            WHERE ($1::text IS NULL OR service = $1) AND ($3::float8 IS NULL OR decided_at >= to_timestamp($3::float8))
            ORDER BY decided_at DESC, id DESC LIMIT $2::integer
            """, [service, String(limit), since.map { String($0.secondsSinceEpoch) }])
        return rows.rows.indices.map { index in
            LoggedDecision(
                decidedAt: Instant(secondsSinceEpoch: rows[index, "at"]?.double ?? 0), service: rows[index, "service"]?.string ?? "",
                from: rows[index, "from_count"]?.int, to: rows[index, "to_count"]?.int,
                reasonCode: rows[index, "reason_code"]?.string ?? "", reason: rows[index, "reason"]?.string ?? "",
                observations: rows[index, "observations"]?.string ?? "{}", mode: rows[index, "mode"]?.string ?? "",
                controller: rows[index, "controller"]?.string ?? "")
        }
    }

    /// Sets (or replaces) the hold on `hold.service`.
    public func setHold(_ hold: OperatorHold) async throws {
        _ = try await session.query("""
            INSERT INTO \(quoted).holds (service, tasks, until, set_by, reason, set_at)
            VALUES ($1, $2::integer, to_timestamp($3::float8), $4, $5, to_timestamp($6::float8))
            ON CONFLICT (service) DO UPDATE SET tasks = excluded.tasks, until = excluded.until, set_by = excluded.set_by,
                reason = excluded.reason, set_at = excluded.set_at
            """, [
                hold.service, String(hold.tasks), String(hold.until.secondsSinceEpoch), hold.setBy, hold.reason,
                String(hold.setAt.secondsSinceEpoch),
            ])
    }

    /// Removes the hold on `service`; whether there was one in force at `now`.
    @discardableResult
    public func clearHold(service: String, now: Instant) async throws -> Bool {
        let rows = try await session.query(
            "DELETE FROM \(quoted).holds WHERE service = $1 RETURNING extract(epoch FROM until)::float8 AS until", [service])
        return rows.rows.indices.contains { (rows[$0, "until"]?.double ?? 0) > now.secondsSinceEpoch }
    }

    /// The holds that have not expired at `now`, by service.
    public func activeHolds(now: Instant) async throws -> [String: OperatorHold] {
        let rows = try await session.query("""
            SELECT service, tasks, extract(epoch FROM until)::float8 AS until, set_by, reason, extract(epoch FROM set_at)::float8 AS set_at
            FROM \(quoted).holds WHERE until > to_timestamp($1::float8)
            """, [String(now.secondsSinceEpoch)], within: Self.tickStatementDeadline)
        var holds: [String: OperatorHold] = [:]
        for index in rows.rows.indices {
            guard let service = rows[index, "service"]?.string, let tasks = rows[index, "tasks"]?.int,
                  let until = rows[index, "until"]?.double, until.isFinite else { continue }
            holds[service] = OperatorHold(
                service: service, tasks: tasks, until: Instant(secondsSinceEpoch: until), setBy: rows[index, "set_by"]?.string ?? "?",
                reason: rows[index, "reason"]?.string ?? "", setAt: Instant(secondsSinceEpoch: rows[index, "set_at"]?.double ?? 0))
        }
        return holds
    }

    /// Saves when a service was last scaled up and down.
    public func saveHistory(service: String, lastScaleUp: Instant?, lastScaleDown: Instant?, at now: Instant) async throws {
        _ = try await session.query("""
            INSERT INTO \(quoted).scaling_history (service, last_scale_up, last_scale_down, updated_at)
            VALUES ($1, to_timestamp($2::float8), to_timestamp($3::float8), to_timestamp($4::float8))
            ON CONFLICT (service) DO UPDATE SET last_scale_up = excluded.last_scale_up,
                last_scale_down = excluded.last_scale_down, updated_at = excluded.updated_at
            """, [service, lastScaleUp.map { String($0.secondsSinceEpoch) }, lastScaleDown.map { String($0.secondsSinceEpoch) }, String(now.secondsSinceEpoch)],
            within: Self.tickStatementDeadline)
    }

    public func saveStartTimes(service: String, samples: [Double], at now: Instant) async throws {
        let array = "{" + samples.filter(\.isFinite).map { String($0) }.joined(separator: ",") + "}"
        _ = try await session.query("""
            INSERT INTO \(quoted).task_starts (service, samples, updated_at) VALUES ($1, $2::float8[], to_timestamp($3::float8))
            ON CONFLICT (service) DO UPDATE SET samples = excluded.samples, updated_at = excluded.updated_at
            """, [service, array, String(now.secondsSinceEpoch)], within: Self.tickStatementDeadline)
    }

    public func loadStartTimes() async throws -> [String: [Double]] {
        let rows = try await session.query("SELECT service, array_to_string(samples, ',') AS samples FROM \(quoted).task_starts", within: Self.tickStatementDeadline)
        var result: [String: [Double]] = [:]
        for index in rows.rows.indices {
            guard let service = rows[index, "service"]?.string, let text = rows[index, "samples"]?.string else { continue }
            // Every number from the database is suspect: only plausible start times count.
            result[service] = text.split(separator: ",").compactMap { Double($0) }.filter { $0.isFinite && $0 >= 0 && $0 < 3600 }
        }
        return result
    }

    /// Last scale-up and scale-down per service, to restore cooldowns after a restart.
    public func loadHistory() async throws -> [String: (lastScaleUp: Instant?, lastScaleDown: Instant?)] {
        let rows = try await session.query("""
            SELECT service, extract(epoch FROM last_scale_up)::float8 AS up, extract(epoch FROM last_scale_down)::float8 AS down
            FROM \(quoted).scaling_history
            """, within: Self.tickStatementDeadline)
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
            // Unknown running jobs are null in the log, never 0.
            "pending": figures.pending, "running": figures.running.map { $0 as Any } ?? NSNull(), "byBacklog": figures.byBacklog,
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
