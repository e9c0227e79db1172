import AWSSigning
import AutoscalerCore
import Foundation

/// A profile of `~/.aws/credentials` and `~/.aws/config` (or `AWS_SHARED_CREDENTIALS_FILE`,
/// `AWS_CONFIG_FILE`): static keys, or a `credential_process`, which is how `aws sso` users hand
/// their session to other tools (`credential_process = aws configure export-credentials
/// --profile NAME --format process`). The profile is `--profile`, else `AWS_PROFILE`, else
/// `default`.
public struct SharedFileCredentials: CredentialSource {
    let credentialsFile: String
    let configFile: String
    public let profile: String
    let environment: [String: String]

    public var name: String { "shared files (profile \(profile))" }

    public init(environment: [String: String], profile: String? = nil) {
        let home = environment["HOME"] ?? NSHomeDirectory()
        credentialsFile = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials"
        configFile = environment["AWS_CONFIG_FILE"] ?? "\(home)/.aws/config"
        self.profile = profile ?? environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        self.environment = environment
    }

    /// The profile's settings, the credentials file's over the config file's.
    func settings() throws(CredentialError) -> [String: String]? {
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
        if let key = settings["aws_access_key_id"], let secret = settings["aws_secret_access_key"] {
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: settings["aws_session_token"])
        }
        if let command = settings["credential_process"] {
            return try await ProcessCredentials(command: command, profile: profile).credentials()
        }
        if settings["sso_start_url"] != nil || settings["sso_session"] != nil {
            throw CredentialError("profile \(profile) uses AWS SSO; add `credential_process = aws configure export-credentials --profile \(profile) --format process` to it, or export the credentials into the environment")
        }
        if settings["role_arn"] != nil {
            throw CredentialError("profile \(profile) assumes a role (role_arn), which is not supported yet; use credential_process with `aws configure export-credentials --profile \(profile) --format process`")
        }
        if settings["aws_access_key_id"] != nil || settings["aws_secret_access_key"] != nil {
            throw CredentialError("profile \(profile) has only one of aws_access_key_id and aws_secret_access_key")
        }
        return nil
    }

    static func read(_ path: String) throws(CredentialError) -> INIFile? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CredentialError("\(path) cannot be read as UTF-8 text")
        }
        return try INIFile(parsing: text, file: path)
    }
}
