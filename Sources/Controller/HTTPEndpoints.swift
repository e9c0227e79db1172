import AutoscalerCore
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import ServiceLifecycle
import Synchronization

/// `/healthz`, `/readyz`, `/metrics`, `/status` and the page, on Hummingbird 2 (HTTP/1.1).
/// Answers are made by a closure per path, so the server knows nothing of the reconciler.
///
/// What a client can do to it is bounded, so that no client can take the controller out of
/// service (ECS restarts a task whose health check fails):
/// - connections: at most `Limits.connections` open, any more closed at once; of those, at most
///   `Limits.generalConnections` may ask for anything but `/healthz` and `/readyz`, so the health
///   check always finds a slot when clients hold every other one;
/// - time: a request must arrive whole within `requestTimeout` of the connection opening or of
///   the previous answer, and an answer must be written within `answerTimeout`; a slow client
///   never moves either deadline (a byte every second does not keep a connection);
/// - size: a request head over `maximumHeadBytes`, a request with a body, or more than
///   `maximumPipelined` requests sent ahead of their answers close the connection (with 413 for
///   a body); pipelined requests are answered in order.
public struct HTTPEndpoints: Service, CustomStringConvertible {
    public struct Response: Sendable {
        public var status: HTTPResponse.Status
        public var contentType: String
        public var body: ByteBuffer

        public init(status: HTTPResponse.Status = .ok, contentType: String = "text/plain; charset=utf-8", body: String) {
            self.init(status: status, contentType: contentType, bytes: ByteBuffer(string: body))
        }

        public init(status: HTTPResponse.Status = .ok, contentType: String, bytes: ByteBuffer) {
            self.status = status
            self.contentType = contentType
            self.body = bytes
        }

        /// The body as text, for tests and logs.
        public var text: String { String(buffer: body) }
    }

    public typealias Route = @Sendable (_ path: String) async -> Response

    /// The paths a health check asks for: served on a slot of their own.
    public static let healthPaths: Set<String> = ["/healthz", "/readyz"]

    /// What a client may take. The defaults hold for a task with the default file limit and a
    /// health check every 30 s.
    public struct Limits: Sendable {
        /// Connections open at once; any more are closed as they arrive, so that the
        /// controller's own connections (Redis, ECS, PostgreSQL) never run out of descriptors.
        public var connections = 192
        /// Connections that may ask for anything but the health paths. The rest are kept for
        /// `/healthz` and `/readyz`, and for connections that have not said what they want yet.
        public var generalConnections = 64
        /// From a connection's opening, or the end of its last answer, until its next request
        /// has arrived whole. A slow client does not extend it.
        public var requestTimeout: Duration = .seconds(5)
        /// From a request's arrival until its answer is written.
        public var answerTimeout: Duration = .seconds(10)
        /// Bytes of request head (request line and headers); these endpoints take no body.
        public var maximumHeadBytes = 16 * 1024
        /// Requests a client may send ahead of their answers.
        public var maximumPipelined = 4

        public init() {}
    }

    let host: String
    let port: Int
    let route: Route
    let logger: Logger
    public var limits: Limits
    /// Where the server listens once bound (port 0 picks a free one), for tests.
    let bound: BoundAddress
    /// Connections open now, shared by every connection's handlers.
    let budget: ConnectionBudget

    public final class BoundAddress: Sendable {
        private let value = Mutex<Int?>(nil)
        public init() {}
        public var port: Int? { value.withLock { $0 } }
        func set(_ port: Int?) { value.withLock { $0 = port } }
    }

    public init(
        host: String, port: Int, limits: Limits = Limits(), bound: BoundAddress = BoundAddress(), logger: Logger, route: @escaping Route
    ) {
        self.host = host
        self.port = port
        self.limits = limits
        self.route = route
        self.logger = logger
        self.bound = bound
        self.budget = ConnectionBudget(limits: limits, logger: logger)
    }

    public var description: String { "HTTPEndpoints(\(host):\(port))" }

    /// The Hummingbird application: one responder for every path, the guarded HTTP/1.1 channel.
    /// Tests drive it through HummingbirdTesting.
    public func application() -> some ApplicationProtocol {
        let limits = self.limits, budget = self.budget, bound = self.bound, logger = self.logger
        let host = self.host
        return Application(
            responder: PathResponder(route: route),
            server: HTTPServerBuilder { responder in
                GuardedHTTP1Channel(responder: responder, limits: limits, budget: budget)
            },
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil, backlog: 256),
            onServerRunning: { channel in
                bound.set(channel.localAddress?.port)
                logger.info("HTTP endpoints listening", metadata: [
                    "address": "\(host):\(channel.localAddress?.port ?? 0)", "paths": "/ /healthz /readyz /metrics /status",
                ])
            },
            logger: logger.silenced(below: .warning)
        )
    }

    public func run() async throws {
        defer { bound.set(nil) }
        try await application().run()
    }

    /// Every path goes to the route; only GET and HEAD are answered.
    struct PathResponder: HTTPResponder {
        typealias Context = BasicRequestContext
        let route: Route

        func respond(to request: Request, context: BasicRequestContext) async throws -> Hummingbird.Response {
            guard request.method == .get || request.method == .head else {
                var headers = HTTPFields()
                headers[.allow] = "GET, HEAD"
                headers[.contentType] = "text/plain; charset=utf-8"
                headers[.cacheControl] = "no-store"
                return .init(status: .methodNotAllowed, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "GET only\n")))
            }
            let answer = await route(request.uri.path)
            var headers = HTTPFields()
            headers[.contentType] = answer.contentType
            headers[.contentLength] = String(answer.body.readableBytes)
            headers[.cacheControl] = "no-store"
            let body: ResponseBody = request.method == .head ? .init() : .init(byteBuffer: answer.body)
            return .init(status: answer.status, headers: headers, body: body)
        }
    }
}

extension Logger {
    /// The same logger, quieter: Hummingbird logs each connection's failures at debug and trace,
    /// which say nothing an operator can act on.
    func silenced(below level: Logger.Level) -> Logger {
        var copy = self
        if copy.logLevel < level { copy.logLevel = level }
        return copy
    }
}

/// Connections open and connections asking for more than the health paths, counted across every
/// connection's handlers (on whichever event loop each runs).
final class ConnectionBudget: Sendable {
    let limits: HTTPEndpoints.Limits
    let logger: Logger
    private let open = Atomic<Int>(0)
    private let general = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)

    init(limits: HTTPEndpoints.Limits, logger: Logger) {
        self.limits = limits
        self.logger = logger
    }

    /// Takes a connection slot; false when every slot is taken.
    func openConnection() -> Bool {
        take(open, limit: limits.connections, refusal: "HTTP connection limit reached; closing new connections")
    }

    func closeConnection() { open.subtract(1, ordering: .relaxed) }

    /// Takes a slot for a request other than the health paths; false when they are all taken.
    func takeGeneral() -> Bool {
        take(general, limit: limits.generalConnections, refusal: "HTTP connections busy; answering 503 to all but /healthz and /readyz")
    }

    /// One slot of `counter`, or, past `limit`, none and the refusal noted.
    private func take(_ counter: borrowing Atomic<Int>, limit: Int, refusal: Logger.Message) -> Bool {
        guard counter.add(1, ordering: .relaxed).newValue <= limit else {
            counter.subtract(1, ordering: .relaxed)
            noteRefusal(refusal, limit: limit)
            return false
        }
        return true
    }

    func giveGeneral() { general.subtract(1, ordering: .relaxed) }

    var openConnections: Int { open.load(ordering: .relaxed) }
    var generalConnections: Int { general.load(ordering: .relaxed) }

    /// One line for the first refusal and every hundredth after it: a flood does not flood the log.
    private func noteRefusal(_ message: Logger.Message, limit: Int) {
        if refused.add(1, ordering: .relaxed).newValue % 100 == 1 {
            logger.warning(message, metadata: ["limit": "\(limit)"])
        }
    }
}

/// Hummingbird's HTTP/1.1 channel with the endpoints' guards: `WireGuard` in front of the HTTP
/// decoder (connection slots, bytes), `RequestGuard` behind it (deadlines, bodies, health slots).
struct GuardedHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value
    let inner: HTTP1Channel
    let limits: HTTPEndpoints.Limits
    let budget: ConnectionBudget

    init(responder: @escaping HTTPChannelHandler.Responder, limits: HTTPEndpoints.Limits, budget: ConnectionBudget) {
        var configuration = HTTP1Channel.Configuration(
            additionalChannelHandlers: [RequestGuard(limits: limits, budget: budget)],
            idleTimeout: nil,
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: limits.maximumHeadBytes, maxHeaderListSize: limits.maximumHeadBytes, maxHeaderFieldCount: 100)
        )
        configuration.idleTimeout = nil
        self.inner = HTTP1Channel(responder: responder, configuration: configuration)
        self.limits = limits
        self.budget = budget
    }

    var responder: HTTPChannelHandler.Responder { inner.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandler(WireGuard(limits: limits, budget: budget), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// Bytes first: a connection over the cap is closed as it opens; a client that sends more than
/// a few request heads' worth of bytes without reading an answer is closed. Lives on the
/// channel's event loop only.
final class WireGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let limits: HTTPEndpoints.Limits
    let budget: ConnectionBudget
    private var counted = false
    private var received = 0

    init(limits: HTTPEndpoints.Limits, budget: ConnectionBudget) {
        self.limits = limits
        self.budget = budget
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        context.fireChannelActive()
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard !counted else { return }
        guard budget.openConnection() else {
            context.close(promise: nil)
            return
        }
        counted = true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += unwrapInboundIn(data).readableBytes
        // The heads of every request a client may have outstanding, and no more.
        guard received <= limits.maximumHeadBytes * (limits.maximumPipelined + 1) else {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // An answer is going out: the client has been heard.
        received = 0
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { release() }

    private func release() {
        guard counted else { return }
        counted = false
        budget.closeConnection()
    }
}

/// Requests: deadlines a slow client cannot move, no bodies, a bound on pipelining, and the
/// general slots that keep room for the health paths. Lives on the channel's event loop only.
final class RequestGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let limits: HTTPEndpoints.Limits
    let budget: ConnectionBudget
    /// Requests arrived whole, and answers written.
    private var received = 0, answered = 0
    private var holdsGeneralSlot = false
    private var deadline: Scheduled<Void>?
    private var refusing = false

    init(limits: HTTPEndpoints.Limits, budget: ConnectionBudget) {
        self.limits = limits
        self.budget = budget
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, limits.requestTimeout) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context, limits.requestTimeout)
        context.fireChannelActive()
    }

    /// Closes the connection `after` from now unless something re-arms it first.
    private func arm(_ context: ChannelHandlerContext, _ after: Duration) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(after.inSeconds * 1e9))) {
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refusing else { return }
        let part = unwrapInboundIn(data)
        switch part {
        case .head(let head):
            if received - answered >= limits.maximumPipelined {
                context.close(promise: nil)
                return
            }
            let path = String((head.path ?? "/").split(separator: "?", maxSplits: 1).first ?? "/")
            if head.headerFields[.transferEncoding] != nil || (head.headerFields[.contentLength].flatMap { Int($0) } ?? 0) > 0 {
                refuse(context, .contentTooLarge, "these endpoints take no request body\n")
                return
            }
            if !HTTPEndpoints.healthPaths.contains(path), !holdsGeneralSlot {
                guard budget.takeGeneral() else {
                    refuse(context, .serviceUnavailable, "busy: too many connections; /healthz and /readyz stay available\n")
                    return
                }
                holdsGeneralSlot = true
            }
        case .body:
            break
        case .end:
            received += 1
            // The client is heard: from now the server owes an answer, on its own deadline.
            if received - answered == 1 { arm(context, limits.answerTimeout) }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        let written = promise ?? context.eventLoop.makePromise()
        context.write(data, promise: written)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        written.futureResult.whenSuccess {
            let (handler, context) = loopBound.value
            handler.answerWritten(context)
        }
    }

    private func answerWritten(_ context: ChannelHandlerContext) {
        answered += 1
        if refusing {
            context.close(promise: nil)
        } else if received > answered {
            arm(context, limits.answerTimeout)
        } else {
            // Nothing owed: the next request must arrive whole within the request timeout.
            arm(context, limits.requestTimeout)
        }
    }

    /// Answers `status` and closes, when nothing else is owed on the connection; closes at once
    /// when an earlier pipelined answer is still due (its writer would interleave).
    private func refuse(_ context: ChannelHandlerContext, _ status: HTTPResponse.Status, _ text: String) {
        refusing = true
        guard received == answered else {
            context.close(promise: nil)
            return
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.contentLength] = String(text.utf8.count)
        headers[.connection] = "close"
        headers[.cacheControl] = "no-store"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(string: text))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { release() }

    private func release() {
        deadline?.cancel()
        deadline = nil
        if holdsGeneralSlot {
            holdsGeneralSlot = false
            budget.giveGeneral()
        }
    }
}
