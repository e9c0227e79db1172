import AWSClient
import Foundation
import IntegrationSupport
import Testing

/// The `run` binary against the local ECS lab (`Python/ecs_lab.py`): every task is real RQ
/// workers (Redash's HerokuWorker) from its own loopback address, and scale-in stops tasks at
/// random among the unprotected ones, as ECS does. Six 40-second queries and six 4-second ones
/// on one worker per task: once the short ones finish the service scales in from 12 tasks while
/// six queries still run. The same scenario runs on Celery (Redash v7–v8): a task is one Celery
/// worker node, and the controller knows its queries only from `celery.inspect`.
@Suite("Busy-aware scale-in in the ECS lab", .testThreads, .serialized)
struct BusyAwareScaleInTests {
    /// The queue system of the lab's tasks.
    enum System: String, CustomTestStringConvertible, CaseIterable {
        case rq = "RQ 1.16"
        case celery5 = "Celery 5.3"
        case celery4 = "Celery 4.3 (Redash v8)"
        var testDescription: String { rawValue }
        var isCelery: Bool { self != .rq }
    }

    static let lab = Repository.root.appendingPathComponent("Tests/ControllerTests/Python/ecs_lab.py").path

    struct Outcome {
        var killed: Int
        var finished: Int
        var tasksStopped: Int
        var taskSeconds: Double
        var log: String
    }

    /// `protectBusyTasks` on Celery means `celery.inspect` too: without it the controller cannot
    /// know which task runs a query, which is today's behaviour for Celery.
    static func run(protectBusyTasks: Bool, system: System = .rq) async throws -> Outcome {
        let redis = try await RedisServer.start()
        var arguments = [
            "serve", "--redis", redis.url, "--service", "redash-adhoc-worker:queries:1", "--start-delay", "1", "--stop-timeout", "10", "--seed", "7",
        ]
        if system.isCelery {
            arguments += ["--system", "celery", "--worker-python", system == .celery4 ? try Repository.pythonCelery4 : Repository.python]
        }
        let lab = try await LocalHTTPServer.python(Self.lab, arguments)
        let policy = """
            cluster: redash
            interval: 1s
            redis:
              url: ${REDIS_URL}
              layout: \(system.isCelery ? "celery" : "rq")
            celery:
              inspect: \(system.isCelery && protectBusyTasks)
            services:
              redash-adhoc-worker:
                queues: [queries]
                minTasks: 1
                maxTasks: 12
                workersPerTask: 1
                protectBusyTasks: \(protectBusyTasks)
                scaleUp: {maxStep: 12}
                scaleDown: {stabilizationWindow: 4s, maxStep: 12, cooldown: 0s}
            """
        let environment = [
            "AWS_ACCESS_KEY_ID": "AKIALAB", "AWS_SECRET_ACCESS_KEY": "lab-secret", "AWS_ENDPOINT_URL": lab.url, "AWS_REGION": "eu-west-1",
            "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent", "REDIS_URL": redis.url,
        ]
        let controller = try await ControllerProcess.start(policy: policy, environment: environment)
        try await ManagedProcess.run(
            Repository.python,
            [Self.lab, "enqueue", redis.url, "queries"] + Array(repeating: "40", count: 6) + Array(repeating: "4", count: 6)
                + (system.isCelery ? ["--system", "celery"] : []))
        var report: [String: Any] = [:]
        let done = await eventually(timeout: 180, interval: 1) {
            guard let reply = try? await AsyncHTTPTransport().send(method: "GET", url: lab.url + "/_report", headers: [], body: [], timeout: .seconds(5)),
                  let object = try? JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any],
                  let services = object["services"] as? [String: Any], let service = services["redash-adhoc-worker"] as? [String: Any]
            else { return false }
            report = service
            let finished = service["jobsFinished"] as? Int ?? 0, killed = service["jobsKilled"] as? Int ?? 0
            return finished + killed == 12 && (service["jobsRunning"] as? Int) == 0 && (service["jobsWaiting"] as? Int) == 0
        }
        #expect(done, "the lab never settled: \(report)\n\(controller.process.output.suffix(3000))")
        return Outcome(
            killed: report["jobsKilled"] as? Int ?? -1, finished: report["jobsFinished"] as? Int ?? -1,
            tasksStopped: report["tasksStopped"] as? Int ?? 0, taskSeconds: report["taskSeconds"] as? Double ?? 0,
            log: controller.process.output)
    }

    @Test("with busy-aware scale-in: scale-in happens and no running query is killed; without it, the same scenario kills some",
          arguments: System.allCases)
    func protectsRunningQueries(_ system: System) async throws {
        let protected = try await Self.run(protectBusyTasks: true, system: system)
        print("ecs lab, \(system.rawValue), busy-aware: killed \(protected.killed), finished \(protected.finished), tasks stopped \(protected.tasksStopped), task-seconds \(protected.taskSeconds)")
        #expect(protected.killed == 0, "\(protected.log.suffix(4000))")
        #expect(protected.tasksStopped >= 1, "no scale-in happened")
        #expect(protected.log.contains("task protection updated"))

        // The control (the same scenario without protection kills queries) is a property of the
        // scenario, whichever system runs the workers: checked once, on RQ, to keep CI short.
        guard system == .rq else { return }
        let unprotected = try await Self.run(protectBusyTasks: false, system: system)
        print("ecs lab, \(system.rawValue), busy-aware off: killed \(unprotected.killed), finished \(unprotected.finished), tasks stopped \(unprotected.tasksStopped), task-seconds \(unprotected.taskSeconds)")
        #expect(unprotected.killed >= 1, "the scenario cannot tell the two apart: \(unprotected.log.suffix(2000))")
    }
}
