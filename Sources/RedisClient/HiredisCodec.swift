import CHiredis
import NIOCore

/// Formats commands with hiredis' `redisFormatCommandArgv`. Arguments are binary-safe.
enum CommandEncoder {
    static func encode(_ arguments: [String], into buffer: inout ByteBuffer) {
        let count = arguments.count
        let argv = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: count)
        let lengths = UnsafeMutablePointer<Int>.allocate(capacity: count)
        var copies: [UnsafeMutablePointer<CChar>] = []
        copies.reserveCapacity(count)
        defer {
            copies.forEach { $0.deallocate() }
            argv.deallocate()
            lengths.deallocate()
        }
        for (index, argument) in arguments.enumerated() {
            let bytes = Array(argument.utf8)
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, bytes.count))
            bytes.withUnsafeBufferPointer { source in
                source.withMemoryRebound(to: CChar.self) { copy.update(from: $0.baseAddress!, count: bytes.count) }
            }
            copies.append(copy)
            argv[index] = UnsafePointer(copy)
            lengths[index] = bytes.count
        }
        var target: UnsafeMutablePointer<CChar>?
        let length = redisFormatCommandArgv(&target, Int32(count), argv, lengths)
        guard length > 0, let target else { return }
        defer { redisFreeCommand(target) }
        buffer.writeBytes(UnsafeRawBufferPointer(start: target, count: Int(length)))
    }
}

/// hiredis' incremental reply parser. Each reply is copied into a `RESPValue` and freed before
/// `next()` returns, so no hiredis pointer leaves this type.
///
/// Not thread-safe: it lives in one channel handler, which NIO only calls on its event loop.
/// Package-visible for the fuzz harness, which feeds it bytes that no server sent.
package final class ReplyReader {
    private let reader: UnsafeMutablePointer<redisReader>

    package init() {
        reader = redisReaderCreate()
    }

    deinit {
        redisReaderFree(reader)
    }

    /// Hands bytes read from the socket to the parser.
    package func feed(_ buffer: ByteBuffer) throws(ReplyReaderError) {
        let status = buffer.withUnsafeReadableBytes { bytes -> Int32 in
            guard let base = bytes.baseAddress, bytes.count > 0 else { return REDIS_OK }
            return redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        if status != REDIS_OK { throw ReplyReaderError(message: errorText()) }
    }

    /// The next complete reply, or `nil` when more bytes are needed.
    package func next() throws(ReplyReaderError) -> RESPValue? {
        var reply: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &reply) == REDIS_OK else {
            throw ReplyReaderError(message: errorText())
        }
        guard let reply else { return nil }
        defer { freeReplyObject(reply) }
        return Self.copy(reply.assumingMemoryBound(to: redisReply.self))
    }

    private static func copy(_ reply: UnsafeMutablePointer<redisReply>) -> RESPValue {
        let value = reply.pointee
        func text() -> [UInt8] {
            guard let str = value.str, value.len > 0 else { return [] }
            return Array(UnsafeRawBufferPointer(start: str, count: Int(value.len)))
        }
        switch value.type {
        case REDIS_REPLY_STRING: return .bulkString(text())
        case REDIS_REPLY_STATUS: return .simpleString(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: return .integer(Int(value.integer))
        case REDIS_REPLY_NIL: return .null
        case REDIS_REPLY_ARRAY:
            guard let elements = value.element else { return .array([]) }
            return .array((0..<Int(value.elements)).map { copy(elements[$0]!) })
        default: return .null
        }
    }

    private func errorText() -> String {
        withUnsafeBytes(of: reader.pointee.errstr) { bytes in
            let text = bytes.prefix { $0 != 0 }
            return text.isEmpty ? "unparsable reply" : String(decoding: text, as: UTF8.self)
        }
    }
}

/// The server sent bytes that are not the Redis protocol.
package struct ReplyReaderError: Error {
    package var message: String
}
