import NIOCore
import RedisClient

/// Redis replies as the bytes a server sends, both ways: written by hand (RESP2, as Redis 6 and 7
/// answer a client that did not ask for RESP3), read by hiredis through `ReplyReader`.
public enum RESPWire {
    /// The bytes a server sends for `reply`.
    public static func encode(_ reply: RESPValue) -> [UInt8] {
        var bytes: [UInt8] = []
        append(reply, to: &bytes)
        return bytes
    }

    /// The bytes a server sends for `replies`, one after the other.
    public static func encode(_ replies: [RESPValue]) -> [UInt8] {
        var bytes: [UInt8] = []
        for reply in replies { append(reply, to: &bytes) }
        return bytes
    }

    private static func append(_ reply: RESPValue, to bytes: inout [UInt8]) {
        switch reply {
        case .simpleString(let text): bytes += Array("+\(text)\r\n".utf8)
        case .error(let message): bytes += Array("-\(message)\r\n".utf8)
        case .integer(let value): bytes += Array(":\(value)\r\n".utf8)
        case .bulkString(let content): bytes += Array("$\(content.count)\r\n".utf8) + content + [13, 10]
        case .null: bytes += Array("$-1\r\n".utf8)
        case .array(let elements):
            bytes += Array("*\(elements.count)\r\n".utf8)
            for element in elements { append(element, to: &bytes) }
        }
    }

    /// Whether `bytes` may announce an array of ten million elements or more, or of a negative
    /// count below -9,999,999.
    ///
    /// hiredis 0.14 callocs an array's element pointers when its header arrives, its count cut to
    /// an `int`: `*2147483647` (or `*-2147483649`) reserves 16 GiB of address space before any
    /// element does. The pages are not touched (no resident memory; a kernel that will not
    /// overcommit refuses, which hiredis reports as out of memory), and the command timeout drops
    /// the connection, which frees them: not a crash. The client's size guard stops such a header
    /// before hiredis sees it (ReplySizeGuardTests pins it). libFuzzer counts
    /// the reservation as an out-of-memory crash, and AddressSanitizer takes seconds over it, so
    /// the targets skip such inputs. Conservative: a `*` anywhere counts, not only at the start of
    /// a line, because hiredis skips the two bytes after a bulk string without looking at them
    /// (the fuzzer found `$0\r\n??*2147483647\r\n`).
    public static func announcesHugeArray(_ bytes: [UInt8]) -> Bool {
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "*") {
                var digit = index + 1
                if digit < bytes.count, bytes[digit] == UInt8(ascii: "-") || bytes[digit] == UInt8(ascii: "+") { digit += 1 }
                var digits = 0
                while digit < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[digit]) {
                    if bytes[digit] != UInt8(ascii: "0") || digits > 0 { digits += 1 }
                    if digits > 7 { return true }
                    digit += 1
                }
            }
            index += 1
        }
        return false
    }

    /// What hiredis read from a byte stream: the complete replies, and whether it then refused
    /// the bytes (an incomplete last reply is neither).
    public struct Decoded: Equatable, Sendable {
        public var replies: [RESPValue]
        public var isRefused: Bool
    }

    /// Reads `bytes` as a server's stream, handing the client's size guard and then hiredis
    /// `chunkSizes` bytes at a time (cycling through them), as reads from a socket would.
    public static func decode(_ bytes: [UInt8], chunkSizes: [Int] = [Int.max]) -> Decoded {
        let reader = ReplyReader()
        var sizeGuard = ReplySizeGuard()
        var decoded = Decoded(replies: [], isRefused: false)
        var start = 0
        var turn = 0
        do {
            while start < bytes.count {
                let size = max(1, chunkSizes[turn % chunkSizes.count])
                let end = bytes.count - start > size ? start + size : bytes.count
                var passed = ByteBuffer()
                var refusal: ReplyReaderError?
                do { try sizeGuard.filter(ByteBuffer(bytes: bytes[start..<end]), into: &passed) } catch { refusal = error }
                try reader.feed(passed)
                while let reply = try reader.next() { decoded.replies.append(reply) }
                if let refusal { throw refusal }
                start = end
                turn += 1
            }
        } catch {
            decoded.isRefused = true
        }
        return decoded
    }
}
