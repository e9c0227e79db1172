import AutoscalerCore
@testable import AWSClient
import AWSSigning
import Foundation
import Testing
import IntegrationSupport

/// A throwaway HOME with ~/.aws files and scripts.
private final class FakeHome: Sendable {
    let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("home-\(UUID().uuidString)")

    init(credentials: String? = nil, config: String? = nil) throws {
        try FileManager.default.createDirectory(at: url.appendingPathComponent(".aws"), withIntermediateDirectories: true)
        if let credentials { try credentials.write(to: url.appendingPathComponent(".aws/credentials"), atomically: true, encoding: .utf8) }
        if let config { try config.write(to: url.appendingPathComponent(".aws/config"), atomically: true, encoding: .utf8) }
    }

    /// Writes a shell script and returns the command that runs it. It is run through /bin/sh
    /// rather than exec'd: a process spawned by a concurrent test can briefly hold the file's
    /// write descriptor, and exec'ing it then fails with "Text file busy".
    func script(_ name: String, _ body: String) throws -> String {
        let path = url.appendingPathComponent(name).path
        try "\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
        return "/bin/sh \(path)"
    }

    /// No metadata service: these tests are about files, and must not wait on 169.254.169.254.
    var environment: [String: String] { ["HOME": url.path, "AWS_EC2_METADATA_DISABLED": "true"] }

    deinit { try? FileManager.default.removeItem(at: url) }
}

@Suite("Credential chain", .testThreads)
struct CredentialChainTests {
    @Test("the environment wins over the shared files")
    func environmentFirst() async throws {
        let home = try FakeHome(credentials: "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = file-secret\n")
        var environment = home.environment
        environment["AWS_ACCESS_KEY_ID"] = "AKIAENV"
        environment["AWS_SECRET_ACCESS_KEY"] = "env-secret"
        environment["AWS_SESSION_TOKEN"] = "env-token"
        let (credentials, source) = try await CredentialChain.standard(environment: environment).resolve()
        #expect(credentials == AWSCredentials(accessKeyID: "AKIAENV", secretAccessKey: "env-secret", sessionToken: "env-token"))
        #expect(source.hasPrefix("environment"))
    }

    @Test("a named profile from AWS_PROFILE, with comments, nested settings and config-file region")
    func namedProfile() async throws {
        let home = try FakeHome(
            credentials: """
                # team keys
                [default]
                aws_access_key_id = AKIADEFAULT
                aws_secret_access_key = default-secret

                [redash-prod]
                aws_access_key_id=AKIAPROD
                aws_secret_access_key =  prod-secret
                ; a comment
                """,
            config: """
                [profile redash-prod]
                region = ap-northeast-1
                s3 =
                    max_concurrent_requests = 20
                """)
        var environment = home.environment
        environment["AWS_PROFILE"] = "redash-prod"
        let chain = CredentialChain.standard(environment: environment)
        let (credentials, source) = try await chain.resolve()
        #expect(credentials.accessKeyID == "AKIAPROD" && credentials.secretAccessKey == "prod-secret")
        #expect(source == "shared files (profile redash-prod)")
        #expect(try SharedFileCredentials(environment: environment).region() == "ap-northeast-1")
        // --profile beats AWS_PROFILE.
        let explicit = try await CredentialChain.standard(environment: environment, profile: "default").resolve()
        #expect(explicit.credentials.accessKeyID == "AKIADEFAULT")
    }

    @Test("credential_process: a real script's JSON, with session token and expiry")
    func credentialProcess() async throws {
        let home = try FakeHome()
        let script = try home.script("sso-export", """
            echo '{"Version": 1, "AccessKeyId": "ASIASSO", "SecretAccessKey": "sso-secret", "SessionToken": "sso-token", "Expiration": "2026-11-23T10:00:00Z"}'
            """)
        try "[profile sso]\ncredential_process = \(script) --profile sso\n".write(
            to: home.url.appendingPathComponent(".aws/config"), atomically: true, encoding: .utf8)
        let (credentials, _) = try await CredentialChain.standard(environment: home.environment, profile: "sso").resolve()
        #expect(credentials.accessKeyID == "ASIASSO")
        #expect(credentials.sessionToken == "sso-token")
        #expect(credentials.expiration?.secondsSinceEpoch == 1_795_428_000)
    }

    @Test("a credential_process that fails or prints garbage is an error, never a fall-through, and never echoes the secret",
          arguments: [
              ("echo 'Error when retrieving token from sso: Token has expired' >&2; exit 255", "exited 255: Error when retrieving token from sso: Token has expired"),
              ("echo 'not json at all, secret-ish-value'", "did not print a JSON object"),
              ("echo '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"secret-ish-value\"}'", "only Version 1"),
              ("echo '{\"Version\": 1, \"AccessKeyId\": \"A\"}'", "no AccessKeyId or SecretAccessKey"),
              ("echo '{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"secret-ish-value\", \"Expiration\": \"tomorrow\"}'", "not ISO 8601"),
          ])
    func brokenProcess(_ body: String, _ expected: String) async throws {
        let home = try FakeHome()
        let script = try home.script("broken", body)
        try "[default]\ncredential_process = \(script)\n".write(
            to: home.url.appendingPathComponent(".aws/config"), atomically: true, encoding: .utf8)
        do {
            _ = try await CredentialChain.standard(environment: home.environment).resolve()
            Issue.record("a broken credential_process gave credentials")
        } catch let error as CredentialError {
            #expect(error.message.contains(expected), "\(error)")
            #expect(!error.message.contains("secret-ish-value"))
        }
    }

    @Test("a malformed credentials file names the file and line")
    func malformedFile() async throws {
        let home = try FakeHome(credentials: "[default]\naws_access_key_id AKIA\n")
        do {
            _ = try await CredentialChain.standard(environment: home.environment).resolve()
            Issue.record("a malformed file was accepted")
        } catch let error as CredentialError {
            #expect(error.message.hasSuffix(".aws/credentials:2: expected `key = value`"), "\(error)")
        }
    }

    @Test("an SSO profile without credential_process says how to fix it; a missing profile is named")
    func guidance() async throws {
        let home = try FakeHome(config: "[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\n")
        await #expect(throws: CredentialError.self) { _ = try await CredentialChain.standard(environment: home.environment, profile: "sso").resolve() }
        do {
            _ = try await CredentialChain.standard(environment: home.environment, profile: "sso").resolve()
        } catch let error as CredentialError {
            #expect(error.message.contains("aws configure export-credentials --profile sso --format process"))
        }
        do {
            _ = try await CredentialChain.standard(environment: home.environment, profile: "typo").resolve()
        } catch let error as CredentialError {
            #expect(error.message.contains("profile typo is not in"))
        }
    }

    @Test("role profiles that cannot work say why before any call to STS", arguments: [
        ("[profile r]\nrole_arn = arn:aws:iam::1:role/x\n", "profile r sets role_arn but neither source_profile nor credential_source"),
        ("[profile r]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = s\ncredential_source = Environment\n", "profile r sets both source_profile and credential_source"),
        ("[profile r]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = nowhere\n", "profile r: source_profile nowhere is not in"),
        ("[profile r]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = s\n[profile s]\nregion = eu-west-1\n", "profile r: source_profile s has no credentials"),
        ("[profile r]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = s\n[profile s]\nrole_arn = arn:aws:iam::1:role/y\nsource_profile = r\n", "profiles r → s → r form a loop"),
        ("[profile r]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = r\n", "profile r is its own source_profile but has no aws_access_key_id"),
        ("[profile r]\nrole_arn = arn:aws:iam::1:role/x\ncredential_source = Laptop\n", "credential_source Laptop is not one of Environment, Ec2InstanceMetadata, EcsContainer"),
        ("[profile r]\nrole_arn = arn:aws:iam::1:role/x\ncredential_source = Environment\n", "profile r: credential_source Environment has no credentials here"),
        ("[profile r]\nrole_arn = arn:aws:iam::1:role/x\nmfa_serial = arn:aws:iam::1:mfa/me\nsource_profile = r\n", "with MFA (mfa_serial)"),
        ("[profile r]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = s\nduration_seconds = 60\n[profile s]\naws_access_key_id = AKIAS\naws_secret_access_key = s-secret\n", "duration_seconds must be whole seconds from 900 to 43200, not 60"),
    ])
    func roleProfileErrors(config: String, message: String) async throws {
        let home = try FakeHome(config: config)
        // An STS endpoint where nothing listens: reaching it would be a different error.
        var environment = home.environment
        environment["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:9"
        do {
            _ = try await CredentialChain.standard(environment: environment, profile: "r").resolve()
            Issue.record("credentials from a broken role profile")
        } catch let error as CredentialError {
            #expect(error.message.contains(message), "\(error)")
            #expect(!error.message.contains("s-secret"))
        }
    }

    @Test("only half of the environment pair is an error")
    func halfEnvironment() async {
        await #expect(throws: CredentialError.self) {
            _ = try await CredentialChain.standard(environment: ["AWS_ACCESS_KEY_ID": "AKIA", "HOME": "/nonexistent"]).resolve()
        }
    }
}
