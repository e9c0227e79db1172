import NIOCore
@testable import RedisClient
import Testing

@Suite("Redis URLs")
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

@Suite("hiredis codec")
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

    /// What the resp-decoding fuzzer reported as out of memory (Fuzz/Corpus/resp-decoding/
    /// oom-huge-array): hiredis callocs an array's element pointers when its header arrives, 16 GiB
    /// of address space for `*2147483647`, none of it touched. Not a crash: the reader waits for
    /// the elements (or, where the kernel will not overcommit, reports out of memory), and the
    /// command timeout closes the connection, which frees the reservation. The fuzz targets skip
    /// such headers (`RESPWire.announcesHugeArray`) because libFuzzer counts the reservation as an
    /// out-of-memory crash.
    @Test("an array header of 2^31-1 elements (or a count that wraps to it) waits for the elements or is refused: no crash",
          arguments: ["*2147483647\r\n:1\r\n", "*-2147483649\r\n:1\r\n", "*1\r\n*2147483647\r\n"])
    func hugeArrayHeader(_ wire: String) {
        let reader = ReplyReader()
        do {
            try reader.feed(ByteBuffer(string: wire))
            #expect(try reader.next() == nil)
        } catch {
            #expect(error.message.isEmpty == false)
        }
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
