import NIOCore
@testable import RedisClient
import Testing
import IntegrationSupport

@Suite("Redis URLs", .testThreads)
struct RedisEndpointTests {
    @Test("URLs as Redash and redis-py accept them", arguments: [
        ("redis://127.0.0.1:6379/0", "127.0.0.1", 6379, 0, nil as String?, nil as String?, false),
        ("redis://cache", "cache", 6379, 0, nil, nil, false),
        ("redis://:s3cret@cache:6380/2", "cache", 6380, 2, nil, "s3cret", false),
        ("redis://autoscaler:p%40ss@cache/1", "cache", 6379, 1, "autoscaler", "p@ss", false),
        ("rediss://master.redash.abc.apne1.cache.amazonaws.com:6379/0", "master.redash.abc.apne1.cache.amazonaws.com", 6379, 0, nil, nil, true),
        ("redis://[::1]:7000/3", "::1", 7000, 3, nil, nil, false),
        ("redis://legacy-secret@cache", "cache", 6379, 0, nil, "legacy-secret", false),
    ])
    func parses(_ url: String, _ host: String, _ port: Int, _ database: Int, _ user: String?, _ password: String?, _ tls: Bool) throws {
        let endpoint = try RedisEndpoint(url: url)
        #expect(endpoint.host == host)
        #expect(endpoint.port == port)
        #expect(endpoint.database == database)
        #expect(endpoint.username == user)
        #expect(endpoint.password == password)
        #expect(endpoint.usesTLS == tls)
        #expect(!endpoint.description.contains("s3cret") && !endpoint.description.contains("p@ss"))
    }

    @Test("TLS options from the query string")
    func tlsOptions() throws {
        let endpoint = try RedisEndpoint(url: "rediss://cache:6380/0?ssl_cert_reqs=none&ssl_ca_certs=%2Fetc%2Fca.pem")
        #expect(!endpoint.verifiesCertificate)
        #expect(endpoint.caFile == "/etc/ca.pem")
    }

    @Test("bad URLs are errors that never show the password", arguments: [
        "http://:hunter2@cache:6379", "redis://:hunter2@cache:99999", "redis://:hunter2@cache/db", "redis://:hunter2@", "cache:6379",
    ])
    func rejects(_ url: String) {
        do {
            _ = try RedisEndpoint(url: url)
            Issue.record("accepted \(url)")
        } catch {
            #expect(error.kind == .invalidURL)
            #expect(!error.description.contains("hunter2"), "\(error)")
        }
    }
}

@Suite("hiredis codec", .testThreads)
struct HiredisCodecTests {
    @Test("commands are formatted as RESP, binary-safe")
    func encodes() {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        CommandEncoder.encode(["LLEN", "queries\u{06}\u{16}3"], into: &buffer)
        #expect(String(buffer: buffer) == "*2\r\n$4\r\nLLEN\r\n$10\r\nqueries\u{06}\u{16}3\r\n")
    }

    @Test("replies are parsed incrementally, nested, with errors and nils as values")
    func parsesInPieces() throws {
        let reader = ReplyReader()
        let wire = "+OK\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*3\r\n:1\r\n*1\r\n$1\r\nx\r\n-WRONGTYPE Operation against a key\r\n*-1\r\n"
        var replies: [RESPValue] = []
        for chunk in wire.utf8.chunks(of: 3) {
            try reader.feed(ByteBuffer(bytes: chunk))
            while let reply = try reader.next() { replies.append(reply) }
        }
        #expect(replies == [
            .simpleString("OK"), .integer(42), .bulkString(Array("hello".utf8)), .null,
            .array([.integer(1), .array([.bulkString([120])]), .error("WRONGTYPE Operation against a key")]),
            .null,
        ])
    }

    @Test("bytes that are not RESP are an error, not a crash")
    func rejectsGarbage() throws {
        let reader = ReplyReader()
        try reader.feed(ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\n"))
        #expect(throws: ReplyReaderError.self) { _ = try reader.next() }
    }
}

extension Collection {
    func chunks(of size: Int) -> [SubSequence] {
        var result: [SubSequence] = []
        var start = startIndex
        while start != endIndex {
            let end = index(start, offsetBy: size, limitedBy: endIndex) ?? endIndex
            result.append(self[start..<end])
            start = end
        }
        return result
    }
}

/// The size guard in front of hiredis: what it passes, what it replaces, at any split of the bytes.
@Suite("Reply size guard", .testThreads)
struct ReplySizeGuardTests {
    static func limits(value: Int = 16, elements: Int = 4, reply: Int = 200) -> ReplySizeGuard.Limits {
        var limits = ReplySizeGuard.Limits()
        limits.valueBytes = value
        limits.arrayElements = elements
        limits.replyBytes = reply
        return limits
    }

    /// The replies hiredis reads from `bytes` through a guard, fed `chunk` bytes at a time.
    static func read(_ bytes: String, limits: ReplySizeGuard.Limits, chunk: Int) throws -> (replies: [RESPValue], dropped: Int) {
        var sizeGuard = ReplySizeGuard(limits: limits)
        let reader = ReplyReader()
        var replies: [RESPValue] = []
        let all = Array(bytes.utf8)
        var start = 0
        while start < all.count {
            let end = min(all.count, start + chunk)
            try reader.feed(try sizeGuard.filter(ByteBuffer(bytes: all[start..<end])))
            while let reply = try reader.next() { replies.append(reply) }
            start = end
        }
        return (replies, sizeGuard.dropped)
    }

    static let chunks = [1, 2, 3, 7, 64, 1 << 20]

    @Test("replies within the limits pass unchanged, however the bytes are split", arguments: chunks)
    func passes(_ chunk: Int) throws {
        let bytes = "+OK\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*-1\r\n*0\r\n*2\r\n$3\r\nabc\r\n*2\r\n:1\r\n-ERR no\r\n"
        let read = try Self.read(bytes, limits: Self.limits(), chunk: chunk)
        #expect(read.replies == [
            .simpleString("OK"), .integer(42), .bulkString(Array("hello".utf8)), .null, .null, .array([]),
            .array([.bulkString(Array("abc".utf8)), .array([.integer(1), .error("ERR no")])]),
        ])
        #expect(read.dropped == 0)
    }

    @Test("a value over the limit becomes an error in its place; the rest of the reply and the next reply are read", arguments: chunks)
    func oversizedValue(_ chunk: Int) throws {
        let big = String(repeating: "x", count: 1000)
        let bytes = "*3\r\n$2\r\nid\r\n$1000\r\n\(big)\r\n:7\r\n$2\r\nok\r\n"
        let read = try Self.read(bytes, limits: Self.limits(), chunk: chunk)
        #expect(read.replies.count == 2)
        let elements = try #require(read.replies.first?.array)
        #expect(elements.count == 3)
        #expect(elements[0] == .bulkString(Array("id".utf8)))
        #expect(elements[1].errorMessage?.contains("a value of 1000 bytes, over the limit of 16") == true, "\(elements[1])")
        #expect(elements[2] == .integer(7))
        #expect(read.replies.last == .bulkString(Array("ok".utf8)))
        #expect(read.dropped == 1)
    }

    @Test("an array over the limit becomes one error, its nested elements dropped, oversized ones among them", arguments: chunks)
    func oversizedArray(_ chunk: Int) throws {
        let bytes = "*6\r\n:1\r\n*2\r\n$3\r\nabc\r\n$40\r\n\(String(repeating: "y", count: 40))\r\n$-1\r\n:4\r\n:5\r\n+x\r\n" + ":9\r\n"
        let read = try Self.read(bytes, limits: Self.limits(), chunk: chunk)
        #expect(read.replies.count == 2, "\(read.replies)")
        #expect(read.replies.first?.errorMessage?.contains("an array of 6 elements, over the limit of 4") == true)
        #expect(read.replies.last == .integer(9))
    }

    @Test("past the reply's byte budget every further element is an error; the reply keeps its shape", arguments: chunks)
    func replyBudget(_ chunk: Int) throws {
        let value = String(repeating: "z", count: 15)
        let elements = (0..<4).map { _ in "$15\r\n\(value)\r\n" }.joined()
        let bytes = "*4\r\n\(elements)+next\r\n"
        let read = try Self.read(bytes, limits: Self.limits(value: 16, elements: 4, reply: 40), chunk: chunk)
        let array = try #require(read.replies.first?.array)
        #expect(array.count == 4)
        #expect(array.prefix(2).allSatisfy { $0 == .bulkString(Array(value.utf8)) }, "\(array)")
        #expect(array.suffix(2).allSatisfy { $0.errorMessage?.contains("reply over 40 bytes") == true }, "\(array)")
        #expect(read.replies.last == .simpleString("next"))
    }

    /// hiredis 0.14 callocs an array's element pointers when its header arrives, the count cut
    /// to an `int`: on its own, `*2147483647` reserves 16 GiB of address space and freeing the
    /// reply walks all 2^31 slots (seconds of one core per header, with the process's memory
    /// map locked meanwhile). The guard in front never lets such a header through: had it
    /// passed, hiredis would wait for 2^31 elements and give no reply at all.
    @Test("an array header of 2^31-1 elements (or a count that wraps to it) never reaches hiredis: an error in its place, or refused",
          arguments: ["*2147483647\r\n:1\r\n", "*-2147483649\r\n:1\r\n", "*1\r\n*2147483647\r\n"])
    func hugeArrayHeader(_ wire: String) throws {
        do {
            let read = try Self.read(wire, limits: .init(), chunk: 64)
            let first = try #require(read.replies.first, "\(read.replies)")
            let error = first.errorMessage ?? first.array?.first?.errorMessage
            #expect(error?.contains("over the limit of 25000") == true, "\(first)")
        } catch let error as ReplyReaderError {
            #expect(!error.message.isEmpty)
        }
    }

    @Test("a header that never ends, or a RESP3 type, is a protocol error")
    func refuses() throws {
        #expect(throws: ReplyReaderError.self) { try Self.read("$" + String(repeating: "9", count: 70_000), limits: .init(), chunk: 4096) }
        #expect(throws: ReplyReaderError.self) { try Self.read("%1\r\n+a\r\n+b\r\n", limits: .init(), chunk: 64) }
    }

    @Test("the default limits take 200 MB in pieces and keep none of it")
    func bigValueStreams() throws {
        var sizeGuard = ReplySizeGuard()
        var passed = 0
        passed += try sizeGuard.filter(ByteBuffer(string: "$209715200\r\n")).readableBytes
        let piece = ByteBuffer(repeating: UInt8(ascii: "a"), count: 1 << 20)
        for _ in 0..<200 { passed += try sizeGuard.filter(piece).readableBytes }
        passed += try sizeGuard.filter(ByteBuffer(string: "\r\n:1\r\n")).readableBytes
        #expect(passed < 200, "\(passed) bytes passed to hiredis")
        #expect(sizeGuard.dropped == 1)
    }
}
