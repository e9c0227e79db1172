import AWSTestSupport
import Foundation
import IntegrationSupport
import Testing

/// Every command, at its most talkative level, with a secret in every place one can be: URLs with
/// passwords, a libpq keyword string, static AWS keys with a session token, credentials from the
/// ECS container endpoint (its authorization token and the keys it answers) and from IMDS (its
/// session token and keys). No output of any command may contain any of them.
@Suite("No secret in any output", .testThreads, .serialized)
struct SecretLeakTests {
    static let redisPassword = "redis-Pw-Q1xvL"
    static let sessionToken = "session-Token-W3v9Zq"
    static let containerToken = "container-Auth-T5u8"

    struct Outputs {
        var texts: [(String, String)] = []

        mutating func add(_ name: String, _ text: String) { texts.append((name, text)) }

        func leaks(of secrets: [String]) -> [String] {
            texts.flatMap { name, text in secrets.filter { text.contains($0) }.map { "\(name) printed \($0)" } }
        }
    }

    /// Runs `arguments` and returns its output whatever the exit status.
    static func output(_ arguments: [String], environment: [String: String]) async throws -> String {
        let process = try ManagedProcess(try Repository.binary, arguments, environment: environment)
        _ = await eventually(timeout: 60, interval: 0.2) { !process.isRunning }
        process.stop(grace: 2)
        return process.output
    }

    /// `run` for a few seconds, then SIGTERM.
    static func runFor(_ seconds: Double, _ arguments: [String], environment: [String: String]) async throws -> String {
        let process = try ManagedProcess(try Repository.binary, arguments, environment: environment)
        try await Task.sleep(for: .seconds(seconds))
        process.signal(SIGTERM)
        _ = await eventually(timeout: 20, interval: 0.2) { !process.isRunning }
        process.stop(grace: 2)
        return process.output
    }

    @Test("a policy that tries to interpolate the task's secrets into shown fields: refused, and no command prints them")
    func policyCannotPublishSecrets() async throws {
        let redis = try await RedisServer.start(password: Self.redisPassword)
        let directory = NSTemporaryDirectory() + "secrets-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let databaseURL = "postgresql://redash:db-Pw-K8s2Mq@db:5432/redash"
        let secretKey = "wJalrXUtnFEMIK7MDENGbPxRfiCYsecretKey"
        let environment = [
            "REDIS_URL": redis.url, "REDASH_DATABASE_URL": databaseURL, "AWS_SECRET_ACCESS_KEY": secretKey, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SESSION_TOKEN": Self.sessionToken, "AWS_REGION": "eu-west-1", "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent",
        ]
        let policies = [
            ("queue name", "cluster: redash\nredis: ${REDIS_URL}\nservices:\n  adhoc: {queues: [\"${REDASH_DATABASE_URL}\"], minTasks: 1, maxTasks: 2}\n"),
            ("cluster", "cluster: ${AWS_SECRET_ACCESS_KEY}\nredis: ${REDIS_URL}\nservices:\n  adhoc: {queues: [queries], minTasks: 1, maxTasks: 2}\n"),
            ("kill switch", "cluster: redash\nkillSwitch: ${AWS_SESSION_TOKEN}\nredis: ${REDIS_URL}\nservices:\n  adhoc: {queues: [queries], minTasks: 1, maxTasks: 2}\n"),
            ("redis url", "cluster: redash\nredis: ${AWS_SECRET_ACCESS_KEY}\nservices:\n  adhoc: {queues: [queries], minTasks: 1, maxTasks: 2}\n"),
            ("schedule name", "cluster: redash\nredis: ${REDIS_URL}\nservices:\n  adhoc:\n    queues: [queries]\n    minTasks: 1\n    maxTasks: 2\n    schedules: [{name: \"${AWS_SECRET_ACCESS_KEY}\", start: \"09:00\", end: \"18:00\", minTasks: 2}]\n"),
            ("a number", "cluster: redash\nredis: ${REDIS_URL}\nservices:\n  adhoc: {queues: [queries], minTasks: \"${REDASH_DATABASE_URL}\", maxTasks: 2}\n"),
        ]
        var outputs = Outputs()
        for (name, text) in policies {
            let path = directory + "/policy.yaml"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            outputs.add("validate (\(name))", try await Self.output(["validate", "--policies", path], environment: environment))
            for command in ["plan", "queues"] {
                outputs.add("\(command) (\(name))", try await Self.output([command, "--policies", path, "--log-level", "trace"], environment: environment))
            }
        }
        let secrets = [databaseURL, "db-Pw-K8s2Mq", secretKey, Self.sessionToken, Self.redisPassword]
        #expect(outputs.leaks(of: secrets).isEmpty, "\(outputs.leaks(of: secrets).prefix(5))")
        // Each was refused with its reason, not merely quiet.
        let validations = outputs.texts.filter { $0.0.hasPrefix("validate") }.map(\.1)
        #expect(validations.count == policies.count)
        #expect(validations[0].contains("is not a Redash queue name"), "\(validations[0])")
        #expect(validations[1].contains("looks like a secret's variable"), "\(validations[1])")
        #expect(validations[2].contains("looks like a secret's variable"), "\(validations[2])")
        #expect(validations[5].contains("looks like a secret's variable"), "\(validations[5])")
    }

    @Test("validate, plan, queues, services, forecast and run (dry-run and live) at trace level print no secret")
    func noSecretAnywhere() async throws {
        let redis = try await RedisServer.start(password: Self.redisPassword)
        let postgres = try await PostgresServer.start()
        let moto = try await LocalHTTPServer.moto()
        let world = try await Lab.setUpMoto(moto, services: ["redash-adhoc-worker"])
        let lab = try await LocalHTTPServer.python(Lab.script, ["serve", "--container-token", Self.containerToken])
        let directory = NSTemporaryDirectory() + "secrets-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let policy = """
            cluster: redash
            region: eu-west-1
            interval: 1s
            redis:
              url: ${REDIS_URL}
              layout: rq
            database: ${DATABASE_URL}
            services:
              redash-adhoc-worker: {queues: [queries], minTasks: 1, maxTasks: 3, workersPerTask: 1}
            """
        let policyPath = directory + "/policies.yaml"
        try policy.write(toFile: policyPath, atomically: true, encoding: .utf8)
        let keywords = "host=127.0.0.1 port=\(postgres.port) user=postgres password=\(postgres.password) dbname=postgres"
        let base = ["REDIS_URL": redis.url, "HOME": "/nonexistent", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": moto.url]
        let credentials: [(String, [String: String])] = [
            ("static keys and a session token", [
                "AWS_ACCESS_KEY_ID": world.controller.accessKeyID, "AWS_SECRET_ACCESS_KEY": world.controller.secretAccessKey,
                "AWS_SESSION_TOKEN": Self.sessionToken, "AWS_EC2_METADATA_DISABLED": "true",
            ]),
            ("the ECS container endpoint", [
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": lab.url + "/container-credentials", "AWS_CONTAINER_AUTHORIZATION_TOKEN": Self.containerToken,
                "AWS_EC2_METADATA_DISABLED": "true",
            ]),
            ("IMDSv2", ["AWS_EC2_METADATA_SERVICE_ENDPOINT": lab.url]),
        ]
        var outputs = Outputs()
        for (index, (source, credentialEnvironment)) in credentials.enumerated() {
            // The keyword string once is enough: it goes where the URL goes.
            let forms = index == 0 ? [("URL", postgres.url), ("keywords", keywords)] : [("URL", postgres.url)]
            for (form, database) in forms {
                var environment = base.merging(credentialEnvironment) { $1 }
                environment["DATABASE_URL"] = database
                let label = "\(source), database as \(form)"
                outputs.add("validate (\(label))", try await Self.output(["validate", "--policies", policyPath], environment: environment))
                for command in ["plan", "queues", "services", "forecast"] {
                    outputs.add("\(command) (\(label))", try await Self.output(
                        [command, "--policies", policyPath, "--log-level", "trace"], environment: environment))
                    outputs.add("\(command) --json (\(label))", try await Self.output(
                        [command, "--policies", policyPath, "--log-level", "trace", "--json"], environment: environment))
                }
                for mode in [["--dry-run"], []] {
                    let port = try Ports.free()
                    outputs.add("run \(mode.joined()) (\(label))", try await Self.runFor(4, [
                        "run", "--policies", policyPath, "--listen", "127.0.0.1:\(port)", "--log-level", "trace", "--log-format", "json",
                    ] + mode, environment: environment))
                }
            }
        }
        let secrets = [Self.redisPassword, postgres.password, world.controller.secretAccessKey, Self.sessionToken, Self.containerToken]
        var leaks = outputs.leaks(of: secrets)
        // The keys the container endpoint and IMDS hand out (aws_lab.py: secret-N, token-N) and
        // IMDS's session tokens (imds-token-N).
        for (name, text) in outputs.texts {
            if let range = text.range(of: #"(?<![A-Za-z0-9-])(secret|token|imds-token)-[0-9]+"#, options: .regularExpression) {
                leaks.append("\(name) printed \(text[range])")
            }
        }
        #expect(leaks.isEmpty, "\(leaks.prefix(10))")
        // The commands did run: the test would pass vacuously if nothing was printed.
        #expect(outputs.texts.count == 4 * 11)
        #expect(outputs.texts.contains { $0.0.hasPrefix("run --dry-run") && $0.1.contains("controller starting") })
        #expect(outputs.texts.contains { $0.0.hasPrefix("plan --json") && $0.1.contains("\"services\"") })
        #expect(outputs.texts.contains { $0.0.hasPrefix("run (") && $0.1.contains("\"level\":\"trace\"") || $0.1.contains("\"level\":\"debug\"") },
                "trace and debug lines were printed")
    }

    @Test("a policy in a SecureString parameter: validate, plan, queues, services and run (reloading a new version) at trace print none of its secrets")
    func noSecretFromParameterStore() async throws {
        let redis = try await RedisServer.start(password: Self.redisPassword)
        let moto = try await LocalHTTPServer.moto()
        let world = try await Lab.setUpMoto(moto, services: ["redash-adhoc-worker"])
        let store = try ParameterStoreLab(moto, keys: world.admin)
        let marker = "parameter-Secret-R4n8"
        // The parameter holds the Redis URL with its password written out, as a SecureString
        // lets a team do; the comment stands for anything else in it.
        func policy(maxTasks: Int) -> String {
            """
            # \(marker)
            cluster: redash
            region: eu-west-1
            interval: 1s
            redis:
              url: \(redis.url)
              layout: rq
            services:
              redash-adhoc-worker: {queues: [queries], minTasks: 1, maxTasks: \(maxTasks), workersPerTask: 1}
            """
        }
        let name = "/redash-autoscaler/policy"
        try await store.put(name, policy(maxTasks: 3), type: "SecureString")
        let environment = [
            "HOME": "/nonexistent", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": moto.url, "AWS_EC2_METADATA_DISABLED": "true",
            // No session token: moto rejects a user's keys with one (InvalidClientTokenId), and the
            // parameter must really be read for this test to say anything.
            "AWS_ACCESS_KEY_ID": world.controller.accessKeyID, "AWS_SECRET_ACCESS_KEY": world.controller.secretAccessKey,
        ]
        var outputs = Outputs()
        outputs.add("validate", try await Self.output(["validate", "--policies", "ssm:\(name)"], environment: environment))
        for command in ["plan", "queues", "services"] {
            outputs.add(command, try await Self.output([command, "--policies", "ssm:\(name)", "--log-level", "trace"], environment: environment))
            outputs.add("\(command) --json", try await Self.output([command, "--policies", "ssm:\(name)", "--log-level", "trace", "--json"], environment: environment))
        }
        let port = try Ports.free()
        let run = try ManagedProcess(try Repository.binary, [
            "run", "--dry-run", "--policies", "ssm:\(name)", "--policy-poll", "1s", "--listen", "127.0.0.1:\(port)", "--log-level", "trace", "--log-format", "json",
        ], environment: environment)
        _ = await eventually(timeout: 20) { run.output.contains("controller starting") || !run.isRunning }
        try await store.put(name, policy(maxTasks: 2), type: "SecureString")
        let reloaded = "policy reloaded from ssm:\(name) (version 2)"
        func messages() -> [String] {
            run.output.split(separator: "\n").compactMap { line in
                ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["message"] as? String
            }
        }
        _ = await eventually(timeout: 20) { messages().contains(reloaded) || !run.isRunning }
        run.signal(SIGTERM)
        _ = await eventually(timeout: 20, interval: 0.2) { !run.isRunning }
        run.stop(grace: 2)
        outputs.add("run --dry-run", run.output)

        let leaks = outputs.leaks(of: [Self.redisPassword, marker, world.controller.secretAccessKey])
        #expect(leaks.isEmpty, "\(leaks.prefix(10))")
        // The commands did read the parameter: the test would pass vacuously otherwise.
        #expect(outputs.texts.first { $0.0 == "validate" }?.1.contains("ssm:\(name) (version 1): valid") == true, "\(outputs.texts.first?.1 ?? "")")
        #expect(outputs.texts.contains { $0.0 == "plan --json" && $0.1.contains("\"services\"") }, "\(outputs.texts)")
        #expect(messages().contains(reloaded), "\(run.output.suffix(3000))")
    }
}
