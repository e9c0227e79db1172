/// An HTTP request as the signer needs it. Path and query are given decoded; the signer encodes
/// them, and `encodedPath`/`encodedQuery` give the exact strings to send, so what is signed is
/// what goes on the wire.
public struct SigV4Request: Sendable, Equatable {
    public var method: String
    /// `https` or `http` (decides whether the port is implied).
    public var scheme: String
    public var host: String
    public var port: Int?
    /// Decoded path, such as `/` or `/my bucket/key`.
    public var path: String
    /// Decoded query items, in any order.
    public var query: [(name: String, value: String)]
    /// Headers to sign besides the ones the signer adds; repeated names are allowed.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(
        method: String, scheme: String = "https", host: String, port: Int? = nil, path: String = "/",
        query: [(name: String, value: String)] = [], headers: [(name: String, value: String)] = [], body: [UInt8] = []
    ) {
        self.method = method
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    public static func == (lhs: SigV4Request, rhs: SigV4Request) -> Bool {
        lhs.method == rhs.method && lhs.scheme == rhs.scheme && lhs.host == rhs.host && lhs.port == rhs.port
            && lhs.path == rhs.path && lhs.body == rhs.body
            && lhs.query.map { [$0.name, $0.value] } == rhs.query.map { [$0.name, $0.value] }
            && lhs.headers.map { [$0.name, $0.value] } == rhs.headers.map { [$0.name, $0.value] }
    }

    /// The `Host` header value: lower-case, with the port unless it is the scheme's default.
    public var hostHeader: String {
        let name = host.lowercased()
        guard let port, port != (scheme == "http" ? 80 : 443) else { return name }
        return "\(name):\(port)"
    }

    /// The path as sent: dot segments and empty segments removed, then percent-encoded.
    public var encodedPath: String {
        SigV4Encoding.encode(SigV4Encoding.normalize(path), keepingSlashes: true)
    }

    /// The query as sent and signed: each name and value percent-encoded, sorted.
    public var encodedQuery: String {
        query.map { (SigV4Encoding.encode($0.name), SigV4Encoding.encode($0.value)) }
            .sorted { ($0.0.utf8.lexicographicallyPrecedes($1.0.utf8)) || ($0.0 == $1.0 && $0.1.utf8.lexicographicallyPrecedes($1.1.utf8)) }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }
}

/// Percent-encoding and path normalisation as SigV4 defines them.
enum SigV4Encoding {
    /// Encodes every byte except the RFC 3986 unreserved characters (and `/` when asked).
    static func encode(_ text: String, keepingSlashes: Bool = false) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepingSlashes:
                result.append("/")
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                result.unicodeScalars.append("%")
                result.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                result.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0x0f)]))
            }
        }
        return result
    }

    /// Removes `.` and `..` segments and repeated slashes (services reject them); keeps a
    /// leading and a trailing slash.
    static func normalize(_ path: String) -> String {
        guard !path.isEmpty else { return "/" }
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                if !segments.isEmpty { segments.removeLast() }
                continue
            }
            segments.append(segment)
        }
        let leading = path.hasPrefix("/") ? "/" : ""
        let trailing = path.hasSuffix("/") && !segments.isEmpty ? "/" : ""
        return leading + segments.joined(separator: "/") + trailing
    }
}
