import AWSSigning
import AutoscalerCore
import Foundation
import SystemClock

/// The EC2 instance role through IMDSv2 (session tokens only; IMDSv1 is never used): PUT
/// `/latest/api/token`, then GET `/latest/meta-data/iam/security-credentials/` for the role name
/// and GET `…/ROLE` for the credentials. `AWS_EC2_METADATA_SERVICE_ENDPOINT` moves it,
/// `AWS_EC2_METADATA_DISABLED=true` turns it off. An instance without an answering metadata
/// service (a laptop) counts as "not configured", after one short try.
public struct InstanceMetadataCredentials: CredentialSource {
    let endpoint: String
    let disabled: Bool
    let transport: any HTTPTransport
    let session = TokenCache()
    let now: @Sendable () -> Instant
    public let name = "EC2 instance metadata (IMDSv2)"

    /// Session tokens are asked for six hours and renewed a minute early.
    static let tokenLifetime = 21_600
    static let timeout: Duration = .seconds(1)

    public init(environment: [String: String], transport: any HTTPTransport = AsyncHTTPTransport(), now: @escaping @Sendable () -> Instant = WallClock.now) {
        var endpoint = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://169.254.169.254"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.endpoint = endpoint
        disabled = environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true"
        self.transport = transport
        self.now = now
    }

    /// The current IMDSv2 session token, shared by the copies of one source.
    final class TokenCache: @unchecked Sendable {
        private let lock = NSLock()
        private var token: (value: String, expires: Instant)?

        func current(at now: Instant) -> String? {
            lock.withLock { token.flatMap { $0.expires > now ? $0.value : nil } }
        }

        func store(_ value: String?, expires: Instant) {
            lock.withLock { token = value.map { ($0, expires) } }
        }
    }

    public func credentials() async throws -> AWSCredentials? {
        guard !disabled else { return nil }
        let token: String
        do {
            token = try await sessionToken()
        } catch let error as TransportError {
            // Nothing answers: not on EC2. Listed in the chain's "tried".
            _ = error
            return nil
        }
        let role = try await get("/latest/meta-data/iam/security-credentials/", token: token).text
            .split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard !role.isEmpty else {
            throw CredentialError("EC2 instance metadata: the instance has no IAM role (instance profile)")
        }
        let reply = try await get("/latest/meta-data/iam/security-credentials/\(role)", token: token)
        let (object, credentials) = try TemporaryCredentialsDocument.parse(reply.body, source: "EC2 instance metadata (role \(role))")
        if let code = object["Code"] as? String, code != "Success" {
            throw CredentialError("EC2 instance metadata (role \(role)) answered Code \(code)")
        }
        return credentials
    }

    func sessionToken(renew: Bool = false) async throws -> String {
        let start = now()
        if !renew, let token = session.current(at: start) { return token }
        let reply = try await transport.send(
            method: "PUT", url: endpoint + "/latest/api/token",
            headers: [("X-aws-ec2-metadata-token-ttl-seconds", String(Self.tokenLifetime))], body: [], timeout: Self.timeout)
        guard reply.status == 200, !reply.body.isEmpty else {
            throw CredentialError("EC2 instance metadata refused a session token (HTTP \(reply.status)); IMDSv2 may be disabled or the hop limit too low")
        }
        let token = reply.text.trimmingCharacters(in: .whitespacesAndNewlines)
        session.store(token, expires: start + .seconds(Self.tokenLifetime - 60))
        return token
    }

    /// A GET with the session token; a 401 means the token expired early, so one new token and
    /// one retry.
    func get(_ path: String, token: String) async throws -> HTTPReply {
        var token = token
        for attempt in 0..<2 {
            let reply: HTTPReply
            do {
                reply = try await transport.send(
                    method: "GET", url: endpoint + path, headers: [("X-aws-ec2-metadata-token", token)], body: [], timeout: Self.timeout)
            } catch let error as TransportError {
                throw CredentialError("EC2 instance metadata: \(error)")
            }
            if reply.status == 401, attempt == 0 {
                session.store(nil, expires: now())
                token = try await sessionToken(renew: true)
                continue
            }
            guard reply.status == 200 else {
                throw CredentialError("EC2 instance metadata answered HTTP \(reply.status) for \(path)")
            }
            return reply
        }
        throw CredentialError("EC2 instance metadata kept refusing its own session token (HTTP 401)")
    }
}
