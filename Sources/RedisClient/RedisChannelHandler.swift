import NIOCore
import NIOSSL

/// A batch of commands sent in one write, answered by as many replies in order (pipelining).
struct RedisRequest: Sendable {
    var commands: [[String]]
    var promise: EventLoopPromise<[RESPValue]>
}

/// Encodes requests with hiredis and matches replies to them in order.
///
/// NIO calls a handler only on its channel's event loop, so its state needs no lock.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        var expected: Int
        var promise: EventLoopPromise<[RESPValue]>
    }

    private let reader = ReplyReader()
    /// In front of hiredis: no reply costs more than its limits, whatever a Redis writer stored.
    private var sizeGuard = ReplySizeGuard()
    private var pending = CircularBuffer<Pending>()
    /// Replies of the oldest pending request, kept outside the buffer: appending through
    /// CircularBuffer's subscript copied the array each time, which made a pipeline of n
    /// commands cost O(n²) (67 ms for 4,200 commands).
    private var collected: [RESPValue] = []
    private let server: String

    init(server: String) {
        self.server = server
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        var buffer = context.channel.allocator.buffer(capacity: 64 * request.commands.count)
        for command in request.commands { CommandEncoder.encode(command, into: &buffer) }
        pending.append(Pending(expected: request.commands.count, promise: request.promise))
        if request.commands.isEmpty {
            completeHead()
        }
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        do {
            // What precedes a protocol violation is still read: replies complete before it
            // answer their commands.
            var passed = ByteBuffer()
            var refusal: ReplyReaderError?
            do { try sizeGuard.filter(buffer, into: &passed) } catch { refusal = error }
            try reader.feed(passed)
            while let reply = try reader.next() {
                guard !pending.isEmpty else {
                    failAll(RedisError(.protocolViolation, server: server, "a reply arrived that no command asked for"))
                    context.close(promise: nil)
                    return
                }
                collected.append(reply)
                completeHead()
            }
            if let refusal { throw refusal }
        } catch {
            failAll(RedisError(.protocolViolation, server: server, "the server sent something that is not the Redis protocol (\((error as? ReplyReaderError)?.message ?? "\(error)"))"))
            context.close(promise: nil)
        }
    }

    private func completeHead() {
        while let head = pending.first, collected.count == head.expected {
            pending.removeFirst()
            let replies = collected
            collected = []
            head.promise.succeed(replies)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError(.connectionClosed, server: server, "the connection closed with \(pending.count) request(s) unanswered"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let failure: RedisError
        if let redisError = error as? RedisError {
            failure = redisError
        } else if error is NIOSSLError || error is BoringSSLError {
            failure = RedisError(.tls, server: server, "TLS failed: \(error)")
        } else {
            failure = RedisError(.connectionClosed, server: server, "connection error: \(error)")
        }
        failAll(failure)
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        collected = []
        while let head = pending.popFirst() { head.promise.fail(error) }
    }
}
