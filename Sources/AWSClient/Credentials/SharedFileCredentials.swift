import AWSSigning
import AutoscalerCore
import Foundation

/// A profile of `~/.aws/credentials` and `~/.aws/config` (or `AWS_SHARED_CREDENTIALS_FILE`,
/// `AWS_CONFIG_FILE`): a role to assume (`role_arn` with `source_profile` or
/// `credential_source`, through STS AssumeRole), static keys, or a `credential_process`, which is
/// how `aws sso` users hand their session to other tools (`credential_process = aws configure
/// export-credentials --profile NAME --format process`). The profile is `--profile`, else
/// `AWS_PROFILE`, else `default`. As in the AWS SDKs, a profile's `role_arn` wins over keys in
/// the same profile, and a source profile can itself assume a role.
public struct SharedFileCredentials: CredentialSource {
    let credentialsFile: String
    let configFile: String
    public let profile: String
    let environment: [String: String]
    /// The region for STS when the profile names none.
    let stsRegion: String?
    let transport: any HTTPTransport

    public var name: String { "shared files (profile \(profile))" }

    /// The longest chain of profiles followed through `source_profile`.
    static let maximumChain = 5

    public init(environment: [String: String], profile: String? = nil, region: String? = nil, transport: any HTTPTransport = AsyncHTTPTransport()) {
        let home = environment["HOME"] ?? NSHomeDirectory()
        credentialsFile = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials"
        configFile = environment["AWS_CONFIG_FILE"] ?? "\(home)/.aws/config"
        self.profile = profile ?? environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        self.environment = environment
        stsRegion = region
        self.transport = transport
    }

    /// The selected profile's settings, the credentials file's over the config file's.
    func settings() throws(CredentialError) -> [String: String]? {
        try settings(of: profile)
    }

    func settings(of profile: String) throws(CredentialError) -> [String: String]? {
        var merged: [String: String] = [:]
        var found = false
        // In config, profiles other than default are written `[profile NAME]`.
        let configSection = profile == "default" ? "default" : "profile \(profile)"
        if let config = try Self.read(configFile), let section = config.sections[configSection] ?? config.sections[profile] {
            merged.merge(section) { _, new in new }
            found = true
        }
        if let credentials = try Self.read(credentialsFile), let section = credentials.sections[profile] {
            merged.merge(section) { _, new in new }
            found = true
        }
        return found ? merged : nil
    }

    /// The region the profile sets, if any.
    public func region() throws -> String? {
        try settings()?["region"]
    }

    public func credentials() async throws -> AWSCredentials? {
        guard let settings = try settings() else {
            if environment["AWS_PROFILE"] != nil || profile != "default" {
                throw CredentialError("profile \(profile) is not in \(credentialsFile) or \(configFile)")
            }
            return nil
        }
        return try await credentials(of: profile, settings: settings, chain: [])
    }

    /// A profile's credentials, nil when it holds none (a profile with only a region lets the
    /// chain go on). `chain`: the profiles that led here through `source_profile`.
    func credentials(of profile: String, settings: [String: String], chain: [String]) async throws -> AWSCredentials? {
        if let roleARN = settings["role_arn"] {
            return try await assumeRole(roleARN, profile: profile, settings: settings, chain: chain + [profile])
        }
        if let key = settings["aws_access_key_id"], let secret = settings["aws_secret_access_key"] {
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: settings["aws_session_token"])
        }
        if let command = settings["credential_process"] {
            return try await ProcessCredentials(command: command, profile: profile).credentials()
        }
        if settings["sso_start_url"] != nil || settings["sso_session"] != nil {
            throw CredentialError("profile \(profile) uses AWS SSO; add `credential_process = aws configure export-credentials --profile \(profile) --format process` to it, or export the credentials into the environment")
        }
        if settings["aws_access_key_id"] != nil || settings["aws_secret_access_key"] != nil {
            throw CredentialError("profile \(profile) has only one of aws_access_key_id and aws_secret_access_key")
        }
        return nil
    }

    /// STS AssumeRole for `roleARN`, signed with the credentials of the profile's
    /// `source_profile` or `credential_source`.
    func assumeRole(_ roleARN: String, profile: String, settings: [String: String], chain: [String]) async throws -> AWSCredentials {
        if settings["mfa_serial"] != nil {
            throw CredentialError("profile \(profile) assumes \(roleARN) with MFA (mfa_serial), which needs a code typed in; add `credential_process = aws configure export-credentials --profile \(profile) --format process` to a profile of its own and use that one")
        }
        let source: AWSCredentials
        switch (settings["source_profile"], settings["credential_source"]) {
        case (.some, .some):
            throw CredentialError("profile \(profile) sets both source_profile and credential_source; keep one")
        case (.some(let name), nil) where name == profile:
            // A profile that is its own source signs with its own keys.
            guard let key = settings["aws_access_key_id"], let secret = settings["aws_secret_access_key"] else {
                throw CredentialError("profile \(profile) is its own source_profile but has no aws_access_key_id and aws_secret_access_key")
            }
            source = AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: settings["aws_session_token"])
        case (.some(let name), nil):
            guard !chain.contains(name) else {
                throw CredentialError("profiles \((chain + [name]).joined(separator: " → ")) form a loop through source_profile")
            }
            guard chain.count < Self.maximumChain else {
                throw CredentialError("profiles \((chain + [name]).joined(separator: " → ")) chain more than \(Self.maximumChain) roles through source_profile")
            }
            guard let sourceSettings = try self.settings(of: name) else {
                throw CredentialError("profile \(profile): source_profile \(name) is not in \(credentialsFile) or \(configFile)")
            }
            guard let found = try await credentials(of: name, settings: sourceSettings, chain: chain) else {
                throw CredentialError("profile \(profile): source_profile \(name) has no credentials (keys, credential_process or role_arn)")
            }
            source = found
        case (nil, .some(let kind)):
            let named: any CredentialSource
            switch kind {
            case "Environment": named = EnvironmentCredentials(environment: environment)
            case "Ec2InstanceMetadata": named = InstanceMetadataCredentials(environment: environment, transport: transport)
            case "EcsContainer": named = ContainerCredentials(environment: environment, transport: transport)
            default:
                throw CredentialError("profile \(profile): credential_source \(kind) is not one of Environment, Ec2InstanceMetadata, EcsContainer")
            }
            guard let found = try await named.credentials() else {
                throw CredentialError("profile \(profile): credential_source \(kind) has no credentials here")
            }
            source = found
        case (nil, nil):
            throw CredentialError("profile \(profile) sets role_arn but neither source_profile nor credential_source")
        }
        var parameters = [("RoleArn", roleARN), ("RoleSessionName", settings["role_session_name"] ?? STS.defaultSessionName())]
        if let externalID = settings["external_id"] { parameters.append(("ExternalId", externalID)) }
        if let text = settings["duration_seconds"] {
            guard let seconds = Int(text), (900...43_200).contains(seconds) else {
                throw CredentialError("profile \(profile): duration_seconds must be whole seconds from 900 to 43200, not \(text)")
            }
            parameters.append(("DurationSeconds", String(seconds)))
        }
        return try await STS.credentials(
            "AssumeRole", roleARN: roleARN, parameters: parameters, signer: source,
            region: settings["region"] ?? stsRegion, environment: environment, transport: transport)
    }

    static func read(_ path: String) throws(CredentialError) -> INIFile? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CredentialError("\(path) cannot be read as UTF-8 text")
        }
        return try INIFile(parsing: text, file: path)
    }
}
