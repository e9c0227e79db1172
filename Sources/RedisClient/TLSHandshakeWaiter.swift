import NIOCore
import NIOSSL
import NIOTLS

/// Completes a promise when the TLS handshake finishes, or fails it with the handshake's error,
/// so that `connect` reports an untrusted certificate as a TLS error instead of a later, vaguer
/// "connection closed". Removes nothing and forwards everything.
final class TLSHandshakeWaiter: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let promise: EventLoopPromise<Void>
    private let server: String

    init(promise: EventLoopPromise<Void>, server: String) {
        self.promise = promise
        self.server = server
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { promise.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(RedisError(.tls, server: server, "TLS handshake failed: \(error)"))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(RedisError(.tls, server: server, "the server closed the connection during the TLS handshake"))
        context.fireChannelInactive()
    }
}
