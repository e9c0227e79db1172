import AutoscalerCore
import Logging
import NIOCore
import NIOPosix

/// A Redis client that keeps one connection and reopens it with exponential backoff (paced by
/// `ReconnectPacing`: 0.5 s doubling to 30 s for a one-shot command, capped at half the interval
/// in the controller).
///
/// A call never waits for a reconnect attempt that the backoff forbids: it fails at once with
/// the last error, so a dead Redis costs a reconcile loop nothing.
public actor RedisClient {
    public nonisolated let endpoint: RedisEndpoint
    let timeouts: RedisTimeouts
    let logger: Logger
    let group: any EventLoopGroup
    private var connection: RedisConnection?
    private var consecutiveFailures = 0
    private var retryAfter: ContinuousClock.Instant?
    private var lastError: RedisError?
    /// When "redis unavailable" was last logged: once when an outage starts, then once a minute,
    /// not at every reconnect attempt.
    private var lastWarned: ContinuousClock.Instant?
    static let warningEvery: Duration = .seconds(60)
    /// Round trips made so far (for the probe benchmark and metrics).
    public private(set) var roundTrips = 0

    /// How soon a lost connection is tried again.
    public nonisolated let pacing: ReconnectPacing
    /// What the backoff and the outage log are timed by.
    let clock: any MonotonicClock

    /// The pacing of a one-shot command: 0.5 s doubling to 30 s.
    public static func defaultPacing() -> ReconnectPacing { ReconnectPacing(first: .milliseconds(500), cap: .seconds(30)) }

    public init(
        endpoint: RedisEndpoint, timeouts: RedisTimeouts = RedisTimeouts(), logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, pacing: ReconnectPacing = RedisClient.defaultPacing(),
        clock: any MonotonicClock = ContinuousClock()
    ) {
        self.pacing = pacing
        self.clock = clock
        self.endpoint = endpoint
        self.timeouts = timeouts
        self.logger = logger
        self.group = group
    }

    /// Sends `commands` in one round trip; one reply per command.
    public func pipeline(_ commands: [[String]]) async throws -> [RESPValue] {
        let connection = try await openConnection()
        do {
            let replies = try await connection.send(commands)
            roundTrips += 1
            return replies
        } catch {
            let failure = error as? RedisError
                ?? RedisError(.connectionClosed, server: endpoint.server, "\(error)")
            await drop(connection, after: failure)
            throw failure
        }
    }

    /// Closes the connection.
    public func close() async {
        await connection?.close()
        connection = nil
    }

    private func openConnection() async throws -> RedisConnection {
        if let connection, connection.isOpen { return connection }
        connection = nil
        if let retryAfter, clock.now < retryAfter, let lastError {
            throw RedisError(.backingOff, server: endpoint.server, "not retrying yet after: \(lastError.message)")
        }
        do {
            let opened = try await RedisConnection.connect(to: endpoint, timeouts: timeouts, group: group)
            if consecutiveFailures > 0 {
                logger.info("redis reconnected", metadata: ["redis.server": "\(endpoint.server)", "redis.failures": "\(consecutiveFailures)"])
            }
            consecutiveFailures = 0
            lastWarned = nil
            retryAfter = nil
            lastError = nil
            connection = opened
            return opened
        } catch {
            let failure = error as? RedisError ?? RedisError(.connectionFailed, server: endpoint.server, "\(error)")
            await drop(nil, after: failure)
            throw failure
        }
    }

    private func drop(_ failed: RedisConnection?, after error: RedisError) async {
        if let failed { await failed.close() }
        connection = nil
        consecutiveFailures += 1
        lastError = error
        let delay = pacing.delay(afterFailures: consecutiveFailures)
        let now = clock.now
        retryAfter = now + delay
        guard lastWarned.map({ now - $0 >= Self.warningEvery }) ?? true else { return }
        lastWarned = now
        logger.warning("redis unavailable", metadata: [
            "redis.server": "\(endpoint.server)", "error.kind": "\(error.kind.rawValue)",
            "error": "\(error.message)", "retry.in": "\(delay)", "redis.failures": "\(consecutiveFailures)",
            "repeats": "logged again once a minute while it lasts",
        ])
    }
}
