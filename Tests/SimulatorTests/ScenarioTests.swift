import AutoscalerCore
import Foundation
import PolicyFile
import Simulator
import Testing
import IntegrationSupport

private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func shippedPolicy() throws -> Policy {
    try #require(PolicyLoader.load(path: repositoryRoot.appendingPathComponent("policies.yaml").path, environment: [:]).policy)
}

@Suite("Scenarios", .testThreads)
struct ScenarioTests {
    @Test("a scenario's jobs are the same for the same seed; generated days differ for another, an export does not",
          arguments: Scenario.all.map(\.name))
    func seeded(_ name: String) throws {
        let scenario = try #require(Scenario.named(name))
        let routing = QueueRouting(policy: scenario.policy(for: try shippedPolicy()))
        let first = scenario.workload(seed: 3, routing: routing).jobs
        #expect(!first.isEmpty)
        #expect(first == scenario.workload(seed: 3, routing: routing).jobs)
        #expect((first == scenario.workload(seed: 4, routing: routing).jobs) == (scenario.trace != nil))
    }

    @Test("heavy-tail: eight queries of 20–40 minutes among short ones, all in office hours")
    func heavyTail() throws {
        let scenario = Scenario.heavyTail
        let jobs = scenario.workload(seed: 1, routing: QueueRouting(policy: try shippedPolicy())).jobs
        let slow = jobs.filter { $0.runtime > 1200 }
        #expect(slow.count == 8)
        #expect(slow.allSatisfy { $0.runtime <= 2400 && $0.kind == .adhoc })
        for job in slow {
            let hour = CivilTime(scenario.start + .seconds(job.arrival), utcOffset: scenario.utcOffset).hour
            #expect((9..<18).contains(hour))
        }
        let adhoc = jobs.filter { $0.kind == .adhoc }
        #expect(adhoc.filter { $0.runtime < 60 }.count > adhoc.count * 9 / 10)
    }

    @Test("data-sources: a service for bq_queries is added from the adhoc one, and both queues get work")
    func dataSources() throws {
        let base = try shippedPolicy()
        let policy = Scenario.dataSourcesDay.policy(for: base)
        let added = try #require(policy.services.first { $0.queues == ["bq_queries"] })
        let adhoc = try #require(base.services.first { $0.queues.contains("queries") })
        #expect(added.name == "redash-bq-adhoc-worker")
        #expect(added.maxTasks == adhoc.maxTasks && added.workersPerTask == adhoc.workersPerTask)
        #expect(policy.services.count == base.services.count + 1)
        #expect(Scenario.dataSourcesDay.policy(for: policy).services.count == policy.services.count, "not added twice")
        let jobs = Scenario.dataSourcesDay.workload(seed: 1, routing: QueueRouting(policy: policy)).jobs
        let bigQuery = jobs.filter { $0.queue == "bq_queries" }, main = jobs.filter { $0.queue == "queries" }
        #expect(bigQuery.count > 100 && main.count > bigQuery.count)
        let median = { (list: [SimulatedJob]) in list.map(\.runtime).sorted()[list.count / 2] }
        #expect(median(bigQuery) > median(main), "BigQuery's queries are slower")
    }

    @Test("monday-ramp: the 09:00 hour has several times the arrivals of the 07:00 one")
    func mondayRamp() throws {
        let scenario = Scenario.mondayRamp
        let jobs = scenario.workload(seed: 2, routing: QueueRouting(policy: try shippedPolicy())).jobs.filter { $0.kind == .adhoc }
        func arrivals(at hour: Int) -> Int {
            jobs.filter { CivilTime(scenario.start + .seconds($0.arrival), utcOffset: scenario.utcOffset).hour == hour }.count
        }
        #expect(arrivals(at: 9) > 5 * max(1, arrivals(at: 7)))
    }

    @Test("the embedded export is the committed CSV, and its scheduled queue replays as scheduled refreshes")
    func embeddedExport() throws {
        let file = try String(contentsOf: repositoryRoot.appendingPathComponent("scripts/traces/query-results-sample.csv"), encoding: .utf8)
        let scenario = Scenario.queryResultsExport
        #expect(scenario.trace == file, "run scripts/make-sample-trace.py")
        let workload = try TraceReader.parse(file)
        #expect(workload.jobs.filter { $0.queue == "scheduled_queries" }.allSatisfy { $0.kind == .scheduled })
        #expect(workload.jobs.filter { $0.queue == "queries" }.allSatisfy { $0.kind == .adhoc })
        #expect(workload.jobs.count > 1000)
    }

    @Test("a trace's kind column overrides the queue name, and a bad kind names its line")
    func traceKinds() throws {
        let workload = try TraceReader.parse("""
            enqueued_at,queue,runtime_seconds,kind
            2026-11-23T09:00:00Z,queries,1,scheduled
            2026-11-23T09:00:01Z,scheduled_queries,1,
            """)
        #expect(workload.jobs.map(\.kind) == [.scheduled, .scheduled])
        #expect(throws: TraceReader.Failure.self) {
            try TraceReader.parse("enqueued_at,queue,runtime_seconds,kind\n2026-11-23T09:00:00Z,queries,1,urgent\n")
        }
    }
}
