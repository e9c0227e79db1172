import ArgumentParser
@testable import AutoscalerCLI
import AWSTestSupport
import AutoscalerCore
import Controller
import Foundation
import IntegrationSupport
import Logging
import Synchronization
import Testing
import TestSupport

/// Modes, the kill switch and operators' holds, through the reconciler with in-memory ports.
@Suite("Modes, kill switch and holds", .testThreads)
struct ModeTests {
    static func policy(_ mode: ServiceMode = .active, controller: ServiceMode = .active) -> Policy {
        Policy(
            cluster: "redash", interval: .seconds(5), redis: RedisSettings(url: SecretURL("redis://127.0.0.1:1/0"), layout: .rq),
            services: [
                ServicePolicy(name: "adhoc", queues: ["queries"], minTasks: 1, maxTasks: 6, workersPerTask: 1, mode: mode),
                ServicePolicy(name: "scheduled", queues: ["scheduled_queries"], minTasks: 1, maxTasks: 6, workersPerTask: 1),
            ],
            mode: controller)
    }

    static func at(_ seconds: Double) -> Instant { Build.monday + .seconds(seconds) }

    @Test("a service moves active → dry-run → paused → active without a restart; only active writes, and each mode shows in the report and metrics")
    func perServiceModes() async throws {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 1, "scheduled": 1])
        let metrics = MetricsRegistry()
        let reconciler = ReconcilerTests.reconciler(queues: queues, cluster: cluster, policy: Self.policy(.dryRun), metrics: metrics)
        queues.set("queries", pending: 3)
        queues.set("scheduled_queries", pending: 2)

        let dry = await reconciler.reconcile(now: Self.at(0))
        #expect(dry.services[0].mode == .dryRun && dry.services[0].outcome == .dryRun)
        #expect(dry.services[0].summary.hasPrefix("would scale adhoc 1 → 3"))
        #expect(cluster.count("adhoc") == 1, "a dry-run service was written")
        #expect(dry.services[1].outcome == .applied && cluster.count("scheduled") == 2, "the other service is active")
        #expect(metrics.render().contains(#"redash_autoscaler_service_mode{mode="dry-run",service="adhoc"} 1"#))
        #expect(metrics.render().contains(#"redash_autoscaler_service_mode{mode="active",service="adhoc"} 0"#))
        // Counted as would-scale, not as a scale action; every counter exists at 0 from the start.
        #expect(metrics.render().contains(#"redash_autoscaler_would_scale_actions_total{direction="up",service="adhoc"} 1"#))
        #expect(metrics.render().contains(#"redash_autoscaler_scale_actions_total{direction="up",service="adhoc"} 0"#))
        #expect(metrics.render().contains(#"redash_autoscaler_scale_actions_total{direction="down",service="scheduled"} 0"#))
        #expect(metrics.render().contains(#"redash_autoscaler_errors_total{dependency="kill-switch"} 0"#))

        try await reconciler.replacePolicy(Self.policy(.paused))
        let paused = await reconciler.reconcile(now: Self.at(5))
        #expect(paused.services[0].mode == .paused && paused.services[0].outcome == .paused)
        #expect(paused.services[0].summary.hasPrefix("paused, not scaling adhoc 1 → 3"))
        #expect(cluster.count("adhoc") == 1)
        #expect(metrics.render().contains(#"redash_autoscaler_service_mode{mode="paused",service="adhoc"} 1"#))

        try await reconciler.replacePolicy(Self.policy(.active))
        let active = await reconciler.reconcile(now: Self.at(10))
        #expect(active.services[0].outcome == .applied && cluster.count("adhoc") == 3)
        #expect(cluster.desiredCountWrites.filter { $0.0 == "adhoc" }.map(\.1) == [3], "only the active tick wrote")
    }

    @Test("a hand's change while paused is still recognised as an outside change when the service is active again")
    func outsideChangeWhilePaused() async throws {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 2, "scheduled": 1])
        let reconciler = ReconcilerTests.reconciler(queues: queues, cluster: cluster, policy: Self.policy(.paused))
        _ = await reconciler.reconcile(now: Self.at(0))
        cluster.changeOutside("adhoc", to: 5)
        _ = await reconciler.reconcile(now: Self.at(5))
        try await reconciler.replacePolicy(Self.policy(.active))
        // With empty queues the scale-down window (2 minutes) would bring it down by 200 s; the
        // outside change seen while paused holds it for 5 minutes.
        var last: ServiceOutcome = .unchanged
        for second in stride(from: 10, through: 200, by: 5) {
            last = await reconciler.reconcile(now: Self.at(Double(second))).services[0].outcome
        }
        #expect(cluster.count("adhoc") == 5)
        #expect(last == .externalChangeRespected(until: Self.at(5) + ServicePolicy.defaultExternalChangeHold), "\(last)")
    }

    @Test("the kill switch: a file saying paused stops every write from the next tick; removing it resumes; garbage keeps the last mode and is an error")
    func killSwitch() async throws {
        let path = NSTemporaryDirectory() + "kill-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 1, "scheduled": 1])
        let metrics = MetricsRegistry()
        let reconciler = Reconciler(
            policy: Self.policy(),
            ports: .init(queues: queues, cluster: cluster, applier: PlanApplier(writer: cluster), killSwitch: KillSwitch.file(path)),
            metrics: metrics, controllerName: "test", logger: ReconcilerTests.quiet)
        queues.set("queries", pending: 3)

        // No file: no override.
        let none = await reconciler.reconcile(now: Self.at(0))
        #expect(none.controllerMode == .active && none.killSwitch?.mode == nil && cluster.count("adhoc") == 3)

        try "paused\n".write(toFile: path, atomically: true, encoding: .utf8)
        queues.set("queries", pending: 5)
        let paused = await reconciler.reconcile(now: Self.at(5))
        #expect(paused.controllerMode == .paused && paused.services.allSatisfy { $0.mode == .paused })
        #expect(paused.services[0].outcome == .paused && cluster.count("adhoc") == 3)
        #expect(metrics.render().contains(#"redash_autoscaler_controller_mode{mode="paused"} 1"#))

        // Garbage: an error, and the last mode read (paused) holds; never a silent resume.
        try "resume please".write(toFile: path, atomically: true, encoding: .utf8)
        let garbled = await reconciler.reconcile(now: Self.at(10))
        #expect(garbled.controllerMode == .paused && cluster.count("adhoc") == 3)
        #expect(garbled.errors.contains { $0.dependency == .killSwitch && $0.message.contains("expected active, dry-run or paused") })
        #expect(garbled.killSwitch?.problem != nil)

        try "dry-run".write(toFile: path, atomically: true, encoding: .utf8)
        let dry = await reconciler.reconcile(now: Self.at(15))
        #expect(dry.controllerMode == .dryRun && dry.services[0].outcome == .dryRun && cluster.count("adhoc") == 3)

        try FileManager.default.removeItem(atPath: path)
        let resumed = await reconciler.reconcile(now: Self.at(20))
        #expect(resumed.controllerMode == .active && resumed.services[0].outcome == .applied && cluster.count("adhoc") == 5)
    }

    @Test("a kill switch added, moved and removed by a reload engages (and lets go) from the next tick; a hung one cannot hold a tick")
    func killSwitchFollowsReloads() async throws {
        let directory = NSTemporaryDirectory() + "kill-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = directory + "/mode", second = directory + "/moved"
        try "paused".write(toFile: first, atomically: true, encoding: .utf8)
        try "dry-run".write(toFile: second, atomically: true, encoding: .utf8)
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 1, "scheduled": 1])
        queues.set("queries", pending: 3)
        let hung = directory + "/hung"
        let reconciler = Reconciler(
            policy: Self.policy(),
            ports: .init(queues: queues, cluster: cluster, applier: PlanApplier(writer: cluster), killSwitches: { location in
                if location == hung { return HungSwitch() }
                return try Reconciler.fileKillSwitch(location)
            }),
            metrics: MetricsRegistry(), controllerName: "test", logger: ReconcilerTests.quiet)
        func policy(killSwitch: String?) -> Policy {
            let base = Self.policy()
            return Policy(cluster: base.cluster, interval: base.interval, redis: base.redis, services: base.services, killSwitch: killSwitch)
        }
        #expect(await reconciler.reconcile(now: Self.at(0)).killSwitch == nil)
        #expect(cluster.count("adhoc") == 3)

        // Added: the next tick is paused.
        try await reconciler.replacePolicy(policy(killSwitch: first))
        queues.set("queries", pending: 5)
        let added = await reconciler.reconcile(now: Self.at(5))
        #expect(added.killSwitch?.source == first && added.controllerMode == .paused && cluster.count("adhoc") == 3)

        // Moved: the new place is read.
        try await reconciler.replacePolicy(policy(killSwitch: second))
        let moved = await reconciler.reconcile(now: Self.at(10))
        #expect(moved.killSwitch?.source == second && moved.controllerMode == .dryRun && cluster.count("adhoc") == 3)

        // A kill switch that never answers: the tick goes on within the deadline, keeping the
        // last mode read (dry-run), with the error.
        try await reconciler.replacePolicy(policy(killSwitch: hung))
        let started = ContinuousClock.now
        let stuck = await reconciler.reconcile(now: Self.at(15))
        // The hung read is cut at its deadline (the error below says so); the bound catches a
        // tick that waits for it for ever, with room for a loaded machine: 13.3 s once in a
        // clean-clone parallel pass, against a 2 s deadline.
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(stuck.controllerMode == .dryRun && stuck.errors.contains { $0.dependency == .killSwitch && $0.message.contains("did not answer") })

        // Removed: no override any more.
        try await reconciler.replacePolicy(policy(killSwitch: nil))
        let removed = await reconciler.reconcile(now: Self.at(20))
        #expect(removed.killSwitch == nil && removed.controllerMode == .active && cluster.count("adhoc") == 5)
    }

    @Test("the policy's mode caps every service; the strictest of run --dry-run, policy, kill switch and service wins")
    func strictestWins() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 1, "scheduled": 1])
        let reconciler = ReconcilerTests.reconciler(queues: queues, cluster: cluster, policy: Self.policy(.paused, controller: .dryRun))
        queues.set("queries", pending: 3)
        queues.set("scheduled_queries", pending: 3)
        let report = await reconciler.reconcile(now: Self.at(0))
        #expect(report.controllerMode == .dryRun)
        #expect(report.services.map(\.mode) == [.paused, .dryRun])
        #expect(cluster.desiredCountWrites.isEmpty)
    }

    @Test("an operator's hold sets its count whatever the queues say, within the policy's bounds, until it expires; the database failing keeps it")
    func holds() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 2, "scheduled": 1])
        let holds = FakeHolds()
        let metrics = MetricsRegistry()
        let reconciler = Reconciler(
            policy: Self.policy(),
            ports: .init(queues: queues, cluster: cluster, applier: PlanApplier(writer: cluster), holds: holds),
            metrics: metrics, controllerName: "test", logger: ReconcilerTests.quiet)
        holds.set(OperatorHold(service: "adhoc", tasks: 5, until: Self.at(60), setBy: "alice", reason: "incident 42", setAt: Self.at(0)))
        let held = await reconciler.reconcile(now: Self.at(0))
        #expect(held.services[0].decision.code == .operatorHold && held.services[0].decision.reason.contains("incident 42"))
        #expect(cluster.count("adhoc") == 5, "no queue, yet the hold scales up")
        #expect(metrics.render().contains(#"redash_autoscaler_operator_hold_tasks{service="adhoc"} 5"#))

        // The database goes away: the hold read last stays in force (dropping it could scale in).
        holds.fail = true
        let kept = await reconciler.reconcile(now: Self.at(10))
        #expect(kept.services[0].hold != nil && cluster.count("adhoc") == 5)
        #expect(kept.errors.contains { $0.dependency == .database && $0.operation == "operator holds" })
        holds.fail = false

        // Above maxTasks: kept within the bounds, and says so.
        holds.set(OperatorHold(service: "adhoc", tasks: 40, until: Self.at(60), setBy: "bob", setAt: Self.at(20)))
        let capped = await reconciler.reconcile(now: Self.at(20))
        #expect(cluster.count("adhoc") == 6 && capped.services[0].decision.reason.contains("kept within 1…6"))

        // Expired: the policy decides again (the normal scale-down window then applies).
        let after = await reconciler.reconcile(now: Self.at(65))
        #expect(after.services[0].hold == nil && after.services[0].decision.code != .operatorHold)
        #expect(!metrics.render().contains("redash_autoscaler_operator_hold_tasks{"))
    }
}

/// Holds in memory; `fail` makes the read throw, as a lost database does.
final class FakeHolds: HoldSource {
    private let state = Mutex<(holds: [String: OperatorHold], fail: Bool)>(([:], false))

    func set(_ hold: OperatorHold) { state.withLock { $0.holds[hold.service] = hold } }
    var fail: Bool {
        get { state.withLock { $0.fail } }
        set { state.withLock { $0.fail = newValue } }
    }

    func activeHolds(now: Instant) async throws -> [String: OperatorHold] {
        try state.withLock { state in
            if state.fail { throw TestFailure("the database is gone") }
            return state.holds.filter { $0.value.isActive(at: now) }
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The kill switch in Parameter Store, against moto: absent asks for nothing, a value applies.
@Suite("Kill switch in Parameter Store, against moto", .testThreads)
struct SSMKillSwitchTests {
    @Test("an SSM kill switch: no parameter is no override; paused pauses; garbage is an error; deleted again is no override")
    func parameter() async throws {
        let moto = try await LocalHTTPServer.moto()
        let world = try await Lab.setUpMoto(moto, services: ["redash-adhoc-worker"])
        let store = try ParameterStoreLab(moto, keys: world.admin)
        let killSwitch = try ControllerSetup.killSwitch(
            "ssm:/redash-autoscaler/mode", region: Lab.region, profile: nil, environment: Lab.environment(world.admin, endpoint: moto.url),
            logger: ReconcilerTests.quiet)
        #expect(killSwitch.source == "ssm:/redash-autoscaler/mode")
        let now = Build.monday
        #expect(try await killSwitch.read(now: now) == nil, "no parameter: no override")
        try await store.put("/redash-autoscaler/mode", "paused\n")
        #expect(try await killSwitch.read(now: now) == .paused)
        try await store.put("/redash-autoscaler/mode", "stop everything")
        await #expect(throws: KillSwitchError.self) { try await killSwitch.read(now: now) }
        try await store.put("/redash-autoscaler/mode", "dry-run")
        #expect(try await killSwitch.read(now: now) == .dryRun)
        try await store.delete("/redash-autoscaler/mode")
        #expect(try await killSwitch.read(now: now) == nil, "deleted: no override again")
    }
}

/// A kill switch whose reads never end (a Parameter Store that stopped answering).
struct HungSwitch: ModeSwitch {
    var source: String { "ssm:/hung" }
    func read(now: Instant) async throws -> ServiceMode? {
        try await Task.sleep(for: .seconds(3600))
        return nil
    }
}
