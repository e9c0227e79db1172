import ArgumentParser

/// How a command reaches AWS: region and profile. Credentials come from the standard chain
/// (docs/credentials.md); endpoints from `AWS_ENDPOINT_URL_ECS` and friends.
public struct AWSOptions: ParsableArguments {
    @Option(help: ArgumentHelp("AWS region (default: the policy's region, else AWS_REGION, AWS_DEFAULT_REGION, the profile's).", valueName: "region"))
    public var region: String?

    @Option(help: ArgumentHelp("Profile of ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE, else default).", valueName: "name"))
    public var profile: String?

    public init() {}
}
