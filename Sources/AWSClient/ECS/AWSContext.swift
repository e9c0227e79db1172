import Foundation
import Logging

/// Everything needed to talk to ECS for one policy: region, credentials, endpoints, clients.
/// Made once per process; the credentials renew themselves.
public struct AWSContext: Sendable {
    public let region: String
    public let regionSource: String
    public let credentials: CredentialProvider
    public let ecs: ECSClient
    public let autoScaling: ApplicationAutoScalingClient
    /// Who the credentials belong to (STS `GetCallerIdentity`, which needs no permission): the
    /// identity `hold` records.
    public var callerARN: @Sendable () async throws -> String = { throw CredentialError("no STS endpoint known") }

    /// `regionFlag` and `profile` come from the command line, `policyRegion` from the policy.
    public static func make(
        cluster: String, regionFlag: String?, policyRegion: String?, profile: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        transport: any HTTPTransport = AsyncHTTPTransport(), retry: RetryPolicy = RetryPolicy(), ecsRate: CallBudget.Rate = .standard,
        logger: Logger = Logger(label: "aws")
    ) throws -> AWSContext {
        let (region, source) = try AWSRegion.resolve(flag: regionFlag, policy: policyRegion, environment: environment, profile: profile)
        let chain = CredentialChain.standard(environment: environment, profile: profile, region: region, transport: transport)
        let credentials = CredentialProvider(chain: chain, logger: logger)
        func client(_ service: AWSService, _ prefix: String, budget: CallBudget? = nil) throws -> AWSJSONClient {
            AWSJSONClient(
                service: service, targetPrefix: prefix, region: region,
                endpoint: try AWSEndpoint.resolve(service, region: region, environment: environment),
                credentials: credentials, transport: transport, retry: retry, budget: budget, logger: logger)
        }
        var context = AWSContext(
            region: region, regionSource: source, credentials: credentials,
            ecs: ECSClient(cluster: cluster, api: try client(.ecs, "AmazonEC2ContainerServiceV20141113", budget: CallBudget(ecsRate))),
            autoScaling: ApplicationAutoScalingClient(api: try client(.applicationAutoScaling, "AnyScaleFrontendService")))
        context.callerARN = {
            try await STS.callerARN(credentials: try await credentials.credentials(), region: region, environment: environment, transport: transport)
        }
        return context
    }
}
