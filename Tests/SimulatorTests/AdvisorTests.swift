import AutoscalerCore
import Simulator
import Testing
import IntegrationSupport

@Suite("Task-shape advisor", .testThreads)
struct AdvisorTests {
    private func advisor(workersPerTask: Int, jobs: [SimulatedJob] = []) -> Advisor {
        let policy = Policy(
            cluster: "c", redis: RedisSettings(url: SecretURL("redis://localhost")),
            services: [ServicePolicy(name: "w", queues: ["queries"], minTasks: 1, maxTasks: 5, workersPerTask: workersPerTask)])
        let workload = Workload(start: Instant(secondsSinceEpoch: 1_800_000_000), duration: 1800, jobs: jobs)
        return Advisor(policy: policy, workloads: [(1, workload), (2, workload)], service: "w")
    }

    /// The six task shapes at the current maxWait, window and interval: what these tests need,
    /// at a 27th of the full grid's CPU (the parallel pass shares two cores).
    private func shapes(_ advisor: Advisor) throws -> [Advisor.Knobs] {
        let current = try #require(advisor.currentKnobs)
        return advisor.grid().filter {
            $0.maxWait == current.maxWait && $0.scaleDownWindow == current.scaleDownWindow && $0.interval == current.interval
        }
    }

    @Test("the grid keeps at least today's worker slots with as few tasks as that takes, and starts with the current setting")
    func grid() throws {
        let grid = advisor(workersPerTask: 2).grid()
        let current = try #require(grid.first)
        #expect(current.workersPerTask == 2 && current.maxTasks == 5)
        #expect(Set(grid).count == grid.count, "no setting twice")
        #expect(grid.count == 162, "6 shapes × 3 maxWait × 3 windows × 3 intervals, the current one among them")
        for knobs in grid {
            #expect(knobs.maxTasks * knobs.workersPerTask >= 10 && (knobs.maxTasks - 1) * knobs.workersPerTask < 10, "\(knobs)")
        }
    }

    @Test("on an idle day the one task that always runs is cheapest at 1 worker: half the price, same waits")
    func idleDay() throws {
        let advisor = advisor(workersPerTask: 2)
        let advice = try #require(advisor.run(grid: try shapes(advisor)))
        #expect(advice.tried == 6)
        let best = try #require(advice.best)
        #expect(best.knobs.workersPerTask == 1)
        #expect(best.taskSize == TaskSize(vCPU: 0.5, memoryGB: 1))
        #expect(abs(best.mean.cost / advice.current.mean.cost - 0.5) < 1e-6, "1 vCPU/2 GB against 0.5 vCPU/1 GB")
        let text = advice.render(scenario: "idle", seeds: [1, 2])
        #expect(text.contains("services[w].workersPerTask: 2 → 1"))
        #expect(text.contains("services[w].maxTasks: 5 → 10"))
        #expect(text.contains("Saves 50.0 %"))
    }

    @Test("when nothing is cheaper at the target the advice is to keep the policy")
    func nothingCheaper() throws {
        let advisor = advisor(workersPerTask: 1)
        let advice = try #require(advisor.run(grid: try shapes(advisor)))
        #expect(advice.best == nil)
        #expect(advice.render(scenario: "idle", seeds: [1, 2]).contains("keep it"))
    }

    @Test("a setting that waits longer than the target is never advised, however cheap")
    func respectsTarget() throws {
        // Ten 120 s queries at 600 s: with fewer slots or a later reaction they wait longer.
        let jobs = (0..<10).map { SimulatedJob(arrival: 600 + Double($0) * 0.1, queue: "queries", runtime: 120, kind: .adhoc) }
        let advisor = advisor(workersPerTask: 2, jobs: jobs)
        let strict = try #require(advisor.run(target: 0, grid: try shapes(advisor)))
        #expect(strict.current.mean.adhocP95 > 30, "the burst waits for a task start: \(strict.current.mean)")
        #expect(strict.best == nil, "no shape starts ten queries at once from one running task")
        let loose = try #require(advisor.run(grid: try shapes(advisor)))
        #expect(loose.best.map { $0.mean.adhocP95 <= loose.current.mean.adhocP95 + 0.1 && $0.mean.cost < loose.current.mean.cost } ?? true)
    }
}
