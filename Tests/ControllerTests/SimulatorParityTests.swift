import AutoscalerCore
import Controller
import Foundation
import Logging
import PolicyFile
import Simulator
import Synchronization
import Testing
import TestSupport
import IntegrationSupport

/// The claim that a simulator result says something about production rests on one thing: the
/// reconciler, given what the simulated controller saw, plans exactly what it planned. This
/// replays every tick of simulated days through the real `Reconciler` with ports that serve the
/// recorded observations, and compares the plans tick by tick.
@Suite("Simulator and controller parity", .testThreads)
struct SimulatorParityTests {
    /// Serves the recorded observations of the tick the test points it at.
    final class Replay: QueueSource, ClusterReader, ClusterWriter, ForecastSource, Sendable {
        struct Tick: Sendable {
            var now: Instant
            var records: [QueueDrivenAutoscaler.Record]
            /// The plans made again from the second reading before a scale-in.
            var rechecks: [QueueDrivenAutoscaler.Record] = []

            /// The plan the simulated controller wrote for `service`: the recheck's if there was one.
            func final(_ service: String) -> QueueDrivenAutoscaler.Record? {
                rechecks.first { $0.service == service } ?? records.first { $0.service == service }
            }
        }

        let ticks: [Tick]
        let policy: Policy
        /// The tick served, and how many times the queues were read in it.
        private let index = Mutex((tick: 0, probes: 0))

        init(records: [QueueDrivenAutoscaler.Record], policy: Policy) {
            var ticks: [Tick] = []
            for record in records {
                if ticks.last?.now != record.now { ticks.append(Tick(now: record.now, records: [])) }
                if record.isRecheck { ticks[ticks.count - 1].rechecks.append(record) } else { ticks[ticks.count - 1].records.append(record) }
            }
            self.ticks = ticks
            self.policy = policy
        }

        func select(_ tick: Int) { index.withLock { $0 = (tick, 0) } }
        var current: Tick { ticks[index.withLock { $0.tick }] }
        /// The records the next read serves: the tick's, then, from its second read on, those
        /// of the services planned again.
        var reading: [QueueDrivenAutoscaler.Record] { index.withLock { $0.probes } > 1 ? current.rechecks : current.records }

        func probe(queues: [String], scheduler: SchedulerStateRequest?, now: Instant) async -> ProbeReport {
            index.withLock { $0.probes += 1 }
            var readings: [String: QueueReading] = [:]
            var registered: [String: [WorkerRecord]] = [:]
            for record in reading {
                for (queue, reading) in record.observation.queues { readings[queue] = reading }
                let workers = (record.observation.workers ?? []).map {
                    WorkerRecord(name: $0.name, state: $0.isBusy ? "busy" : "idle", currentJob: $0.isBusy ? "job" : nil, hostname: $0.hostname, ipAddress: $0.ipAddress)
                }
                // The simulated workers listen on all of their service's queues.
                for queue in policy.service(named: record.service)?.queues ?? [] { registered[queue] = workers }
            }
            return ProbeReport(system: .rq, readings: readings, workers: registered, observedAt: now)
        }

        func services(_ names: [String], now: Instant) async throws -> ServicesSnapshot {
            ServicesSnapshot(states: Dictionary(uniqueKeysWithValues: current.records.compactMap { record in
                record.observation.service.map { (record.service, $0) }
            }))
        }

        func tasks(of names: [String], now: Instant) async throws -> [String: [TaskSnapshot]] {
            Dictionary(uniqueKeysWithValues: reading.filter { names.contains($0.service) }.map { ($0.service, $0.tasks) })
        }

        func setDesiredCount(_ count: Int, service: String, within deadline: Duration) async throws {}

        func setProtection(_ isEnabled: Bool, tasks: [String], duration: Duration?, within deadline: Duration) async throws -> ProtectionChange {
            isEnabled ? ProtectionChange(protected: tasks) : ProtectionChange(released: tasks)
        }

        func schedulerRequest() async -> SchedulerStateRequest? { nil }

        func snapshot(now: Instant, scheduler: RedashSchedulerState?, schedulerIsStale: Bool) async -> ForecastSnapshot {
            var due: [String: [DueQuery]] = [:]
            for record in current.records {
                guard let list = record.observation.scheduledDue, let first = policy.service(named: record.service)?.queues.first else { continue }
                due[first] = list
            }
            return ForecastSnapshot(due: due)
        }
    }

    static func shippedPolicy() throws -> Policy {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("policies.yaml").path
        return try #require(PolicyLoader.load(path: path, environment: [:]).policy)
    }

    @Test("the reconciler plans exactly what the simulated controller planned", arguments: ["seed-overload", "scheduled-burst"])
    func parity(_ name: String) async throws {
        let policy = try Self.shippedPolicy()
        let scenario = try #require(Scenario.named(name))
        let workload = scenario.workload(seed: 4, routing: QueueRouting(policy: policy))
        var simulation = Simulation(policy: policy, workload: workload, seed: 4)
        if let adhoc = policy.services.first { simulation.deployments = [SimulatedDeployment(service: adhoc.name, start: 3600, duration: 900)] }
        var autoscaler = QueueDrivenAutoscaler(policy: policy, forecast: SimulatedScheduleForecast(workload: workload))
        autoscaler.isRecording = true
        _ = simulation.run(&autoscaler)

        let replay = Replay(records: autoscaler.records, policy: policy)
        let reconciler = Reconciler(
            policy: policy, ports: .init(queues: replay, cluster: replay, applier: PlanApplier(writer: replay), forecast: replay),
            metrics: MetricsRegistry(), controllerName: "parity", logger: Logger(label: "parity", factory: { _ in SwiftLogNoOpLogHandler() }))
        var compared = 0, changes = 0, protections = 0, rechecks = 0, mismatches: [String] = []
        for (index, tick) in replay.ticks.enumerated() {
            replay.select(index)
            let report = await reconciler.reconcile(now: tick.now)
            for service in report.services {
                guard let record = tick.final(service.name) else { continue }
                compared += 1
                if service.plan != record.plan, mismatches.count < 3 {
                    mismatches.append("\(tick.now) \(record.service):\n  simulator  \(record.plan)\n  reconciler \(service.plan)")
                }
                if case .set = record.plan.action { changes += 1 }
                if !record.plan.protection.isEmpty { protections += 1 }
                if record.isRecheck { rechecks += 1 }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")
        #expect(compared == autoscaler.records.filter { !$0.isRecheck }.count)
        #expect(rechecks > 10, "the day made \(rechecks) plans again before a scale-in")
        #expect(changes > 10 && protections > 10, "the day exercised \(changes) changes and \(protections) protection plans")
    }
}
