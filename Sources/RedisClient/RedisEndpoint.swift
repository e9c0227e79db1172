import AutoscalerCore

/// Where a Redis server is and how to talk to it, parsed from a URL as Redash and redis-py accept
/// it: `redis://[[user]:password@]host[:port][/db][?options]` or `rediss://…` for TLS.
///
/// Options: `ssl_cert_reqs=none` turns off certificate verification (as redis-py), and
/// `ssl_ca_certs=/path/ca.pem` trusts an extra CA (ElastiCache's certificates are publicly
/// trusted; self-signed test servers are not).
public struct RedisEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var database: Int
    public var username: String?
    public var password: String?
    public var usesTLS: Bool
    public var verifiesCertificate: Bool
    public var caFile: String?

    /// Parses `url`; the error never contains the password.
    public init(url: String) throws(RedisError) {
        let parsed: RedisURL
        do {
            parsed = try RedisURL(url)
        } catch {
            throw RedisError(.invalidURL, server: RedisURL.redactedServer(url), error.message)
        }
        host = parsed.host
        port = parsed.port
        database = parsed.database
        username = parsed.username
        password = parsed.password
        usesTLS = parsed.usesTLS
        verifiesCertificate = parsed.verifiesCertificate
        caFile = parsed.caFile
    }

    /// `host:port`, for errors and logs.
    public var server: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The URL without credentials.
    public var description: String { "\(usesTLS ? "rediss" : "redis")://\(server)/\(database)" }
}
