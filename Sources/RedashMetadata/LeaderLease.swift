import AutoscalerCore
import Logging
import PostgresClient

/// Exactly one controller writes: the holder of an expiring lease, a row in the controller's
/// schema (`leader`: holder, generation, expires_at) that the leader renews every tick.
///
/// Why a row and not a session lock: a hung leader (stopped, starved) keeps its database session
/// alive, so a session lock would never pass to a standby; a row with an expiry does.
///
/// The fencing rule, enforced by the controller alone (ECS takes no token):
/// - the database's clock decides expiry: a standby takes the lease only once `expires_at` has
///   passed by the database's `now()`;
/// - the leader counts its lease from just before it sent the renewal, by its own monotonic
///   clock, and takes `safety` off: its lease ends, locally, before the database's can;
/// - before every write the applier asks `writeWindow()`: a write gets at most that long (its
///   hard deadline), and none starts when less than `minimumWrite` is left;
/// - a new leader waits `takeoverGuard` (longer than any write's deadline) before its first
///   write, so that a write its predecessor had in flight when the lease lapsed has landed.
/// A leader that cannot renew keeps writing only until its local lease ends, then steps down.
public actor LeaderLease: Leadership {
    let session: PostgresSession
    let holder: String
    let schema: String
    let logger: Logger
    /// How long a lease lasts from a renewal: three ticks of the default 5 s interval.
    public let duration: Duration
    /// Taken off the local lease: the delay between sending a renewal and the database stamping it.
    public let safety: Duration
    /// How long a new leader waits before its first write.
    public let takeoverGuard: Duration
    /// The least time a write may be given.
    public static let minimumWrite: Duration = .seconds(1)
    /// The longest the release at shutdown waits for the database.
    public static let releaseDeadline: Duration = .seconds(1)

    private var generation: Int64?
    /// What the local side of the lease is counted by (its validity, the takeover guard); the
    /// database's expiry is PostgreSQL's own `now()`.
    let clock: any MonotonicClock
    private var validUntil: ContinuousClock.Instant?
    private var firstWriteAt: ContinuousClock.Instant?

    /// What the lease is for: the cluster the controller manages. Controllers of different
    /// clusters on one database each hold their own.
    let scope: String

    /// `holder` names this instance in the leader row and logs (host name and process id, say);
    /// `scope` is the cluster it manages.
    public init(
        store: ControllerStateStore, url: SecretURL, holder: String, scope: String, duration: Duration = .seconds(15), safety: Duration = .seconds(2),
        takeoverGuard: Duration = .seconds(6), logger: Logger = Logger(label: "leader-lease"),
        pacing: ReconnectPacing = ReconnectPacing(first: .seconds(1), cap: .seconds(30)), clock: any MonotonicClock = ContinuousClock(),
        statementTimeout: Duration = .seconds(2)
    ) async {
        self.clock = clock
        // Statements of the lease are short: a client deadline of 2 s + 2 s, and a reconnect of
        // 3 s at most, far inside the lease; a tick on an unreachable database waits that long.
        // (A test sets a long one, to tell the release's own deadline from it on a loaded machine.)
        self.session = PostgresSession(
            url: url, connectTimeout: .seconds(3), statementTimeout: statementTimeout, applicationName: "redash-autoscaler lease", logger: logger,
            pacing: pacing)
        self.schema = store.schema
        self.holder = holder
        self.scope = scope
        self.duration = duration
        self.safety = safety
        self.takeoverGuard = takeoverGuard
        self.logger = logger
    }

    /// Whether this instance leads now (by its own clock).
    public var isLeader: Bool { generation != nil && (validUntil.map { clock.now < $0 } ?? false) }

    public func acquireOrConfirm(now: Instant) async -> LeaseStatus {
        let sentAt = clock.now
        let seconds = String(duration.inSeconds)
        do {
            if let current = generation {
                let rows = try await session.query("""
                    UPDATE "\(schema)".leader SET expires_at = now() + make_interval(secs => $3::float8), heartbeat_at = now()
                    WHERE scope = $4 AND holder = $1 AND generation = $2::bigint RETURNING generation
                    """, [holder, String(current), seconds, scope])
                guard rows.rows.count == 1 else { return stepDown("another controller holds the lease now") }
                validUntil = sentAt + duration - safety
                return LeaseStatus(isLeader: true, generation: current)
            }
            // Not while the lease of a controller before leases per cluster (scope '') holds.
            let rows = try await session.query("""
                INSERT INTO "\(schema)".leader (id, scope, holder, generation, acquired_at, heartbeat_at, expires_at)
                SELECT 0, $3, $1, 1, now(), now(), now() + make_interval(secs => $2::float8)
                WHERE NOT EXISTS (SELECT 1 FROM "\(schema)".leader WHERE scope = '' AND expires_at >= now())
                ON CONFLICT (scope) DO UPDATE SET holder = excluded.holder, generation = leader.generation + 1, acquired_at = now(),
                    heartbeat_at = now(), expires_at = excluded.expires_at
                WHERE leader.expires_at < now()
                RETURNING generation
                """, [holder, seconds, scope])
            guard let taken = rows.rows.first.flatMap({ _ in rows[0, "generation"]?.int }) else { return LeaseStatus(isLeader: false) }
            generation = Int64(taken)
            validUntil = sentAt + duration - safety
            firstWriteAt = clock.now + takeoverGuard
            logger.notice("this controller is now the leader", metadata: [
                "holder": "\(holder)", "generation": "\(taken)", "firstWriteIn": "\(takeoverGuard)",
            ])
            return LeaseStatus(isLeader: true, generation: Int64(taken))
        } catch {
            // Cannot renew: lead on only while the lease surely holds, writing nothing after.
            if let current = generation, let validUntil, clock.now < validUntil {
                logger.warning("cannot renew the lease; leading until it runs out", metadata: [
                    "error": "\(error)", "leftSeconds": "\((validUntil - clock.now).inSeconds)",
                ])
                return LeaseStatus(isLeader: true, generation: current)
            }
            if generation != nil { return stepDown("\(error)") }
            logger.debug("lease not taken", metadata: ["error": "\(error)"])
            return LeaseStatus(isLeader: false)
        }
    }

    public func writeWindow() async -> Duration? {
        guard generation != nil, let validUntil else { return nil }
        let now = clock.now
        if let firstWriteAt, now < firstWriteAt { return nil }
        let left = validUntil - now
        guard left >= Self.minimumWrite else {
            if left <= .zero { _ = stepDown("the lease ran out before it could be renewed (this process stalled?)") }
            return nil
        }
        return left
    }

    /// Gives the lease up at shutdown: a standby takes over at its next tick (and waits its guard).
    /// Best effort, within `releaseDeadline` and only on the connection already open: shutdown
    /// must end within its grace even when the database stopped answering (a reconnect alone
    /// could take the connect timeout), and a lease not given up simply expires.
    public func release() async {
        guard let current = generation else { return }
        generation = nil
        validUntil = nil
        _ = try? await session.queryOnOpenConnection(
            "UPDATE \"\(schema)\".leader SET expires_at = now() WHERE scope = $3 AND holder = $1 AND generation = $2::bigint", [holder, String(current), scope],
            within: Self.releaseDeadline)
        await session.reset()
    }

    /// The backend pid of the lease session (tests stop or terminate it).
    public func backendPID() async throws -> Int {
        try await session.backendPID()
    }

    private func stepDown(_ reason: String) -> LeaseStatus {
        generation = nil
        validUntil = nil
        firstWriteAt = nil
        logger.error("leadership lost; not writing until the lease is taken again", metadata: ["reason": "\(reason)"])
        return LeaseStatus(isLeader: false)
    }
}
