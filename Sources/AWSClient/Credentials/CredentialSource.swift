import AWSSigning
import AutoscalerCore

/// One place credentials can come from, in the order the AWS SDKs try them.
public protocol CredentialSource: Sendable {
    /// A short name for "what was tried" (`environment`, `shared files (profile default)`).
    var name: String { get }
    /// The credentials, `nil` when this source is not configured, or an error when it is
    /// configured but broken (a credential_process that fails must not silently fall through).
    func credentials() async throws -> AWSCredentials?
}

/// Why no credentials could be had.
public struct CredentialError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Tries sources in order; the first that is configured wins.
public struct CredentialChain: Sendable {
    public var sources: [any CredentialSource]

    public init(sources: [any CredentialSource]) {
        self.sources = sources
    }

    /// The chain the SDKs use: environment, the shared files (a role to assume, static keys or
    /// credential_process) for the selected profile, web identity, the ECS container endpoint,
    /// EC2 instance metadata.
    /// With `--profile`, only the profile: asking for one and silently getting another would be
    /// a surprise.
    public static func standard(
        environment: [String: String], profile: String? = nil, region: String? = nil,
        transport: any HTTPTransport = AsyncHTTPTransport()
    ) -> CredentialChain {
        let files = SharedFileCredentials(environment: environment, profile: profile, region: region, transport: transport)
        if profile != nil { return CredentialChain(sources: [files]) }
        return CredentialChain(sources: [
            EnvironmentCredentials(environment: environment),
            files,
            WebIdentityCredentials(environment: environment, region: region, transport: transport),
            ContainerCredentials(environment: environment, transport: transport),
            InstanceMetadataCredentials(environment: environment, transport: transport),
        ])
    }

    /// The first configured source's credentials; an error listing what was tried when none is.
    public func resolve() async throws -> (credentials: AWSCredentials, source: String) {
        var tried: [String] = []
        for source in sources {
            if let credentials = try await source.credentials() { return (credentials, source.name) }
            tried.append(source.name)
        }
        throw CredentialError("no AWS credentials found; tried: \(tried.joined(separator: ", ")). Set AWS_PROFILE (or --profile) for a profile in ~/.aws, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    }
}
