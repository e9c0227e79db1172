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

    public func run() async throws {
        let route = self.route
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(Handler(route: route))
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

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let route: Route
        private var path = "/"
        private var method: HTTPMethod = .GET
        private var keepAlive = true

        init(route: @escaping Route) { self.route = route }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "/")
                method = head.method
                keepAlive = head.isKeepAlive
            case .body: break
            case .end:
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
            if !keepAlive {
                let channel = context.channel
                done.whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }
}
