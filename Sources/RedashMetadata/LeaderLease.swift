import AutoscalerCore
import Logging
import PostgresClient

/// Exactly one controller acts: the one holding a PostgreSQL session-level advisory lock on a
/// connection of its own. The lock lives exactly as long as that session, so a leader that dies,
/// is killed or loses its network releases it without anyone's help (the server notices a
/// vanished client through TCP keepalives, about 25 s). Standbys try to take it at every tick;
/// the leader checks at every tick, before acting, that its session still holds it, and steps
/// down at once when it does not. Takeover after a leader dies: one tick once the server has
/// dropped the session.
public actor LeaderLease: Leadership {
    let session: PostgresSession
    let key: Int64
    let holder: String
    let schema: String
    let logger: Logger
    public private(set) var isLeader = false

    /// `holder` names this instance in the leader row and logs (host name and process id, say).
    public init(store: ControllerStateStore, url: SecretURL, holder: String, logger: Logger = Logger(label: "leader-lease")) async {
        self.session = PostgresSession(url: url, statementTimeout: .seconds(5), applicationName: "redash-autoscaler lease", logger: logger)
        self.key = await store.lockKey
        self.schema = store.schema
        self.holder = holder
        self.logger = logger
    }

    /// Takes the lease if it is free, or confirms it is still held. Returns whether this
    /// instance leads now. Any doubt (a lost connection, an error) means "not leader".
    @discardableResult
    public func acquireOrConfirm(now: Instant) async -> Bool {
        do {
            if isLeader {
                let held = try await session.query("""
                    SELECT count(*) AS n FROM pg_locks
                    WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
                      AND ((classid::bigint << 32) | objid::bigint) = $1::bigint
                    """, [String(key)])[0, "n"]?.int ?? 0
                if held == 0 { return await stepDown("the lease session no longer holds the lock") }
            } else {
                let taken = try await session.query("SELECT pg_try_advisory_lock($1::bigint) AS taken", [String(key)])[0, "taken"]
                guard taken == .bool(true) else { return false }
                isLeader = true
                logger.notice("this controller is now the leader", metadata: ["holder": "\(holder)"])
            }
            _ = try await session.query("""
                INSERT INTO "\(schema)".leader (id, holder, acquired_at, heartbeat_at) VALUES (1, $1, to_timestamp($2::float8), to_timestamp($2::float8))
                ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, heartbeat_at = excluded.heartbeat_at,
                    acquired_at = CASE WHEN leader.holder = excluded.holder THEN leader.acquired_at ELSE excluded.acquired_at END
                """, [holder, String(now.secondsSinceEpoch)])
            return true
        } catch {
            if isLeader { return await stepDown("\(error)") }
            logger.debug("lease not taken", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Gives the lease up (at shutdown): the standby takes over at its next tick.
    public func release() async {
        guard isLeader else { return }
        isLeader = false
        _ = try? await session.query("SELECT pg_advisory_unlock($1::bigint)", [String(key)])
        await session.reset()
    }

    /// The backend pid of the lease session (tests terminate it to play a dead leader).
    public func backendPID() async throws -> Int {
        try await session.backendPID()
    }

    private func stepDown(_ reason: String) async -> Bool {
        isLeader = false
        logger.error("leadership lost; not acting until the lease is taken again", metadata: ["reason": "\(reason)"])
        // A fresh session for the next attempt: the old one may still hold the lock server-side.
        await session.reset()
        return false
    }
}
