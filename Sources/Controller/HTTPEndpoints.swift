import AutoscalerCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// `/healthz`, `/readyz`, `/metrics`, `/status` on a small NIO HTTP/1.1 server. Answers are made
/// by a closure per request, so the server knows nothing of the reconciler.
public struct HTTPEndpoints: Service, CustomStringConvertible {
    public struct Response: Sendable {
        public var status: HTTPResponseStatus
        public var contentType: String
        public var body: String

        public init(status: HTTPResponseStatus = .ok, contentType: String = "text/plain; charset=utf-8", body: String) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
    }

    public typealias Route = @Sendable (_ path: String) async -> Response

    let host: String
    let port: Int
    let route: Route
    let logger: Logger
    /// Where the server listens once bound (port 0 picks a free one), for tests.
    let bound: BoundAddress

    public final class BoundAddress: Sendable {
        private let value = Mutex<Int?>(nil)
        public init() {}
        public var port: Int? { value.withLock { $0 } }
        func set(_ port: Int?) { value.withLock { $0 = port } }
    }

    public init(host: String, port: Int, bound: BoundAddress = BoundAddress(), logger: Logger, route: @escaping Route) {
        self.host = host
        self.port = port
        self.route = route
        self.logger = logger
        self.bound = bound
    }

    public var description: String { "HTTPEndpoints(\(host):\(port))" }

    /// Limits that keep a flood of clients from starving the controller: connections at once,
    /// time to send a request head (slowloris), idle time on a kept-alive connection, and the
    /// size of a request (these endpoints take no body).
    public struct Limits: Sendable {
        public var connections = 64
        public var headTimeout: Duration = .seconds(5)
        public var idleTimeout: Duration = .seconds(15)
        public var maximumRequestBytes = 16 * 1024

        public init() {}
    }

    public var limits = Limits()
    /// Connections open now.
    let open = OpenConnections()

    /// A count of open connections, shared by the accept path and every channel's close.
    final class OpenConnections: Sendable {
        private let count = Atomic<Int>(0)
        /// Takes a slot; false when every slot is taken.
        func take(limit: Int) -> Bool {
            let now = count.add(1, ordering: .relaxed).newValue
            if now > limit {
                count.subtract(1, ordering: .relaxed)
                return false
            }
            return true
        }
        func give() { count.subtract(1, ordering: .relaxed) }
        var current: Int { count.load(ordering: .relaxed) }
    }

    public func run() async throws {
        let route = self.route
        let limits = self.limits
        let open = self.open
        let logger = self.logger
        let refused = Atomic<Int>(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                // Over the cap: closed at once, so that its descriptor is freed; the controller's
                // own connections (Redis, ECS, PostgreSQL) need descriptors more than a client.
                guard open.take(limit: limits.connections) else {
                    if refused.add(1, ordering: .relaxed).newValue % 100 == 1 {
                        logger.warning("HTTP connection limit reached; closing new connections", metadata: ["limit": "\(limits.connections)"])
                    }
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in open.give() }
                return channel.pipeline.addHandler(RequestLimiter(limits: limits)).flatMap {
                    channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                }.flatMap {
                    channel.pipeline.addHandler(Handler(route: route, idleTimeout: limits.idleTimeout))
                }
            }
            .bind(host: host, port: port).get()
        bound.set(channel.localAddress?.port)
        logger.info("HTTP endpoints listening", metadata: ["address": "\(host):\(channel.localAddress?.port ?? port)", "paths": "/healthz /readyz /metrics /status"])
        // Serve until the group shuts down, then stop accepting.
        try? await gracefulShutdown()
        try? await channel.close()
        bound.set(nil)
    }

    /// Bytes first: closes a connection whose request head has not arrived within
    /// `headTimeout` of its opening, or that sends more than `maximumRequestBytes` for one
    /// request. Lives on the channel's event loop only.
    final class RequestLimiter: ChannelDuplexHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        typealias OutboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let limits: Limits
        private var received = 0
        private var headTimer: Scheduled<Void>?

        init(limits: Limits) { self.limits = limits }

        func channelActive(context: ChannelHandlerContext) {
            armHeadTimer(context)
            context.fireChannelActive()
        }

        private func armHeadTimer(_ context: ChannelHandlerContext) {
            headTimer?.cancel()
            let channel = context.channel
            headTimer = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(limits.headTimeout.inSeconds * 1e9))) {
                channel.close(promise: nil)
            }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            received += buffer.readableBytes
            guard received <= limits.maximumRequestBytes else {
                context.close(promise: nil)
                return
            }
            context.fireChannelRead(data)
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            // A response is going out: the request is done; the next one gets a fresh budget
            // and is waited for by the idle timeout, not the head timeout.
            headTimer?.cancel()
            headTimer = nil
            received = 0
            context.write(data, promise: promise)
        }

        func channelInactive(context: ChannelHandlerContext) {
            headTimer?.cancel()
            context.fireChannelInactive()
        }
    }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let route: Route
        let idleTimeout: Duration
        private var path = "/"
        private var method: HTTPMethod = .GET
        private var keepAlive = true
        private var isAnswering = false
        private var idleTimer: Scheduled<Void>?

        init(route: @escaping Route, idleTimeout: Duration) {
            self.route = route
            self.idleTimeout = idleTimeout
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                // One request at a time: a client pipelining more is not one of ours.
                guard !isAnswering else {
                    context.close(promise: nil)
                    return
                }
                idleTimer?.cancel()
                path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "/")
                method = head.method
                keepAlive = head.isKeepAlive
            case .body: break
            case .end:
                isAnswering = true
                let path = self.path, method = self.method, keepAlive = self.keepAlive, route = self.route
                let loop = context.eventLoop
                let box = NIOLoopBound((context, self), eventLoop: loop)
                let promise = loop.makePromise(of: Response.self)
                promise.completeWithTask {
                    guard method == .GET || method == .HEAD else {
                        return Response(status: .methodNotAllowed, body: "GET only\n")
                    }
                    return await route(path)
                }
                promise.futureResult.whenComplete { result in
                    let (context, handler) = box.value
                    let response = (try? result.get()) ?? Response(status: .internalServerError, body: "error\n")
                    handler.write(response, context: context, keepAlive: keepAlive, includeBody: method != .HEAD)
                }
            }
        }

        private func write(_ response: Response, context: ChannelHandlerContext, keepAlive: Bool, includeBody: Bool) {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: response.contentType)
            headers.add(name: "Content-Length", value: String(response.body.utf8.count))
            headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))), promise: nil)
            if includeBody {
                var buffer = context.channel.allocator.buffer(capacity: response.body.utf8.count)
                buffer.writeString(response.body)
                context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            }
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            isAnswering = false
            let channel = context.channel
            if !keepAlive {
                done.whenComplete { _ in channel.close(promise: nil) }
            } else {
                // A kept-alive connection that asks nothing more is closed after a while.
                idleTimer = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(idleTimeout.inSeconds * 1e9))) {
                    channel.close(promise: nil)
                }
            }
        }
    }
}
