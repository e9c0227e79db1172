import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// Timeouts for one Redis server.
public struct RedisTimeouts: Sendable, Equatable {
    /// TCP (and TLS) connect, AUTH and SELECT together.
    public var connect: Duration
    /// One pipelined request, from write to the last reply.
    public var command: Duration

    public init(connect: Duration = .seconds(2), command: Duration = .seconds(2)) {
        self.connect = connect
        self.command = command
    }
}

/// One open connection: sends pipelined commands and waits for their replies, within a timeout.
/// A timed-out or failed connection is closed; open a new one.
public final class RedisConnection: Sendable {
    let channel: any Channel
    public let endpoint: RedisEndpoint
    let timeouts: RedisTimeouts

    private init(channel: any Channel, endpoint: RedisEndpoint, timeouts: RedisTimeouts) {
        self.channel = channel
        self.endpoint = endpoint
        self.timeouts = timeouts
    }

    /// Connects, authenticates and selects the database.
    public static func connect(
        to endpoint: RedisEndpoint, timeouts: RedisTimeouts = RedisTimeouts(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> RedisConnection {
        let server = endpoint.server
        var sslContext: NIOSSLContext?
        if endpoint.usesTLS {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if !endpoint.verifiesCertificate { configuration.certificateVerification = .none }
            if let caFile = endpoint.caFile {
                do {
                    configuration.trustRoots = .file(caFile)
                    sslContext = try NIOSSLContext(configuration: configuration)
                } catch {
                    throw RedisError(.tls, server: server, "cannot load the CA file \(caFile): \(error)")
                }
            } else {
                sslContext = try? NIOSSLContext(configuration: configuration)
            }
            if sslContext == nil { throw RedisError(.tls, server: server, "cannot set up TLS") }
        }
        let hostname = endpoint.host
        let tlsContext = sslContext
        let handshake = group.next().makePromise(of: Void.self)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(timeouts.connect))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        // SNI only for names, never for IP addresses.
                        let isAddress = hostname.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" }
                        let tls = try NIOSSLClientHandler(context: tlsContext, serverHostname: isAddress ? nil : hostname)
                        try channel.pipeline.syncOperations.addHandler(tls)
                        try channel.pipeline.syncOperations.addHandler(TLSHandshakeWaiter(promise: handshake, server: server))
                    }
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(server: server))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            // Every promise must be completed, or NIO reports it leaked.
            handshake.fail(error)
            throw connectFailure(error, server: server, timeouts: timeouts)
        }
        if sslContext != nil {
            let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeouts.connect)) {
                handshake.fail(RedisError(.timeout, server: server, "TLS handshake timed out after \(timeouts.connect)"))
            }
            do {
                try await handshake.futureResult.get()
                timer.cancel()
            } catch {
                timer.cancel()
                try? await channel.close()
                throw error as? RedisError ?? RedisError(.tls, server: server, "TLS handshake failed: \(error)")
            }
        } else {
            handshake.succeed()
        }
        let connection = RedisConnection(channel: channel, endpoint: endpoint, timeouts: timeouts)
        do {
            try await connection.handshake()
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    private static func connectFailure(_ error: any Error, server: String, timeouts: RedisTimeouts) -> RedisError {
        if let channelError = error as? ChannelError, case .connectTimeout = channelError {
            return RedisError(.timeout, server: server, "connect timed out after \(timeouts.connect)")
        }
        return RedisError(.connectionFailed, server: server, "cannot connect: \(describe(error))")
    }

    private func handshake() async throws {
        var commands: [[String]] = []
        if let password = endpoint.password {
            commands.append(endpoint.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        if endpoint.database != 0 { commands.append(["SELECT", String(endpoint.database)]) }
        guard !commands.isEmpty else { return }
        let replies = try await send(commands, timeout: timeouts.connect)
        var index = 0
        if endpoint.password != nil {
            if let message = replies[index].errorMessage {
                // Redis' own words ("WRONGPASS invalid username-password pair") name no secret.
                throw RedisError(.authenticationFailed, server: endpoint.server, "AUTH was refused: \(message)")
            }
            index += 1
        }
        if endpoint.database != 0, let message = replies[index].errorMessage {
            throw RedisError(.databaseSelectionFailed, server: endpoint.server, "SELECT \(endpoint.database) was refused: \(message)")
        }
    }

    /// Sends `commands` in one write and returns one reply per command, in order. Error replies
    /// are values (`.error`), not thrown: one bad key must not hide the other replies.
    public func send(_ commands: [[String]], timeout: Duration? = nil) async throws -> [RESPValue] {
        let limit = timeout ?? timeouts.command
        let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
        let timedOut = NIOLockedValueBox(false)
        let channel = self.channel
        let server = endpoint.server
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(limit)) {
            timedOut.withLockedValue { $0 = true }
            // Fail the request here too: when the channel closed before the handler saw the
            // request (a TLS handshake that failed first), nothing else would ever complete it.
            // NIO ignores the second completion when the handler got there first.
            promise.fail(RedisError(.timeout, server: server, "timed out"))
            channel.close(promise: nil)
        }
        channel.writeAndFlush(RedisRequest(commands: commands, promise: promise)).whenFailure { error in
            promise.fail(RedisError(.connectionClosed, server: server, "cannot send: \(RedisConnection.describe(error))"))
        }
        do {
            let replies = try await promise.futureResult.get()
            timer.cancel()
            return replies
        } catch {
            timer.cancel()
            if timedOut.withLockedValue({ $0 }) {
                throw RedisError(.timeout, server: endpoint.server,
                                 "no reply to \(commands.count) command(s) within \(limit)")
            }
            if let redisError = error as? RedisError { throw redisError }
            throw RedisError(.connectionClosed, server: endpoint.server, Self.describe(error))
        }
    }

    /// True until the connection closes.
    public var isOpen: Bool { channel.isActive }

    /// Closes the connection.
    public func close() async {
        try? await channel.close()
    }

    static func describe(_ error: any Error) -> String {
        if let ioError = error as? IOError { return ioError.description }
        return "\(error)"
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let parts = duration.components
        self = .nanoseconds(parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000)
    }
}
