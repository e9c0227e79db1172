import AWSSigning
import AutoscalerCore
import Foundation

/// A role assumed with an OIDC token (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, optional
/// `AWS_ROLE_SESSION_NAME`) through STS `AssumeRoleWithWebIdentity`, which is not signed: the
/// token is the proof. Used on EKS with IRSA and by CI systems with OIDC federation. The token
/// file is read on every refresh, since its issuer rotates it.
public struct WebIdentityCredentials: CredentialSource {
    let environment: [String: String]
    let region: String?
    let transport: any HTTPTransport
    public let name = "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)"

    static let timeout: Duration = .seconds(10)

    public init(environment: [String: String], region: String?, transport: any HTTPTransport = AsyncHTTPTransport()) {
        self.environment = environment
        self.region = region
        self.transport = transport
    }

    public func credentials() async throws -> AWSCredentials? {
        let tokenFile = environment["AWS_WEB_IDENTITY_TOKEN_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        let roleARN = environment["AWS_ROLE_ARN"].flatMap { $0.isEmpty ? nil : $0 }
        guard let tokenFile else { return nil }
        guard let roleARN else {
            throw CredentialError("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not")
        }
        guard let token = try? String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
              !token.isEmpty else {
            throw CredentialError("AWS_WEB_IDENTITY_TOKEN_FILE \(tokenFile) cannot be read or is empty")
        }
        let sessionName = environment["AWS_ROLE_SESSION_NAME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "redash-autoscaler-\(Int(Date().timeIntervalSince1970))"
        let endpoint: AWSEndpoint
        if let region {
            endpoint = try AWSEndpoint.resolve(.sts, region: region, environment: environment)
        } else if environment["AWS_ENDPOINT_URL_STS"] != nil || environment["AWS_ENDPOINT_URL"] != nil {
            endpoint = try AWSEndpoint.resolve(.sts, region: "us-east-1", environment: environment)
        } else {
            endpoint = AWSEndpoint(scheme: "https", host: "sts.amazonaws.com", port: nil, basePath: "")
        }
        let form = [
            ("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"),
            ("RoleArn", roleARN), ("RoleSessionName", sessionName), ("WebIdentityToken", token),
        ].map { "\(FormEncoding.encode($0.0))=\(FormEncoding.encode($0.1))" }.joined(separator: "&")
        let reply: HTTPReply
        do {
            reply = try await transport.send(
                method: "POST", url: endpoint.url(path: "/"),
                headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"), ("Accept", "text/xml")],
                body: Array(form.utf8), timeout: Self.timeout)
        } catch let error as TransportError {
            throw CredentialError("STS AssumeRoleWithWebIdentity for \(roleARN): \(error)")
        }
        let text = reply.text
        guard reply.status == 200 else {
            let code = XMLFields.first("Code", in: text) ?? "HTTP \(reply.status)"
            let message = XMLFields.first("Message", in: text).map { ": \($0.prefix(300))" } ?? ""
            throw CredentialError("STS AssumeRoleWithWebIdentity for \(roleARN) failed: \(code)\(message)")
        }
        guard let key = XMLFields.first("AccessKeyId", in: text), let secret = XMLFields.first("SecretAccessKey", in: text),
              let sessionToken = XMLFields.first("SessionToken", in: text) else {
            throw CredentialError("STS AssumeRoleWithWebIdentity for \(roleARN) answered without credentials")
        }
        let expiration = XMLFields.first("Expiration", in: text).flatMap(CivilTime.parseTimestamp)
        return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: sessionToken, expiration: expiration)
    }
}

/// `application/x-www-form-urlencoded` as AWS's query protocol reads it: RFC 3986 unreserved
/// characters kept, everything else percent-encoded.
enum FormEncoding {
    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
}
