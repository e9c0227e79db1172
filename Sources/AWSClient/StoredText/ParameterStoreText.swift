import AutoscalerCore

/// One SSM Parameter Store parameter as a `TextSource`: `GetParameter` with decryption, so a
/// String and a SecureString read alike; the version is the parameter's `Version`. Every read is
/// one request (Parameter Store's standard throughput is about 40 a second per account, shared
/// by everything in it: a read every few seconds is nothing).
public struct ParameterStoreText: TextSource {
    /// The parameter's name or ARN, as `GetParameter` takes it.
    public let parameter: String
    let api: AWSJSONClient
    /// The account the ARN names, for errors; `nil` for a name.
    let account: String?

    public init(parameter: String, api: AWSJSONClient) {
        self.parameter = parameter
        self.api = api
        self.account = TextLocation.ssmParameter(name: parameter).arnAccount
    }

    public var name: String { "ssm:\(parameter)" }

    struct GetParameterInput: Encodable, Sendable {
        var name: String
        var withDecryption: Bool
        enum CodingKeys: String, CodingKey { case name = "Name", withDecryption = "WithDecryption" }
    }

    struct GetParameterOutput: Decodable {
        struct Parameter: Decodable {
            var value: String
            var version: Int
            enum CodingKeys: String, CodingKey { case value = "Value", version = "Version" }
        }
        var parameter: Parameter
        enum CodingKeys: String, CodingKey { case parameter = "Parameter" }
    }

    public func read() async throws -> SourcedText {
        let what = "SSM parameter \(parameter)"
        do {
            let output = try await api.call(
                "GetParameter", GetParameterInput(name: parameter, withDecryption: true), context: what, as: GetParameterOutput.self)
            return SourcedText(text: output.parameter.value, version: String(output.parameter.version))
        } catch {
            throw StoredTextError.from(
                error, what: what, action: api.iamAction("GetParameter"), region: api.region, account: account,
                notFoundCodes: ["ParameterNotFound", "ParameterVersionNotFound", "ParameterVersionLabelNotFound"])
        }
    }
}
