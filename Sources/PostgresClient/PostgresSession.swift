import AutoscalerCore
import Logging

/// A connection that comes back: a statement that finds the connection lost reconnects (with
/// exponential backoff between attempts, so a dead database is not hammered) and reports the
/// failure; the next statement after the backoff tries again. Statements are serialised.
public actor PostgresSession {
    public let url: SecretURL
    let connectTimeout: Duration
    let statementTimeout: Duration
    let applicationName: String
    let logger: Logger
    private var connection: PostgresConnection?
    private var failures = 0
    private var retryAt: ContinuousClock.Instant?
    /// How soon a lost connection is tried again: 1 s doubling to 30 s unless told otherwise
    /// (the controller caps it at half its interval).
    public nonisolated let pacing: ReconnectPacing

    public init(
        url: SecretURL, connectTimeout: Duration = .seconds(5), statementTimeout: Duration = .seconds(10),
        applicationName: String = "redash-autoscaler", logger: Logger = Logger(label: "postgres"),
        pacing: ReconnectPacing = ReconnectPacing(first: .seconds(1), cap: .seconds(30))
    ) {
        self.pacing = pacing
        self.url = url
        self.connectTimeout = connectTimeout
        self.statementTimeout = statementTimeout
        self.applicationName = applicationName
        self.logger = logger
    }

    /// Runs a statement, connecting first when needed, and waits for it at most the client
    /// deadline (or `within`, when shorter). A cancelled task gets `CancellationError` at once,
    /// even from a statement under way (see `CallerWait`).
    public func query(_ sql: String, _ parameters: [String?] = [], within limit: Duration? = nil) async throws -> PostgresRows {
        try await run(sql, parameters, on: try await connected(), within: limit)
    }

    /// Runs a statement on the connection already open, if there is one, waiting at most
    /// `deadline` for it: for best-effort work at shutdown, which must wait neither for a
    /// reconnect nor for a full client deadline on a database that stopped answering. Throws at
    /// once when no connection is open (the last statement lost it).
    public func queryOnOpenConnection(_ sql: String, _ parameters: [String?] = [], within deadline: Duration) async throws -> PostgresRows {
        guard let connection else { throw PostgresError(.connectionLost, "no open connection to \(url); not reconnecting for this") }
        return try await run(sql, parameters, on: connection, within: deadline)
    }

    /// One statement on `connection`: a lost connection is dropped (the next statement
    /// reconnects, paced), a cancelled caller abandons it.
    private func run(_ sql: String, _ parameters: [String?], on connection: PostgresConnection, within limit: Duration?) async throws -> PostgresRows {
        do {
            return try await connection.query(sql, parameters, within: limit)
        } catch let error as PostgresError where error.kind == .connectionLost || error.kind == .connectionFailed {
            drop(after: error)
            throw error
        } catch let error as CancellationError {
            abandon(connection)
            throw error
        }
    }

    /// The backend process id of the current connection (for `pg_terminate_backend` in tests
    /// and in the lease's logs).
    public func backendPID() async throws -> Int {
        try await query("SELECT pg_backend_pid() AS pid")[0, "pid"]?.int ?? -1
    }

    /// Closes the connection; the next statement opens a new one.
    public func reset() {
        connection = nil
    }

    private func connected() async throws -> PostgresConnection {
        if let connection { return connection }
        if let retryAt, ContinuousClock.now < retryAt {
            throw PostgresError(.connectionFailed, "not reconnecting to \(url) before the backoff ends (after \(failures) failure(s))")
        }
        do {
            let fresh = try await PostgresConnection.connect(
                url: url, connectTimeout: connectTimeout, statementTimeout: statementTimeout, applicationName: applicationName,
                logger: logger)
            if failures > 0 { logger.notice("reconnected to PostgreSQL", metadata: ["server": "\(fresh.server)", "after": "\(failures) failure(s)"]) }
            failures = 0
            retryAt = nil
            connection = fresh
            return fresh
        } catch let error as CancellationError {
            // The caller went away: no failure of the server's, no backoff.
            throw error
        } catch {
            drop(after: error)
            throw error
        }
    }

    /// Forgets a connection whose statement its caller abandoned (a cancelled task): the
    /// statement may still be running there, so the next one goes to a new connection.
    private func abandon(_ abandoned: PostgresConnection) {
        if connection === abandoned { connection = nil }
    }

    private func drop(after error: any Error) {
        connection = nil
        failures += 1
        let delay = pacing.delay(afterFailures: failures)
        retryAt = ContinuousClock.now + delay
        logger.warning("PostgreSQL connection lost", metadata: ["error": "\(error)", "retryIn": "\(delay)"])
    }
}
