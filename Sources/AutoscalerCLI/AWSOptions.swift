import AWSClient
import ArgumentParser
import AutoscalerCore
import Logging

/// How a command reaches AWS: region and profile. Credentials come from the standard chain
/// (docs/credentials.md); endpoints from `AWS_ENDPOINT_URL_ECS` and friends.
public struct AWSOptions: ParsableArguments {
    @Option(help: ArgumentHelp("AWS region (default: the policy's region, else AWS_REGION, AWS_DEFAULT_REGION, the profile's).", valueName: "region"))
    public var region: String?

    @Option(help: ArgumentHelp("Profile of ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE, else default).", valueName: "name"))
    public var profile: String?

    public init() {}

    /// Region, credentials and clients for `policy`'s cluster, from these options, the policy and
    /// the environment.
    func context(for policy: Policy, environment: [String: String], logger: Logger) throws -> AWSContext {
        try AWSContext.make(
            cluster: policy.cluster, regionFlag: region, policyRegion: policy.region, profile: profile,
            environment: environment, ecsRate: CallBudget.Rate(policy.ecs), logger: logger)
    }
}
