import AWSClient
import AWSTestSupport
import AutoscalerCore
import Foundation
import IntegrationSupport

/// The real `redash-autoscaler run` binary as a child process, with Redis and moto (IAM on).
final class ControllerProcess: @unchecked Sendable {
    let process: ManagedProcess
    let port: Int
    let policyPath: String
    let directory: URL

    /// Starts `run` with `policy` (YAML) and waits until `/healthz` answers. With `location`
    /// (`ssm:/name`), the policy is read from there instead of the file.
    static func start(
        policy: String, environment: [String: String], arguments: [String] = [], location: String? = nil
    ) async throws -> ControllerProcess {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("controller-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let policyPath = directory.appendingPathComponent("policies.yaml").path
        try policy.write(toFile: policyPath, atomically: true, encoding: .utf8)
        let port = try Ports.free()
        let process = try ManagedProcess(
            try Repository.binary,
            ["run", "--policies", location ?? policyPath, "--listen", "127.0.0.1:\(port)", "--log-format", "json"] + arguments,
            environment: environment)
        let controller = ControllerProcess(process: process, port: port, policyPath: policyPath, directory: directory)
        let up = await eventually(timeout: 30, interval: 0.2) { (try? await controller.get("/healthz").status) == 200 || !process.isRunning }
        guard up, process.isRunning else { throw HarnessError("the controller did not start:\n\(process.output)") }
        return controller
    }

    private init(process: ManagedProcess, port: Int, policyPath: String, directory: URL) {
        self.process = process
        self.port = port
        self.policyPath = policyPath
        self.directory = directory
    }

    func get(_ path: String) async throws -> HTTPReply {
        try await AsyncHTTPTransport().send(method: "GET", url: "http://127.0.0.1:\(port)\(path)", headers: [], body: [], timeout: .seconds(5))
    }

    /// The log lines (JSON objects) so far.
    /// Everything the controller printed.
    var output: String { process.output }

    /// The JSON log lines, every value as text (numbers as their digits).
    var logLines: [[String: String]] {
        logObjects.map { $0.mapValues { "\($0)" } }
    }

    /// The JSON log lines as parsed, numbers as numbers.
    var logObjects: [[String: Any]] {
        process.output.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    func rewritePolicy(_ text: String) throws {
        // Written beside and renamed: the controller never reads half a file.
        let temporary = policyPath + ".new"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        _ = rename(temporary, policyPath)
    }

    deinit {
        let directory = self.directory
        process.stopInBackground(grace: 5) { try? FileManager.default.removeItem(at: directory) }
    }
}

/// moto with a cluster, the controller's IAM user and Redis; and a client to read what moto says.
struct ControllerWorld {
    let moto: LocalHTTPServer
    let redis: RedisServer
    let keys: Lab.MotoWorld
    let reader: AWSContext

    static let queuesScript = Repository.root.appendingPathComponent("Tests/QueueProbesTests/Python/redash_queues.py").path

    /// `services` get desired counts 1, 2, 3, 1, … (the lab's pattern).
    static func make(services: [String]) async throws -> ControllerWorld {
        let moto = try await LocalHTTPServer.moto()
        let redis = try await RedisServer.start()
        let keys = try await Lab.setUpMoto(moto, services: services)
        return ControllerWorld(moto: moto, redis: redis, keys: keys, reader: try Lab.context(keys.controller, endpoint: moto.url))
    }

    func environment(_ keys: Lab.Keys? = nil, extra: [String: String] = [:]) -> [String: String] {
        var environment = Lab.environment(keys ?? self.keys.controller, endpoint: moto.url)
        environment["AWS_REGION"] = Lab.region
        environment["REDIS_URL"] = redis.url
        for (key, value) in extra { environment[key] = value }
        return environment
    }

    func desired(_ service: String) async throws -> Int {
        try await reader.ecs.describeServices([service]).services.first?.desiredCount ?? -1
    }

    /// Enqueues `count` real RQ jobs that each sleep `seconds` once a worker takes them.
    func enqueue(_ queue: String, count: Int, seconds: Double = 60) async throws {
        try await ManagedProcess.run(Repository.python, [Self.queuesScript, "rq-enqueue", redis.url, queue, String(count), "--seconds", String(seconds)])
    }

    /// A real RQ worker (Redash's HerokuWorker) on `queue`, until released.
    func worker(_ queue: String, name: String) throws -> ManagedProcess {
        try ManagedProcess(Repository.python, [Self.queuesScript, "rq-worker", redis.url, queue, name],
                           environment: ["PYTHONPATH": Repository.root.appendingPathComponent("Tests/QueueProbesTests/Python").path])
    }
}

/// A policy for the tests: 1 s interval, a 4 s scale-down window.
func testPolicy(adhocMax: Int = 3, extra: String = "") -> String {
    """
    cluster: redash
    interval: 1s
    redis:
      url: ${REDIS_URL}
      layout: rq
    defaults:
      scaleDown:
        stabilizationWindow: 4s
        maxStep: 4
        cooldown: 0s
      staleAfter: 10s
    services:
      redash-adhoc-worker:
        queues: [queries]
        minTasks: 1
        maxTasks: \(adhocMax)
        workersPerTask: 1
      redash-scheduled-worker:
        queues: [scheduled_queries]
        minTasks: 1
        maxTasks: 2
        workersPerTask: 1
    \(extra)
    """
}

/// Log lines against the schema written from Datadog's documented attributes
/// (`Python/datadog_log.schema.json`), checked with the jsonschema library.
enum DatadogLogSchema {
    static let script = Repository.root.appendingPathComponent("Tests/ControllerTests/Python/check_datadog_logs.py").path

    static func check(_ output: String) throws {
        let input = NSTemporaryDirectory() + "log-\(UUID().uuidString).jsonl"
        try output.write(toFile: input, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: input) }
        let result = try ManagedProcess.runBlocking("/bin/sh", ["-c", "\"$0\" \"$1\" < \"$2\"", Repository.python, script, input])
        print("Datadog log schema: \(result.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
}
