import AWSClient
import Foundation
import IntegrationSupport

/// The fixtures of `Python/aws_lab.py`, and clients pointed at them.
public enum Lab {
    public static let script = Repository.root.appendingPathComponent("Tests/AWSClientTests/Python/aws_lab.py").path
    public static let iamPolicy = Repository.root.appendingPathComponent("deploy/iam/controller-policy.json.tftpl").path
    /// What the Terraform module adds to the task role when the policy lives in Parameter Store.
    public static let parameterIAMPolicy = Repository.root.appendingPathComponent("deploy/iam/policy-parameter-policy.json.tftpl").path
    public static let region = "eu-west-1"

    public struct Keys: Sendable {
        public var accessKeyID: String
        public var secretAccessKey: String

        public init(accessKeyID: String, secretAccessKey: String) {
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
        }
    }

    public struct MotoWorld: Sendable {
        /// May do anything: for the tests' own setup (putting a parameter).
        public var admin: Keys
        /// The controller's policy, and GetParameter on any parameter.
        public var controller: Keys
        public var readonly: Keys
        /// A user allowed only to assume `roleARN`, a role with the controller's policy.
        public var laptop: Keys
        public var roleARN: String
        public var tasks: [String]
    }

    /// Creates the IAM users (from deploy/'s policy document), a cluster `redash` with
    /// `services`, `tasks` running tasks and scaling targets on `scalableTargets`.
    public static func setUpMoto(_ moto: LocalHTTPServer, services: [String], tasks: Int = 0, scalableTargets: [String] = []) async throws -> MotoWorld {
        var arguments = [script, "moto-setup", "--endpoint", moto.url, "--region", region, "--policy", iamPolicy,
                         "--parameter-policy", parameterIAMPolicy, "--services"] + services + ["--tasks", String(tasks)]
        if !scalableTargets.isEmpty { arguments += ["--scalable-target"] + scalableTargets }
        let output = try await ManagedProcess.run(Repository.python, arguments, timeout: 120)
        guard let line = output.split(separator: "\n").last,
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let admin = object["admin"] as? [String: String], let controller = object["controller"] as? [String: String], let readonly = object["readonly"] as? [String: String],
              let laptop = object["laptop"] as? [String: String], let roleARN = object["roleArn"] as? String else {
            throw HarnessError("moto-setup printed no keys:\n\(output)")
        }
        func keys(_ entry: [String: String]) -> Keys { Keys(accessKeyID: entry["accessKeyId"]!, secretAccessKey: entry["secretAccessKey"]!) }
        return MotoWorld(
            admin: keys(admin), controller: keys(controller), readonly: keys(readonly), laptop: keys(laptop), roleARN: roleARN, tasks: object["tasks"] as? [String] ?? [])
    }

    /// An environment with only these keys and this endpoint: no profile, no metadata service.
    public static func environment(_ keys: Keys, endpoint: String) -> [String: String] {
        [
            "AWS_ACCESS_KEY_ID": keys.accessKeyID, "AWS_SECRET_ACCESS_KEY": keys.secretAccessKey,
            "AWS_ENDPOINT_URL": endpoint, "AWS_EC2_METADATA_DISABLED": "true",
            "HOME": NSTemporaryDirectory() + "no-home-\(UUID().uuidString)",
        ]
    }

    /// Quick retries, so that tests of giving up do not wait seconds.
    public static let quickRetry = RetryPolicy(maxAttempts: 3, base: .milliseconds(20), cap: .milliseconds(100))

    public static func context(_ keys: Keys, endpoint: String, cluster: String = "redash", retry: RetryPolicy = quickRetry) throws -> AWSContext {
        try AWSContext.make(
            cluster: cluster, regionFlag: region, policyRegion: nil, profile: nil,
            environment: environment(keys, endpoint: endpoint), retry: retry)
    }

    /// Posts control JSON to the stand-in (`/_faults`, `/_tasks`, `/_expire-imds-tokens`).
    public static func control(_ server: LocalHTTPServer, _ path: String, _ json: String) async throws {
        let reply = try await AsyncHTTPTransport().send(
            method: "POST", url: server.url + path, headers: [("Content-Type", "application/json")], body: Array(json.utf8), timeout: .seconds(5))
        guard reply.status == 200 else { throw HarnessError("stand-in \(path) answered \(reply.status)") }
    }

    /// How many ECS calls the stand-in received.
    public static func requestCount(_ server: LocalHTTPServer) async throws -> Int {
        let reply = try await AsyncHTTPTransport().send(method: "GET", url: server.url + "/_requests", headers: [], body: [], timeout: .seconds(5))
        let object = try JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any]
        return (object?["requests"] as? [[Any]])?.filter { !($0.last is NSNull) }.count ?? -1
    }
}
