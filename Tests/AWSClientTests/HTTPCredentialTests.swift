@testable import AWSClient
import AWSSigning
import AutoscalerCore
import Foundation
import AWSTestSupport
import IntegrationSupport
import SystemClock
import Synchronization
import Testing
import TestSupport

/// The credential sources that speak HTTP, against a local server playing the ECS container
/// endpoint and IMDSv2, and moto's STS for web identity.
@Suite("HTTP credential sources", .testThreads)
struct HTTPCredentialTests {
    @Test("ECS container endpoint: full URI with a token from a file; a wrong token is an error naming the endpoint, not the token")
    func containerEndpoint() async throws {
        let server = try await LocalHTTPServer.python(Lab.script, ["serve", "--container-token", "agent-token-123"])
        let tokenFile = NSTemporaryDirectory() + "token-\(UUID().uuidString)"
        try "agent-token-123\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let environment = [
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url + "/container-credentials",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile,
            "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent",
        ]
        let (credentials, source) = try await CredentialChain.standard(environment: environment).resolve()
        #expect(source.hasPrefix("ECS container endpoint"))
        #expect(credentials.accessKeyID == "ASIACONTAINER0001" && credentials.sessionToken == "token-1")
        #expect(credentials.expiration.map { $0 > WallClock.now() } == true)

        // The relative form, as ECS sets it for a task role, with the base moved to the server.
        let relative = ContainerCredentials(environment: ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/container-credentials", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "agent-token-123"], relativeBase: server.url)
        #expect(try await relative.credentials()?.accessKeyID == "ASIACONTAINER0002")

        var wrong = environment
        wrong["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = nil
        wrong["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "stolen-token-xyz"
        do {
            _ = try await CredentialChain.standard(environment: wrong).resolve()
            Issue.record("a wrong authorization token gave credentials")
        } catch let error as CredentialError {
            #expect(error.message.contains("HTTP 403: invalid authorization token"), "\(error)")
            #expect(!error.message.contains("stolen-token-xyz"))
        }
    }

    @Test("a full URI over plain http to a remote host is refused before any request")
    func remoteHTTPRefused() async throws {
        let source = ContainerCredentials(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://10.1.2.3/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "t"])
        await #expect {
            _ = try await source.credentials()
        } throws: { error in
            (error as? CredentialError)?.message.contains("must point at a loopback address") == true
        }
    }

    @Test("IMDSv2: session token, role, credentials; an expired session token is renewed once")
    func instanceMetadata() async throws {
        let server = try await LocalHTTPServer.python(Lab.script, ["serve"])
        let source = InstanceMetadataCredentials(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.url + "/"])
        let first = try #require(try await source.credentials())
        #expect(first.accessKeyID == "ASIAIMDS0001" && first.sessionToken == "token-1")
        // The server forgets its tokens (as after its TTL); the source gets a new one.
        try await Lab.control(server, "/_expire-imds-tokens", "{}")
        let second = try #require(try await source.credentials())
        #expect(second.accessKeyID == "ASIAIMDS0002")
        // Disabled by the standard variable.
        let disabled = InstanceMetadataCredentials(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.url, "AWS_EC2_METADATA_DISABLED": "true"])
        #expect(try await disabled.credentials() == nil)
    }

    @Test("temporary credentials are renewed before they expire, and kept when renewal fails while they are valid")
    func renewal() async throws {
        let server = try await LocalHTTPServer.python(Lab.script, ["serve", "--lifetime", "900"])
        let clock = SettableClock(start: WallClock.now())
        let environment = ["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url + "/container-credentials", "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent"]
        let provider = CredentialProvider(chain: .standard(environment: environment), refreshAhead: .seconds(300), now: clock.reading)
        #expect(try await provider.credentials().accessKeyID == "ASIACONTAINER0001")
        clock.advance(by: Duration.seconds(500))  // 400 s left: still used
        #expect(try await provider.credentials().accessKeyID == "ASIACONTAINER0001")
        clock.advance(by: Duration.seconds(150))  // 250 s left: inside the 300 s window, renewed
        #expect(try await provider.credentials().accessKeyID == "ASIACONTAINER0002")

        // The endpoint goes away: the valid credentials stay in use until they expire.
        let later = SettableClock(start: WallClock.now())
        let broken = CredentialProvider(chain: CredentialChain(sources: [FailingAfterFirst(environment: environment)]), refreshAhead: .seconds(300), now: later.reading)
        let kept = try await broken.credentials()
        later.advance(by: Duration.seconds(700))  // 200 s left: renewal fails, the old ones are kept
        #expect(try await broken.credentials() == kept)
        later.advance(by: Duration.seconds(300))  // expired
        await #expect(throws: CredentialError.self) { try await broken.credentials() }
    }

    @Test("web identity through moto's STS AssumeRoleWithWebIdentity")
    func webIdentity() async throws {
        let moto = try await LocalHTTPServer.moto(freeActions: 100)
        let tokenFile = NSTemporaryDirectory() + "oidc-\(UUID().uuidString)"
        try "eyJhbGciOiJSUzI1NiJ9.payload.signature\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let environment = [
            "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/redash-autoscaler",
            "AWS_ROLE_SESSION_NAME": "ci-run", "AWS_ENDPOINT_URL_STS": moto.url, "HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true",
        ]
        let (credentials, source) = try await CredentialChain.standard(environment: environment, region: "eu-west-1").resolve()
        #expect(source.hasPrefix("web identity"))
        #expect(credentials.accessKeyID.hasPrefix("ASIA") && credentials.sessionToken?.isEmpty == false)
        #expect(credentials.expiration.map { $0 > WallClock.now() } == true)

        var missingRole = environment
        missingRole["AWS_ROLE_ARN"] = nil
        await #expect {
            _ = try await CredentialChain.standard(environment: missingRole, region: "eu-west-1").resolve()
        } throws: { error in
            (error as? CredentialError)?.message == "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not"
        }
    }

    @Test("a dropped connection or a 5xx from STS is tried again; a refusal is not")
    func stsRetries() async throws {
        let moto = try await LocalHTTPServer.moto(freeActions: 100)
        let tokenFile = NSTemporaryDirectory() + "oidc-\(UUID().uuidString)"
        try "eyJhbGciOiJSUzI1NiJ9.payload.signature\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let environment = [
            "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/redash-autoscaler",
            "AWS_ROLE_SESSION_NAME": "ci-run", "AWS_ENDPOINT_URL_STS": moto.url,
        ]
        // The first attempt loses its connection, the second gets a 503, the third reaches moto.
        let flaky = FlakyTransport(failures: [.drop, .status(503)])
        let credentials = try await WebIdentityCredentials(environment: environment, region: "eu-west-1", transport: flaky).credentials()
        #expect(credentials?.accessKeyID.hasPrefix("ASIA") == true)
        #expect(flaky.sent == 3)

        // A 400 is STS's answer: asked once, not three times.
        let refusing = FlakyTransport(failures: [.status(400), .status(400), .status(400)])
        await #expect(throws: CredentialError.self) {
            _ = try await WebIdentityCredentials(environment: environment, region: "eu-west-1", transport: refusing).credentials()
        }
        #expect(refusing.sent == 1)

        // Three drops in a row: the error names the call, after three attempts.
        let dead = FlakyTransport(failures: [.drop, .drop, .drop])
        await #expect {
            _ = try await WebIdentityCredentials(environment: environment, region: "eu-west-1", transport: dead).credentials()
        } throws: { error in
            "\(error)".contains("AssumeRoleWithWebIdentity")
        }
        #expect(dead.sent == 3)
    }

    @Test("no credentials anywhere: one message listing every source tried")
    func nothingAnywhere() async throws {
        // A metadata endpoint where nothing listens: counts as "not on EC2".
        let closed = try Ports.free()
        let environment = ["HOME": "/nonexistent", "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(closed)"]
        do {
            _ = try await CredentialChain.standard(environment: environment).resolve()
            Issue.record("credentials from nowhere")
        } catch let error as CredentialError {
            for source in ["environment", "shared files (profile default)", "web identity", "ECS container endpoint", "EC2 instance metadata"] {
                #expect(error.message.contains(source), "\(error)")
            }
        }
    }
}

/// Gives container-endpoint credentials once, then fails as an unreachable endpoint would.
final class FailingAfterFirst: CredentialSource, Sendable {
    let environment: [String: String]
    private let calls = Mutex(0)
    let name = "flaky endpoint"

    init(environment: [String: String]) { self.environment = environment }

    func credentials() async throws -> AWSCredentials? {
        let call = calls.withLock { calls in
            calls += 1
            return calls
        }
        guard call == 1 else { throw CredentialError("endpoint unreachable") }
        return try await ContainerCredentials(environment: environment).credentials()
    }
}

/// Fails the first requests as told, then forwards to the real server.
final class FlakyTransport: HTTPTransport {
    enum Failure { case drop, status(Int) }
    private let state: Mutex<(failures: [Failure], sent: Int)>
    private let real = AsyncHTTPTransport()

    init(failures: [Failure]) { state = Mutex((failures, 0)) }

    var sent: Int { state.withLock { $0.sent } }

    func send(method: String, url: String, headers: [(name: String, value: String)], body: [UInt8], timeout: Duration) async throws -> HTTPReply {
        let failure: Failure? = state.withLock { state in
            state.sent += 1
            return state.failures.isEmpty ? nil : state.failures.removeFirst()
        }
        switch failure {
        case .drop: throw TransportError(kind: .connection, target: "\(method) \(url)", detail: "connection closed by the test")
        case .status(let code): return HTTPReply(status: code, body: Array("<ErrorResponse><Error><Code>Test</Code></Error></ErrorResponse>".utf8))
        case nil:
            // What this transport tests is which attempts are made, not STS's 10 s deadline:
            // moto's first STS answer (it loads its STS backend then) took longer than that once
            // in a loaded clean-clone parallel pass, and the test failed on the deadline.
            return try await real.send(method: method, url: url, headers: headers, body: body, timeout: max(timeout, .seconds(60)))
        }
    }
}
