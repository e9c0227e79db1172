import AWSClient
import AutoscalerCore
import Controller
import Foundation
import IntegrationSupport
import Logging
import QueueProbes
import RedisClient
import Testing
import TestSupport

/// ECS as a dictionary, with a switch to make it fail and a hook to play someone else.
final class FakeScaler: ServiceScaler, @unchecked Sendable {
    private let lock = NSLock()
    private var desired: [String: Int]
    private var failing = false
    private(set) var updates: [(String, Int)] = []

    init(_ desired: [String: Int]) { self.desired = desired }

    func setFailing(_ value: Bool) { lock.withLock { failing = value } }
    func changeOutside(_ service: String, to count: Int) { lock.withLock { desired[service] = count } }
    func count(_ service: String) -> Int? { lock.withLock { desired[service] } }

    func describeServices(_ names: [String]) async throws -> ECSClient.ServicesReport {
        try lock.withLock {
            if failing { throw AWSError(kind: .server, action: "ecs:DescribeServices", code: "ServerException", message: "down", status: 500) }
            return ECSClient.ServicesReport(
                services: names.compactMap { name in
                    desired[name].map { ECSService(serviceName: name, desiredCount: $0, runningCount: $0, pendingCount: 0) }
                },
                missing: [])
        }
    }

    func setDesiredCount(service: String, to count: Int) async throws -> ECSService {
        lock.withLock {
            desired[service] = count
            updates.append((service, count))
            return ECSService(serviceName: service, desiredCount: count, runningCount: count, pendingCount: 0)
        }
    }
}

@Suite("Reconciler")
struct ReconcilerTests {
    static let policy = Policy(
        cluster: "redash", interval: .seconds(5), redis: RedisSettings(url: SecretURL("redis://127.0.0.1:1/0"), layout: .rq),
        services: [ServicePolicy(name: "adhoc", queues: ["queries"], minTasks: 1, maxTasks: 6, workersPerTask: 1)])

    /// A reconciler whose probe clock moves with the `now` each reconcile is given.
    struct Driver {
        let reconciler: Reconciler
        let clock = SettableClock()
        let start: Instant

        init(redis: RedisServer, scaler: FakeScaler, mode: Reconciler.Mode = .live) {
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            let client = RedisClient(endpoint: try! RedisEndpoint(url: redis.url), logger: logger)
            let prober = QueueProber(client: client, layout: .rq, logger: logger, now: clock.reading)
            reconciler = Reconciler(
                policy: ReconcilerTests.policy, mode: mode, dependencies: .init(prober: prober, scaler: scaler), metrics: MetricsRegistry(),
                controllerName: "test", logger: logger)
            start = clock.now
        }

        /// Reconciles `seconds` after the start.
        func at(_ seconds: Double) async -> ReconcileReport {
            clock.set(start + .seconds(seconds))
            return await reconciler.reconcile(now: clock.now)
        }
    }

    static func pending(_ redis: RedisServer, _ count: Int) async throws {
        try await redis.cli(["DEL", "rq:queue:queries"])
        if count > 0 { try await redis.cli(["RPUSH", "rq:queue:queries"] + (0..<count).map { "job-\($0)" }) }
    }

    @Test("an outside change of desiredCount is left alone for the hold time, then the policy applies again")
    func externalChange() async throws {
        let redis = try await RedisServer.start()
        let scaler = FakeScaler(["adhoc": 1])
        let driver = Driver(redis: redis, scaler: scaler)
        let start = driver.start
        try await Self.pending(redis, 3)
        let first = await driver.at(0)
        #expect(first.services[0].outcome == .applied && scaler.count("adhoc") == 3)

        // Someone sets 5 by hand (console, Terraform): the controller notices and holds.
        scaler.changeOutside("adhoc", to: 5)
        // Without the hold, the 2-minute scale-down window would bring it back to 3 by 200 s.
        var outcomes: [ServicePlan.Outcome] = []
        for second in stride(from: 5, through: 200, by: 5) {
            outcomes.append((await driver.at(Double(second))).services[0].outcome)
        }
        #expect(scaler.count("adhoc") == 5)
        #expect(outcomes.last == .externalChangeRespected(until: start + .seconds(5) + Reconciler.externalChangeHold), "\(outcomes.last.map { "\($0)" } ?? "")")
        // After the hold the policy wins again (scale-down still waits for its own window).
        for second in stride(from: 310, through: 500, by: 5) {
            _ = await driver.at(Double(second))
        }
        #expect(scaler.count("adhoc") == 3)
    }

    @Test("ECS unreadable: no change at all; Redis unreadable: never a scale-in")
    func failingDependencies() async throws {
        let redis = try await RedisServer.start()
        let scaler = FakeScaler(["adhoc": 4])
        let driver = Driver(redis: redis, scaler: scaler)
        try await Self.pending(redis, 0)
        scaler.setFailing(true)
        let blind = await driver.at(0)
        #expect(blind.errors["ecs"] != nil && !blind.succeeded)
        #expect(blind.services[0].decision.code == .serviceUnknown && blind.services[0].outcome == .unchanged)
        scaler.setFailing(false)

        // Redis goes away with an empty queue on record: the count stays, window or not.
        redis.stop()
        for second in stride(from: 5, through: 300, by: 5) {
            let report = await driver.at(Double(second))
            #expect(report.errors["redis"] != nil)
        }
        #expect(scaler.count("adhoc") == 4)
        #expect(scaler.updates.isEmpty)
    }

    @Test("dry-run decides but never calls UpdateService")
    func dryRun() async throws {
        let redis = try await RedisServer.start()
        let scaler = FakeScaler(["adhoc": 1])
        let driver = Driver(redis: redis, scaler: scaler, mode: .dryRun)
        try await Self.pending(redis, 4)
        let report = await driver.at(0)
        #expect(report.services[0].outcome == .dryRun && report.services[0].decision.desired == 4)
        #expect(report.services[0].summary.hasPrefix("would scale adhoc 1 → 4: "))
        #expect(scaler.updates.isEmpty)
    }
}
