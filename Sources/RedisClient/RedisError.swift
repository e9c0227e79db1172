/// Why a Redis operation failed: which server, what was being done, and what went wrong. Never
/// carries the password.
public struct RedisError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kind of failure, for metrics labels and tests.
    public enum Kind: String, Sendable, Equatable {
        case invalidURL = "invalid-url"
        case connectionFailed = "connection-failed"
        case timeout
        case authenticationFailed = "authentication-failed"
        case databaseSelectionFailed = "database-selection-failed"
        case tls
        case protocolViolation = "protocol-violation"
        case connectionClosed = "connection-closed"
        case backingOff = "backing-off"
    }

    public var kind: Kind
    /// `host:port` (no credentials).
    public var server: String
    /// What failed, in words.
    public var message: String

    public init(_ kind: Kind, server: String, _ message: String) {
        self.kind = kind
        self.server = server
        self.message = message
    }

    public var description: String { "redis \(server): \(message)" }
}
