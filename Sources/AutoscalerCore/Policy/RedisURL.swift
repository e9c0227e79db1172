/// A Redis URL as Redash and redis-py accept it, parsed and checked:
/// `redis://[[user]:password@]host[:port][/db][?options]` or `rediss://…` for TLS. Pure: the
/// policy loader checks `redis.url` with it, and the Redis client connects with it, so
/// `validate` rejects exactly what `run` would.
///
/// Options: `ssl_cert_reqs=none` turns off certificate verification (as redis-py), and
/// `ssl_ca_certs=/path/ca.pem` trusts an extra CA (ElastiCache's certificates are publicly
/// trusted; self-signed test servers are not); `db=N` as the path does.
public struct RedisURL: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var database: Int
    public var username: String?
    public var password: String?
    public var usesTLS: Bool
    public var verifiesCertificate: Bool
    public var caFile: String?

    /// Why a URL is not one; the message never contains the password.
    public struct Failure: Error, Equatable, Sendable {
        public var message: String
    }

    /// Parses `url`.
    public init(_ url: String) throws(Failure) {
        func invalid(_ why: String) -> Failure { Failure(message: why) }
        guard let schemeEnd = url.firstRange(of: "://") else { throw invalid("not a URL: expected redis://host:6379/0") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "redis" || scheme == "rediss" else {
            throw invalid("unsupported scheme \(scheme): expected redis:// or rediss://")
        }
        usesTLS = scheme == "rediss"
        var rest = url[schemeEnd.upperBound...]
        var query = Substring("")
        if let question = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: question)...]
            rest = rest[..<question]
        }
        var path = Substring("")
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            if let colon = userInfo.firstIndex(of: ":") {
                let user = String(userInfo[..<colon])
                username = user.isEmpty ? nil : RedisURL.percentDecoded(user)
                password = RedisURL.percentDecoded(String(userInfo[userInfo.index(after: colon)...]))
            } else if !userInfo.isEmpty {
                // redis://secret@host: redis-py reads a lone user-info as the username; a password
                // given this way is common in old configs, so treat it as the password.
                password = RedisURL.percentDecoded(String(userInfo))
            }
            rest = rest[rest.index(after: at)...]
        }
        var hostPart = rest
        var portText: Substring?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { throw invalid("unclosed [ in the IPv6 host") }
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() }
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
        } else if let colon = hostPart.lastIndex(of: ":") {
            portText = hostPart[hostPart.index(after: colon)...]
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else { throw invalid("no host") }
        host = String(hostPart)
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else { throw invalid("port `\(portText)` is not 1–65535") }
            port = value
        } else {
            port = 6379
        }
        let databaseText = path.split(separator: "/").first ?? ""
        if databaseText.isEmpty {
            database = 0
        } else {
            guard let value = Int(databaseText), (0...1_000_000).contains(value) else { throw invalid("database `\(databaseText)` is not a number") }
            database = value
        }
        verifiesCertificate = true
        caFile = nil
        for parameter in query.split(separator: "&") {
            let pair = parameter.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "ssl_cert_reqs": verifiesCertificate = pair[1].lowercased() != "none"
            case "ssl_ca_certs": caFile = RedisURL.percentDecoded(pair[1])
            case "db":
                guard let value = Int(pair[1]), (0...1_000_000).contains(value) else { throw invalid("db=`\(pair[1])` is not a number") }
                database = value
            default: break
            }
        }
    }

    /// The host and port part of a URL, without credentials, for messages.
    public static func redactedServer(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return "(unparsable URL)" }
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        let host = authority.lastIndex(of: "@").map { authority[authority.index(after: $0)...] } ?? authority
        return host.isEmpty ? "(no host)" : String(host)
    }

    static func percentDecoded(_ text: String) -> String {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
