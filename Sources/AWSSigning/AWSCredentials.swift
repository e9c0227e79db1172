import AutoscalerCore

/// AWS credentials. Their `description` shows the access key id only, so they are safe in logs
/// and errors; the secret and the session token are never printed.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    /// Present for temporary credentials (STS, the ECS container endpoint, IMDS, SSO).
    public var sessionToken: String?
    /// When temporary credentials stop working; `nil` for long-term keys.
    public var expiration: Instant?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Instant? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }

    public var description: String {
        "AWSCredentials(\(accessKeyID), secret ***\(sessionToken == nil ? "" : ", session token ***")\(expiration.map { ", expires \($0)" } ?? ""))"
    }
}
