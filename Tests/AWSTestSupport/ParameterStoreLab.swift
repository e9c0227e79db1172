import AWSClient
import AutoscalerCore
import Foundation
import IntegrationSupport

/// Puts and deletes SSM parameters and secrets in moto with the lab's administrator keys,
/// through the product's own signed JSON client.
public struct ParameterStoreLab: Sendable {
    let ssm: AWSJSONClient
    let secrets: AWSJSONClient

    public init(_ moto: LocalHTTPServer, keys: Lab.Keys) throws {
        let environment = Lab.environment(keys, endpoint: moto.url)
        let credentials = CredentialProvider(chain: .standard(environment: environment, region: Lab.region))
        func client(_ service: AWSService, _ prefix: String) throws -> AWSJSONClient {
            AWSJSONClient(
                service: service, targetPrefix: prefix, region: Lab.region,
                endpoint: try AWSEndpoint.resolve(service, region: Lab.region, environment: environment), credentials: credentials,
                retry: Lab.quickRetry)
        }
        ssm = try client(.ssm, "AmazonSSM")
        secrets = try client(.secretsManager, "secretsmanager")
    }

    struct PutParameter: Encodable, Sendable {
        var Name: String
        var Value: String
        var `Type`: String
        var Overwrite: Bool
    }

    struct PutParameterOutput: Decodable {
        var Version: Int
    }

    struct Named: Encodable, Sendable {
        var Name: String
    }

    /// Creates or overwrites `name` (`String` or `SecureString`); returns its new version.
    @discardableResult
    public func put(_ name: String, _ value: String, type: String = "String") async throws -> Int {
        try await ssm.call("PutParameter", PutParameter(Name: name, Value: value, Type: type, Overwrite: true), as: PutParameterOutput.self).Version
    }

    public func delete(_ name: String) async throws {
        struct Empty: Decodable {}
        _ = try await ssm.call("DeleteParameter", Named(Name: name), as: Empty.self)
    }

    struct CreateSecret: Encodable, Sendable {
        var Name: String
        var SecretString: String
    }

    struct PutSecretValue: Encodable, Sendable {
        var SecretId: String
        var SecretString: String
    }

    struct SecretVersion: Decodable {
        var VersionId: String
    }

    /// Creates `name` holding `value`; returns its VersionId.
    @discardableResult
    public func createSecret(_ name: String, _ value: String) async throws -> String {
        try await secrets.call("CreateSecret", CreateSecret(Name: name, SecretString: value), as: SecretVersion.self).VersionId
    }

    /// A new current version of `name`; returns its VersionId.
    @discardableResult
    public func putSecret(_ name: String, _ value: String) async throws -> String {
        try await secrets.call("PutSecretValue", PutSecretValue(SecretId: name, SecretString: value), as: SecretVersion.self).VersionId
    }
}
