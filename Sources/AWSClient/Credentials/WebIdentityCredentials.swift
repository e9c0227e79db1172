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
        let sessionName = environment["AWS_ROLE_SESSION_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? STS.defaultSessionName()
        return try await STS.credentials(
            "AssumeRoleWithWebIdentity", roleARN: roleARN,
            parameters: [("RoleArn", roleARN), ("RoleSessionName", sessionName), ("WebIdentityToken", token)],
            signer: nil, region: region, environment: environment, transport: transport)
    }
}
