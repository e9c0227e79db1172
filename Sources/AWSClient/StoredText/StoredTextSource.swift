import AutoscalerCore
import Foundation
import Logging

/// Makes the `TextSource` of an SSM parameter or a Secrets Manager secret, with its own signed
/// client: the policy is read before anything else, so before the policy's own region is known.
public enum StoredTextSource {
    /// The source `location` names, or `nil` for a file (which needs no AWS). The region is the
    /// one the ARN names, else `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's.
    /// Attempts are short and few: a read is repeated at the next poll anyway, and a poll must
    /// not hold up a reconcile.
    public static func make(
        _ location: TextLocation, regionFlag: String?, profile: String?, environment: [String: String],
        transport: any HTTPTransport = AsyncHTTPTransport(),
        retry: RetryPolicy = RetryPolicy(maxAttempts: 3, base: .milliseconds(200), cap: .seconds(2)), timeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "aws")
    ) throws -> (any TextSource)? {
        let service: AWSService
        let targetPrefix: String
        switch location {
        case .file: return nil
        case .ssmParameter: (service, targetPrefix) = (.ssm, "AmazonSSM")
        case .secret: (service, targetPrefix) = (.secretsManager, "secretsmanager")
        }
        let region: String
        if let fromARN = location.arnRegion {
            region = fromARN
        } else {
            region = try AWSRegion.resolve(flag: regionFlag, policy: nil, environment: environment, profile: profile).region
        }
        let chain = CredentialChain.standard(environment: environment, profile: profile, region: region, transport: transport)
        let api = AWSJSONClient(
            service: service, targetPrefix: targetPrefix, region: region,
            endpoint: try AWSEndpoint.resolve(service, region: region, environment: environment),
            credentials: CredentialProvider(chain: chain, logger: logger), transport: transport, retry: retry, timeout: timeout, logger: logger)
        switch location {
        case .file: return nil
        case .ssmParameter(let name): return ParameterStoreText(parameter: name, api: api)
        case .secret(let id): return SecretsManagerText(secret: id, api: api)
        }
    }
}
