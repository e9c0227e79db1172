import AutoscalerCore
import Foundation

/// One Secrets Manager secret as a `TextSource`: `GetSecretValue` of its current version
/// (`AWSCURRENT`); the version is its `VersionId`. A binary secret is read as UTF-8 text.
public struct SecretsManagerText: TextSource {
    /// The secret's name or ARN, as `GetSecretValue` takes it.
    public let secret: String
    let api: AWSJSONClient
    let account: String?

    public init(secret: String, api: AWSJSONClient) {
        self.secret = secret
        self.api = api
        self.account = TextLocation.secret(id: secret).arnAccount
    }

    public var name: String { "secretsmanager:\(secret)" }

    struct GetSecretValueInput: Encodable, Sendable {
        var secretID: String
        enum CodingKeys: String, CodingKey { case secretID = "SecretId" }
    }

    struct GetSecretValueOutput: Decodable {
        var versionID: String
        var secretString: String?
        /// Base64, in the JSON protocol.
        var secretBinary: String?
        enum CodingKeys: String, CodingKey { case versionID = "VersionId", secretString = "SecretString", secretBinary = "SecretBinary" }
    }

    public func read() async throws -> SourcedText {
        let what = "Secrets Manager secret \(secret)"
        let output: GetSecretValueOutput
        do {
            output = try await api.call("GetSecretValue", GetSecretValueInput(secretID: secret), context: what, as: GetSecretValueOutput.self)
        } catch {
            throw StoredTextError.from(
                error, what: what, action: api.iamAction("GetSecretValue"), region: api.region, account: account,
                notFoundCodes: ["ResourceNotFoundException"])
        }
        if let text = output.secretString { return SourcedText(text: text, version: output.versionID) }
        guard let binary = output.secretBinary.flatMap({ Data(base64Encoded: $0) }), let text = String(data: binary, encoding: .utf8) else {
            throw StoredTextError(.notText, "\(what) (version \(output.versionID)) holds no text: neither a SecretString nor UTF-8 in SecretBinary")
        }
        return SourcedText(text: text, version: output.versionID)
    }
}
