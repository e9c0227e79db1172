import AutoscalerCore
import Simulator
import Testing
import IntegrationSupport

@Suite("Clairvoyant floor", .testThreads)
struct ClairvoyantFloorTests {
    /// One service of 1…3 tasks of 2 workers; six 60 s queries at 100 s, eight 30 s ones at 1000 s.
    private func simulation(maxTasks: Int = 3) -> Simulation {
        let policy = Policy(
            cluster: "c", redis: RedisSettings(url: SecretURL("redis://localhost")),
            services: [ServicePolicy(name: "w", queues: ["queries"], minTasks: 1, maxTasks: maxTasks)])
        var jobs: [SimulatedJob] = []
        for index in 0..<6 { jobs.append(SimulatedJob(arrival: 100 + Double(index) * 0.05, queue: "queries", runtime: 60, kind: .adhoc)) }
        for index in 0..<8 { jobs.append(SimulatedJob(arrival: 1000 + Double(index) * 0.05, queue: "queries", runtime: 30, kind: .adhoc)) }
        let workload = Workload(start: Instant(secondsSinceEpoch: 1_800_000_000), duration: 2000, jobs: jobs)
        return Simulation(policy: policy, workload: workload, seed: 5)
    }

    @Test("tasks are running when the jobs arrive although each takes 30–90 s to start; only the cap makes jobs wait")
    func onTime() throws {
        let result = ClairvoyantFloor.run(simulation(), budget: nil)
        let queue = try #require(result.queue("queries"))
        #expect(queue.completed == 14 && queue.killed == 0)
        // Burst one fits in 3 tasks × 2 slots; of burst two, two queries wait for the first to end.
        let waits = result.adhocWait
        #expect(waits.count == 14)
        #expect(abs(waits.max - 30) < 0.5, "\(waits)")
        #expect(waits.p50 < 1e-6)
    }

    @Test("each planned task starts with the first job it serves and bridges gaps shorter than a start")
    func plannedLifetimes() throws {
        let plan = ClairvoyantFloor.plan(simulation())
        let lifetimes = try #require(plan.tasks["w"])
        #expect(lifetimes.filter { $0.ready <= 0 }.count == 1, "minTasks runs throughout")
        // Burst one: two queries on the always-running task, two on each new one; 840 s later
        // the same again (a gap far longer than a start is not bridged).
        let started = lifetimes.filter { $0.ready > 0 }.sorted { $0.ready < $1.ready }
        let expected: [(ready: Double, stop: Double)] = [(100.10, 160.15), (100.20, 160.25), (1000.10, 1030.15), (1000.20, 1030.25)]
        #expect(started.count == expected.count)
        for (lifetime, wanted) in zip(started, expected) {
            #expect(abs(lifetime.ready - wanted.ready) < 1e-9 && abs(lifetime.stop - wanted.stop) < 1e-9, "\(lifetime)")
        }
    }

    @Test("under a budget the caps come down until the run costs no more than it")
    func budget() {
        let open = ClairvoyantFloor.run(simulation(), budget: nil)
        let hourly = open.totals.cost / open.totals.taskHours  // one service: one task size
        let budget = open.totals.cost - 0.02 * hourly
        let capped = ClairvoyantFloor.run(simulation(), budget: budget)
        #expect(capped.totals.cost <= budget)
        #expect(capped.adhocWait.max > open.adhocWait.max, "fewer tasks, longer waits")
        #expect(capped.totals.killed == 0)
    }
}
