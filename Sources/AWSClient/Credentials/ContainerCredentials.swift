import AWSSigning
import Foundation

/// The ECS task role, from the container credentials endpoint the ECS agent serves to each task:
/// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (a path on 169.254.170.2, set by ECS for a task with
/// a task role), or `AWS_CONTAINER_CREDENTIALS_FULL_URI` with an authorization token from
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` or `AWS_CONTAINER_AUTHORIZATION_TOKEN` (EKS Pod
/// Identity, ECS Anywhere, Greengrass). This is the controller's source in production.
public struct ContainerCredentials: CredentialSource {
    let environment: [String: String]
    let transport: any HTTPTransport
    /// Where a relative URI points; only tests change it.
    let relativeBase: String
    public let name = "ECS container endpoint (AWS_CONTAINER_CREDENTIALS_*_URI)"

    static let timeout: Duration = .seconds(5)

    public init(environment: [String: String], transport: any HTTPTransport = AsyncHTTPTransport(), relativeBase: String = "http://169.254.170.2") {
        self.environment = environment
        self.transport = transport
        self.relativeBase = relativeBase
    }

    /// The endpoint, or `nil` when neither variable is set. A full URI over plain HTTP must
    /// point at a loopback or the ECS/EKS link-local address, as the SDKs require, so that a
    /// mistaken setting cannot send the authorization token across a network in clear.
    func endpoint() throws(CredentialError) -> String? {
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
            return relativeBase + (relative.hasPrefix("/") ? relative : "/" + relative)
        }
        guard let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty else { return nil }
        guard let components = URLComponents(string: full), let scheme = components.scheme?.lowercased(),
              let host = components.host, !host.isEmpty else {
            throw CredentialError("AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL")
        }
        if scheme == "https" { return full }
        guard scheme == "http" else {
            throw CredentialError("AWS_CONTAINER_CREDENTIALS_FULL_URI must use http or https, not \(scheme)")
        }
        let allowed = host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
            || host == "169.254.170.2" || host == "169.254.170.23" || host.lowercased() == "fd00:ec2::23" || host.lowercased() == "[fd00:ec2::23]"
        guard allowed else {
            throw CredentialError("AWS_CONTAINER_CREDENTIALS_FULL_URI over http must point at a loopback address or the ECS/EKS agent (169.254.170.2, 169.254.170.23, fd00:ec2::23), not \(host); use https")
        }
        return full
    }

    func authorizationToken() throws(CredentialError) -> String? {
        if let path = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"], !path.isEmpty {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw CredentialError("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(path) cannot be read")
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public func credentials() async throws -> AWSCredentials? {
        guard let url = try endpoint() else { return nil }
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if let token = try authorizationToken() {
            guard !token.contains("\r"), !token.contains("\n") else {
                throw CredentialError("the container authorization token contains a line break")
            }
            headers.append(("Authorization", token))
        }
        let reply: HTTPReply
        do {
            reply = try await transport.send(method: "GET", url: url, headers: headers, body: [], timeout: Self.timeout)
        } catch let error as TransportError {
            throw CredentialError("ECS container endpoint: \(error)")
        }
        guard reply.status == 200 else {
            throw CredentialError("ECS container endpoint answered HTTP \(reply.status)\(Self.reason(reply))")
        }
        return try TemporaryCredentialsDocument.parse(reply.body, source: "ECS container endpoint").credentials
    }

    /// A short, safe reason from an error body: the `message` of a JSON error, else nothing
    /// (an HTML page or a long body says nothing useful).
    static func reason(_ reply: HTTPReply) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any] else { return "" }
        let message = (object["message"] as? String) ?? (object["Message"] as? String)
        return message.map { ": \($0.prefix(200))" } ?? ""
    }
}
