import AWSClient
import AWSTestSupport
import AutoscalerCore
import Foundation
import IntegrationSupport
import Testing

/// Demand is only work a new task could pick up, on real workers: Celery 4.3 (Redash v8's pins)
/// and 5.3 nodes started as Redash v8 starts them, and rq 1.16, put into each situation by
/// `Python/../../QueueProbesTests/Python/servable_demand.py`; the real `plan` and `run` against
/// moto decide.
@Suite("Servable demand: stranded, held and unconsumed work on real workers", .testThreads)
struct ServableDemandTests {
    static let script = Repository.root.appendingPathComponent("Tests/QueueProbesTests/Python/servable_demand.py").path
    static let scriptDirectory = Repository.root.appendingPathComponent("Tests/QueueProbesTests/Python").path

    /// What a fixture set up; its workers are killed when this goes.
    final class Fixture: Sendable {
        let report: [String: String]
        let groups: [Int32]

        init(_ arguments: [String]) async throws {
            let output = try await ManagedProcess.run(Repository.python, [ServableDemandTests.script] + arguments,
                                                      environment: ["PYTHONPATH": ServableDemandTests.scriptDirectory], timeout: 300)
            guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                  let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw HarnessError("no JSON from the fixture:\n\(output)")
            }
            report = object.mapValues { "\($0)" }
            groups = ((object["pgids"] as? [Any]) ?? []).compactMap { ($0 as? NSNumber).map { Int32(truncating: $0) } }
            raw = object["stranded"].map { "\($0)" } ?? ""
            returnsNotBefore = (object["returns_not_before"] as? NSNumber)?.doubleValue
        }

        let raw: String
        let returnsNotBefore: Double?

        deinit { for group in groups { kill(-group, SIGKILL) } }
    }

    /// A Celery policy: inspect on or off, the adhoc worker at 1–8 tasks of 2 workers.
    static func celeryPolicy(inspect: Bool, queues: String = "[queries]") -> String {
        """
        cluster: redash
        interval: 1s
        redis:
          url: ${REDIS_URL}
          layout: celery
        celery:
          inspect: \(inspect)
        services:
          redash-adhoc-worker:
            queues: \(queues)
            minTasks: 1
            maxTasks: 8
            workersPerTask: 2
        """
    }

    /// `plan --json` with `policy`: the adhoc worker's entry.
    static func plan(_ world: ControllerWorld, policy: String) async throws -> (proposed: Int?, entry: [String: Any], output: String) {
        let path = NSTemporaryDirectory() + "servable-\(UUID().uuidString).yaml"
        try policy.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let output = try await ManagedProcess.run(try Repository.binary, ["plan", "--policies", path, "--json"], environment: world.environment(), timeout: 60)
        let json = output.split(separator: "\n").drop { !$0.hasPrefix("{") }.joined(separator: "\n")
        guard let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let services = object["services"] as? [[String: Any]], let entry = services.first(where: { $0["name"] as? String == "redash-adhoc-worker" })
        else { throw HarnessError("no plan:\n\(output)") }
        return ((entry["proposed"] as? NSNumber)?.intValue, entry, output)
    }

    @Test("a node killed at stopTimeout strands its prefetched message: plan and run add no task for it, and say when kombu gives it back", arguments: ["4", "5"])
    func stranded(version: String) async throws {
        let world = try await ControllerWorld.make(services: ["redash-adhoc-worker"])
        _ = try await world.reader.ecs.setDesiredCount(service: "redash-adhoc-worker", to: 2)
        // As in the run on Redash v8 that found it: the message had waited 8m54s.
        let fixture = try await Fixture(["celery-stranded", "--redis", world.redis.url, "--version", version, "--fresh-node", "--enqueued-ago", "534"])
        #expect(fixture.report["counts"]?.contains("stranded") == true)

        // Before: without celery.inspect the holder is unknown, and the message counts as
        // waiting (the old behaviour): "1 pending + running unknown, oldest waited 8m54s > 30s"
        // asks for a third task, and `run` would ask again every tick.
        let before = try await Self.plan(world, policy: Self.celeryPolicy(inspect: false))
        #expect(before.proposed == 3, "\(before.entry)")
        // 8m54s when the fixture wrote it; the seconds it took to get here (more on a loaded
        // machine) come on top.
        let reason = before.entry["reason"] as? String ?? ""
        #expect(reason.contains("oldest waited 8m5") || reason.contains("oldest waited 9m"), "\(before.entry)")
        // With inspect: stranded, not demand.
        let after = try await Self.plan(world, policy: Self.celeryPolicy(inspect: true))
        #expect(after.proposed == 2, "\(after.entry)")
        let notes = (after.entry["notes"] as? [String]) ?? []
        #expect(notes.contains { $0.contains("stranded in kombu's unacked") && $0.contains("kombu gives them back from") && $0.contains("stopTimeout") }, "\(notes)")
        let demand = after.entry["demand"] as? [String: Any]
        #expect((demand?["stranded"] as? NSNumber)?.intValue == 1 && (demand?["servable"] as? NSNumber)?.intValue == 0, "\(String(describing: demand))")
        if let back = fixture.returnsNotBefore {
            let expected = "\(Instant(secondsSinceEpoch: back))".prefix(16)
            #expect(notes.contains { $0.contains(expected) }, "the return time \(expected) in \(notes)")
        }

        // `run` for a few ticks: desiredCount stays at 2 and the log says why.
        let controller = try await ControllerProcess.start(policy: Self.celeryPolicy(inspect: true), environment: world.environment())
        try await Task.sleep(for: .seconds(5))
        #expect(try await world.desired("redash-adhoc-worker") == 2)
        #expect(controller.logLines.contains { $0["message"]?.contains("stranded in kombu's unacked") == true && $0["redash_service"] == "redash-adhoc-worker" },
                "\(controller.output.suffix(3000))")
    }

    @Test("a busy node holding prefetched messages behind its queries: no task for them", arguments: ["4", "5"])
    func held(version: String) async throws {
        let world = try await ControllerWorld.make(services: ["redash-adhoc-worker"])
        // The held messages have waited behind the long queries for a while.
        let fixture = try await Fixture(["celery-held", "--redis", world.redis.url, "--version", version, "--held", "2", "--enqueued-ago", "120"])
        #expect(fixture.report["counts"]?.contains("held") == true)
        let before = try await Self.plan(world, policy: Self.celeryPolicy(inspect: false))
        #expect(before.proposed == 2, "without inspect, the two held messages count as late: \(before.entry)")
        let after = try await Self.plan(world, policy: Self.celeryPolicy(inspect: true))
        #expect(after.proposed == 1, "2 running on 1 task of 2 workers, 2 held behind them: \(after.entry)")
        let notes = (after.entry["notes"] as? [String]) ?? []
        #expect(notes.contains { $0.contains("prefetched by busy workers") && $0.contains("prefetch") }, "\(notes)")
    }

    @Test("rq 1.16: a policy queue no live worker of the service listens on: no scale-up, a warning naming the queue and the workers' QUEUES")
    func unconsumed() async throws {
        let world = try await ControllerWorld.make(services: ["redash-adhoc-worker"])
        let fixture = try await Fixture(["rq-unconsumed", "--redis", world.redis.url, "--queue", "bi_queries", "--count", "2"])
        _ = fixture
        let policy = Self.celeryPolicy(inspect: false, queues: "[queries, bi_queries]").replacingOccurrences(of: "layout: celery", with: "layout: rq")
        let plan = try await Self.plan(world, policy: policy)
        #expect(plan.proposed == 1, "\(plan.entry)")
        let notes = (plan.entry["notes"] as? [String]) ?? []
        #expect(notes.contains { $0.contains("2 job(s) wait on bi_queries") && $0.contains("listen on queries") && $0.contains("QUEUES") }, "\(notes)")
    }
}

/// Capacity that never arrives, with the real binary against the local ECS lab
/// (`Python/ecs_lab.py`), whose tasks here never start and whose service says why, as ECS does.
/// (moto cannot hold a service's tasks short of running: the lab's services report as many
/// running as asked for.)
@Suite("Capacity that never arrives, with the real binary", .testThreads)
struct LabCapacityStallTests {
    static let lab = Repository.root.appendingPathComponent("Tests/ControllerTests/Python/ecs_lab.py").path

    @Test("tasks never start: reported within the start timeout with ECS's reason, in the log and /metrics; desiredCount stops growing")
    func reported() async throws {
        let redis = try await RedisServer.start()
        let lab = try await LocalHTTPServer.python(Self.lab, [
            "serve", "--redis", redis.url, "--service", "redash-adhoc-worker:queries:1", "--start-delay", "3600",
            "--placement-failure", "Capacity is unavailable at this time. Please try again later or in a different availability zone",
        ])
        try await ManagedProcess.run(Repository.python, [Self.lab, "enqueue", redis.url, "queries"] + Array(repeating: "600", count: 30))
        let policy = """
            cluster: redash
            interval: 1s
            redis: {url: "${REDIS_URL}", layout: rq}
            ecs: {taskStartTimeout: 30s, serviceRefresh: 0s}
            services:
              redash-adhoc-worker:
                queues: [queries]
                minTasks: 1
                maxTasks: 30
                workersPerTask: 1
                scaleUp: {maxStep: 1, cooldown: 3s}
            """
        let environment = [
            "AWS_ACCESS_KEY_ID": "AKIALAB", "AWS_SECRET_ACCESS_KEY": "lab-secret", "AWS_ENDPOINT_URL": lab.url, "AWS_REGION": "eu-west-1",
            "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent", "REDIS_URL": redis.url,
        ]
        let controller = try await ControllerProcess.start(policy: policy, environment: environment)
        let stalled = await eventually(timeout: 90, interval: 1) {
            (try? await controller.get("/metrics"))?.text.contains(#"redash_autoscaler_capacity_stalled{service="redash-adhoc-worker"} 1.0"#) == true
        }
        #expect(stalled, "\(controller.output.suffix(2000))")
        let reader = try Lab.context(Lab.Keys(accessKeyID: "AKIALAB", secretAccessKey: "lab-secret"), endpoint: lab.url)
        let atStall = try await reader.ecs.describeServices(["redash-adhoc-worker"]).services.first?.desiredCount ?? -1
        try await Task.sleep(for: .seconds(8))
        let later = try await reader.ecs.describeServices(["redash-adhoc-worker"]).services.first?.desiredCount ?? -1
        #expect(atStall > 1 && atStall < 30 && later == atStall, "desiredCount \(atStall), then \(later)")
        #expect(controller.logLines.contains {
            $0["message"]?.contains("tasks asked for are not starting") == true && $0["redash_service"] == "redash-adhoc-worker"
                && $0["ecsReason"]?.contains("Capacity is unavailable") == true
        }, "\(controller.output.suffix(2000))")
    }
}
