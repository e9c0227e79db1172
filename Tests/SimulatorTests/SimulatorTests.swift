import AutoscalerCore
import Foundation
import PolicyFile
import Simulator
import Testing
import IntegrationSupport

private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The shipped policy, as the demo runs it.
private func shippedPolicy() throws -> Policy {
    let result = PolicyLoader.load(path: repositoryRoot.appendingPathComponent("policies.yaml").path, environment: [:])
    return try #require(result.policy)
}

private func encode(_ results: [SimulationResult]) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return try encoder.encode(results)
}

/// The first three scenarios, run whole through every contender; the newer ones are checked on
/// their workloads and on short slices (ScenarioTests), to keep the suite fast.
private let fullDayScenarios = [Scenario.seedOverload.name, Scenario.scheduledBurst.name, Scenario.night.name]

@Suite("Simulator", .testThreads)
struct SimulatorTests {
    @Test("the same seed gives identical results, bit for bit; another seed does not",
          arguments: fullDayScenarios)
    func deterministic(_ name: String) throws {
        let policy = try shippedPolicy()
        let scenario = try #require(Scenario.named(name))
        let routing = QueueRouting(policy: policy)
        let run = { (seed: UInt64) in
            Comparison.run(policy: policy, workload: scenario.workload(seed: seed, routing: routing), scenario: name, seed: seed)
        }
        let first = try encode(run(7)), second = try encode(run(7)), other = try encode(run(8))
        #expect(first == second)
        #expect(first != other)
    }

    @Test("every job enqueued is completed, killed, still running or still waiting",
          arguments: fullDayScenarios)
    func conservation(_ name: String) throws {
        let policy = try shippedPolicy()
        let scenario = try #require(Scenario.named(name))
        let workload = scenario.workload(seed: 3, routing: QueueRouting(policy: policy))
        let results = Comparison.run(
            policy: policy, workload: workload, scenario: name, seed: 3,
            contenders: Comparison.Contender.allCases)
        for result in results {
            for queue in result.queues {
                #expect(queue.enqueued == queue.completed + queue.killed + queue.running + queue.waiting,
                        "\(result.autoscaler) \(queue.name)")
                #expect(queue.wait.count == queue.completed + queue.killed + queue.running - queue.rerun,
                        "started jobs have a wait, a killed one only through its re-run")
            }
            let arrived = workload.jobs.filter { $0.arrival < workload.duration }.count
            #expect(result.totals.enqueued - result.totals.rerun == arrived, "\(result.autoscaler)")
        }
    }

    @Test("busy-aware scale-in kills no query; without it, and under the baselines, some are killed")
    func busyAwareness() throws {
        let policy = try shippedPolicy()
        let scenario = Scenario.seedOverload
        var killedWithout = 0, killedByBaselines = 0
        for seed in UInt64(1)...3 {
            let results = Comparison.run(
                policy: policy, workload: scenario.workload(seed: seed, routing: QueueRouting(policy: policy)),
                scenario: scenario.name, seed: seed,
                contenders: [.ours, .oursWithoutBusyAwareness, .targetTracking, .keda])
            #expect(results[0].totals.killed == 0, "seed \(seed)")
            #expect(results[0].totals.scalingActions > 0)
            killedWithout += results[1].totals.killed
            killedByBaselines += results[2].totals.killed + results[3].totals.killed
        }
        #expect(killedWithout > 0)
        #expect(killedByBaselines > 0)
    }

    @Test("a simulated deployment holds scale-in and releases protection, through the production step")
    func deploymentHoldsScaleIn() throws {
        let policy = try shippedPolicy()
        let workload = Scenario.seedOverload.workload(seed: 2, routing: QueueRouting(policy: policy))
        var simulation = Simulation(policy: policy, workload: workload, seed: 2)
        let adhoc = try #require(policy.services.first { $0.queues.contains("queries") })
        // A deployment starts while the 10:30 burst drains, when the rule would begin scaling in.
        let start = 10.5 * 3600 + 360, end = start + 1800
        simulation.deployments = [SimulatedDeployment(service: adhoc.name, start: start, duration: 1800)]
        var autoscaler = QueueDrivenAutoscaler(policy: policy, forecast: SimulatedScheduleForecast(workload: workload))
        autoscaler.isRecording = true
        _ = simulation.run(&autoscaler)
        let during = autoscaler.records.filter {
            $0.service == adhoc.name && $0.now >= workload.start + .seconds(start) && $0.now < workload.start + .seconds(end)
        }
        #expect(!during.isEmpty)
        #expect(during.allSatisfy { $0.plan.decision.direction != .down }, "scaled in during a deployment")
        #expect(during.contains { $0.plan.decision.code == .deployment }, "the rule never met the deployment")
        #expect(during.allSatisfy { $0.plan.protection.protect.isEmpty }, "protected a task during a deployment")
        let after = autoscaler.records.filter { $0.service == adhoc.name && $0.now >= workload.start + .seconds(end) }
        #expect(after.contains { $0.plan.decision.direction == .down }, "never scaled in after the deployment")
    }

    @Test("a forecast puts capacity in place before a scheduled burst lands")
    func forecastHelpsBursts() throws {
        let policy = try shippedPolicy()
        let workload = Scenario.scheduledBurst.workload(seed: 1, routing: QueueRouting(policy: policy))
        let results = Comparison.run(
            policy: policy, workload: workload, scenario: "scheduled-burst", seed: 1,
            contenders: [.ours, .oursWithoutForecast])
        let with = try #require(results[0].queue("scheduled_queries")?.wait)
        let without = try #require(results[1].queue("scheduled_queries")?.wait)
        #expect(with.p50 < without.p50, "with \(with), without \(without)")
    }
}

@Suite("Baseline fidelity", .testThreads)
struct BaselineTests {
    private func view(desired: Int, cpu: Double, pending: Int = 0, at seconds: Double) -> ClusterView {
        let now = Instant(secondsSinceEpoch: 1_800_000_000 + seconds)
        return ClusterView(
            now: now,
            queues: ["queries": QueueObservation(queue: "queries", pending: pending, running: 0, observedAt: now)],
            services: [ServiceView(name: "w", desired: desired, running: desired, pending: 0, tasks: [], cpu: cpu)])
    }

    private let policy = Policy(
        cluster: "c", redis: RedisSettings(url: SecretURL("redis://localhost")),
        services: [ServicePolicy(name: "w", queues: ["queries"], minTasks: 1, maxTasks: 10)])

    @Test("target tracking scales out only after three one-minute datapoints above the target, then cools down 300 s")
    func targetTrackingScaleOut() {
        var autoscaler = TargetTrackingAutoscaler(policy: policy)
        var desired = 2
        var scaleOuts: [Double] = []
        for tick in 0..<90 {  // 15 minutes at 10 s
            let time = Double(tick) * 10
            if let next = autoscaler.tick(view(desired: desired, cpu: 1.0, at: time)).desired["w"] {
                #expect(next > desired)
                desired = next
                scaleOuts.append(time)
            }
        }
        #expect(scaleOuts.first == 170, "the third datapoint completes at the 18th sample")
        #expect(zip(scaleOuts, scaleOuts.dropFirst()).allSatisfy { $1 - $0 >= 300 })
        #expect(scaleOuts == [170, 470, 770])
        #expect(desired == 8, "proportional steps at 100 % CPU and a 70 % target: 2 → 3 → 5 → 8")
    }

    @Test("target tracking scales in only after fifteen datapoints below 90 % of the target")
    func targetTrackingScaleIn() {
        var autoscaler = TargetTrackingAutoscaler(policy: policy)
        var firstScaleIn: Double?
        for tick in 0..<120 {
            let time = Double(tick) * 10
            if autoscaler.tick(view(desired: 6, cpu: 0.2, at: time)).desired["w"] != nil, firstScaleIn == nil {
                firstScaleIn = time
            }
        }
        #expect(firstScaleIn == 890, "the fifteenth datapoint completes at the 90th sample")
    }

    @Test("the list-length rule sees only pending jobs and waits 300 s before scaling down")
    func listLength() {
        var autoscaler = ListLengthAutoscaler(policy: policy)
        #expect(autoscaler.tickInterval == 15, "the HPA reads the metric every sync period")
        #expect(autoscaler.tick(view(desired: 1, cpu: 1, pending: 23, at: 0)).desired["w"] == 5)
        var downAt: Double?
        for tick in 1..<40 {
            let time = Double(tick) * 15
            if let next = autoscaler.tick(view(desired: 5, cpu: 1, pending: 0, at: time)).desired["w"] {
                #expect(next == 1)
                downAt = time
                break
            }
        }
        #expect(downAt == 300)
    }

    @Test("wait statistics give the mean beside the percentiles, and read reports written before the mean")
    func waitMean() throws {
        let waits = WaitStatistics([0, 0, 2, 6, 12])
        #expect(waits.mean == 4)
        #expect(waits.p50 == 2 && waits.max == 12)
        #expect(WaitStatistics([]).mean == 0)
        let old = try JSONDecoder().decode(WaitStatistics.self, from: Data(#"{"count":1,"p50":3,"p95":3,"p99":3,"max":3}"#.utf8))
        #expect(old.mean == 0 && old.p95 == 3)
        let again = try JSONDecoder().decode(WaitStatistics.self, from: JSONEncoder().encode(waits))
        #expect(again == waits)
        // The single-run table shows it first among the adhoc waits.
        let policy = try shippedPolicy()
        let routing = QueueRouting(policy: policy)
        let workload = try #require(Scenario.named(Scenario.night.name)).workload(seed: 1, routing: routing)
        let results = Comparison.run(policy: policy, workload: workload, scenario: Scenario.night.name, seed: 1, contenders: [.ours])
        let table = Comparison.table(results, routing: routing)
        let header = try #require(table.split(separator: "\n").first).split(separator: " ", omittingEmptySubsequences: true)
        #expect(header.prefix(6) == ["autoscaler", "adhoc", "wait", "mean", "p50", "p95"])
        let adhoc = try #require(results.first?.queue(routing.adhoc)?.wait)
        #expect(adhoc.count > 0 && adhoc.mean <= adhoc.max)
    }
}

@Suite("Trace replay", .testThreads)
struct TraceTests {
    @Test("a trace becomes a workload that starts on the minute of its first job")
    func parses() throws {
        let workload = try TraceReader.parse("""
            id,enqueued_at,queue,runtime_seconds
            1,2026-11-23T09:00:30Z,queries,12.5
            2,2026-11-23 09:01:00.5+00,scheduled_queries,3
            3,1795424460,queries,0
            """)
        #expect(workload.start == CivilTime.instant(year: 2026, month: 11, day: 23, hour: 9))
        #expect(workload.jobs.map(\.arrival) == [30, 60, 60.5])
        #expect(workload.jobs.map(\.queue) == ["queries", "queries", "scheduled_queries"])
        #expect(workload.duration == 60.5 + 3600)
    }

    @Test("bad traces name the line", arguments: [
        ("enqueued_at,queue\n", 1),
        ("enqueued_at,queue,runtime_seconds\n2026-11-23T09:00:00Z,queries,fast\n", 2),
        ("enqueued_at,queue,runtime_seconds\n2026-11-23T09:00:00Z,queries,1\nyesterday,queries,1\n", 3),
        ("enqueued_at,queue,runtime_seconds\n2026-11-23T09:00:00Z,,1\n", 2),
    ])
    func rejects(_ text: String, _ line: Int) {
        #expect(throws: TraceReader.Failure.self) { try TraceReader.parse(text) }
        do {
            _ = try TraceReader.parse(text)
        } catch {
            #expect(error.line == line)
        }
    }
}
