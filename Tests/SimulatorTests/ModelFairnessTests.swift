import AutoscalerCore
import Simulator
import Testing
import IntegrationSupport

/// At 10 s, scales the service to one task; protects the tasks it saw busy when `protects`.
private struct ScaleInAtTen: SimulatedAutoscaler {
    let name = "scale in at 10 s"
    let tickInterval = 10.0
    var readsTasks: Bool { true }
    let protects: Bool
    var done = false

    mutating func tick(_ view: ClusterView) -> AutoscalerActions {
        guard !done, view.now.secondsSinceEpoch >= 1_800_000_010 else { return AutoscalerActions() }
        done = true
        var actions = AutoscalerActions(desired: ["w": 1])
        if protects, let service = view.services.first {
            let busy = Set(service.workers.filter(\.isBusy).map { $0.ipAddress?.split(separator: ":").first.map(String.init) })
            let protect = service.tasks.filter { busy.contains($0.privateIP) }.map(\.id)
            actions.protection["w"] = (ProtectionPlan(protect: protect), .seconds(3600))
        }
        return actions
    }
}

@Suite("Model fairness: API latency, re-runs, self-protecting workers", .testThreads)
struct ModelFairnessTests {
    /// Two tasks of one worker; query A (100 s) at 0 s takes the first, query B (100 s) arrives
    /// at `secondArrival`.
    private func simulation(secondArrival: Double, latency: Double, seed: UInt64 = 1) -> Simulation {
        let policy = Policy(
            cluster: "c", redis: RedisSettings(url: SecretURL("redis://localhost")),
            services: [ServicePolicy(name: "w", queues: ["queries"], minTasks: 1, maxTasks: 2, workersPerTask: 1)])
        let jobs = [
            SimulatedJob(arrival: 0, queue: "queries", runtime: 100, kind: .adhoc),
            SimulatedJob(arrival: secondArrival, queue: "queries", runtime: 100, kind: .adhoc),
        ]
        let workload = Workload(start: Instant(secondsSinceEpoch: 1_800_000_000), duration: 600, jobs: jobs)
        var ecs = ECSModel()
        ecs.actionLatency = latency
        return Simulation(policy: policy, workload: workload, ecs: ecs, seed: seed, initialTasks: ["w": 2])
    }

    @Test("protection lands with the scale-in, 2 s after the reading: a job taken by an idle task in between is killed")
    func protectionRace() throws {
        var protecting = ScaleInAtTen(protects: true)
        let raced = simulation(secondArrival: 11, latency: 2).run(&protecting)
        #expect(raced.totals.killed == 1, "B started on the idle task at 11 s; ECS stopped that task at 12 s")
        protecting = ScaleInAtTen(protects: true)
        let instant = simulation(secondArrival: 11, latency: 0).run(&protecting)
        #expect(instant.totals.killed == 0, "with no latency the idle task is gone before B arrives")
        protecting = ScaleInAtTen(protects: true)
        let later = simulation(secondArrival: 13, latency: 2).run(&protecting)
        #expect(later.totals.killed == 0, "after the scale-in has landed B only waits")
    }

    @Test("a killed adhoc query is run again 60 s later; its wait counts from the first ask")
    func rerun() throws {
        var protecting = ScaleInAtTen(protects: true)
        let result = simulation(secondArrival: 11, latency: 2).run(&protecting)
        let queue = try #require(result.queue("queries"))
        // B: killed at 12 + 6 s (RQ aborts 6 s after SIGTERM), asked again at 78 s, starts when
        // A ends at 100 s on the one task left: 89 s after it was first asked.
        #expect(queue.killed == 1 && queue.rerun == 1 && queue.completed == 2)
        #expect(queue.wait.count == 2)
        #expect(abs(queue.wait.max - 89) < 1e-6, "\(queue.wait)")
        var never = simulation(secondArrival: 11, latency: 2)
        never.rerunKilledAdhocAfter = nil
        protecting = ScaleInAtTen(protects: true)
        let dropped = never.run(&protecting)
        #expect(dropped.queue("queries")?.completed == 1 && dropped.totals.rerun == 0)
    }

    @Test("workers that protect their own task keep a baseline that protects nothing from killing them")
    func selfProtection() throws {
        var killedPlain = 0, killedSelf = 0
        for seed in UInt64(1)...12 {
            var plain = ScaleInAtTen(protects: false)
            killedPlain += simulation(secondArrival: 50, latency: 2, seed: seed).run(&plain).totals.killed
            var guarded = simulation(secondArrival: 50, latency: 2, seed: seed)
            guarded.workersProtectTheirTasks = true
            plain = ScaleInAtTen(protects: false)
            killedSelf += guarded.run(&plain).totals.killed
        }
        #expect(killedPlain > 0, "ECS picks the busy task about half the time")
        #expect(killedSelf == 0)
    }

    @Test("our controller reads the workers again 0.5 s before its scale-in lands: a job taken before that read is protected, one taken after can still be killed")
    func recheckBeforeScaleIn() throws {
        // Both tasks idle once A ends at 100 s; find the tick that scales in (its window passed).
        var recording = QueueDrivenAutoscaler(policy: simulation(secondArrival: 590, latency: 2).policy)
        recording.isRecording = true
        _ = simulation(secondArrival: 590, latency: 2).run(&recording)
        let scaleIn = try #require(recording.records.first { $0.plan.action == .set(1) })
        let reading = scaleIn.now.secondsSinceEpoch - 1_800_000_000
        #expect(reading > 100 && reading < 580, "scaled in at \(reading) s")
        func killed(arrivingAfter delay: Double, recheck: Bool) -> Int {
            (UInt64(1)...12).reduce(0) { sum, seed in
                var ours = QueueDrivenAutoscaler(policy: simulation(secondArrival: 590, latency: 2).policy)
                var run = simulation(secondArrival: reading + delay, latency: 2, seed: seed)
                if !recheck { run.ecs.recheckLatency = run.ecs.actionLatency }
                return sum + run.run(&ours).totals.killed
            }
        }
        // B is taken by one of the two idle tasks 1 s after the reading; ECS stops one of them at 2 s.
        #expect(killed(arrivingAfter: 1, recheck: false) > 0, "without the second read, ECS stops B's task about half the time")
        #expect(killed(arrivingAfter: 1, recheck: true) == 0, "read again at 1.5 s: B's task is protected before the scale-in")
        #expect(killed(arrivingAfter: 1.7, recheck: true) > 0, "between the second read and ECS acting the race remains")
    }

    @Test("with reactInterval 1 s a query that finds every worker busy starts a tick within a second, not at the next interval")
    func queueWatch() throws {
        func firstScaleUp(react: Duration) throws -> Double {
            let policy = Policy(
                cluster: "c", interval: .seconds(5), redis: RedisSettings(url: SecretURL("redis://localhost")),
                services: [ServicePolicy(name: "w", queues: ["queries"], minTasks: 1, maxTasks: 2, workersPerTask: 1)], reactInterval: react)
            let jobs = [
                SimulatedJob(arrival: 0, queue: "queries", runtime: 100, kind: .adhoc),
                SimulatedJob(arrival: 12.3, queue: "queries", runtime: 100, kind: .adhoc),
            ]
            let workload = Workload(start: Instant(secondsSinceEpoch: 1_800_000_000), duration: 120, jobs: jobs)
            var ours = QueueDrivenAutoscaler(policy: policy)
            ours.isRecording = true
            _ = Simulation(policy: policy, workload: workload, seed: 1, initialTasks: ["w": 1]).run(&ours)
            let record = try #require(ours.records.first { $0.plan.action == .set(2) })
            return record.now.secondsSinceEpoch - 1_800_000_000
        }
        // Ticks at 0, 5, 10; the watch looks at 11, 12 and 13.
        #expect(try firstScaleUp(react: .seconds(1)) == 13)
        #expect(try firstScaleUp(react: .zero) == 15)
    }
}
