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

    @Test("the second round tries backlogPerWorker 0.5, the queue watch and both on the settings closest to the target that miss it")
    func refinements() throws {
        let advisor = advisor(workersPerTask: 2)
        let current = try #require(advisor.currentKnobs)
        func candidate(_ workers: Int, p95: Double, cost: Double, killed: Int = 0, interval: Duration = .seconds(5)) -> Advisor.Candidate {
            var knobs = current
            knobs.workersPerTask = workers
            knobs.interval = interval
            return Advisor.Candidate(
                knobs: knobs, taskSize: TaskSize(vCPU: 1, memoryGB: 2),
                mean: MeanFigures(adhocP95: p95, scheduledP95: 0, taskHours: 1, cost: cost, killed: killed))
        }
        let today = candidate(2, p95: 10, cost: 1.0)
        let candidates = [
            today,
            candidate(1, p95: 12, cost: 0.9),
            candidate(3, p95: 11, cost: 0.95),
            candidate(4, p95: 9, cost: 0.8),  // meets the goal already
            candidate(6, p95: 11.5, cost: 1.1),  // dearer than today, which meets the goal
            candidate(8, p95: 10.5, cost: 0.7, killed: 1),  // kills more than today
            candidate(3, p95: 13, cost: 0.9, interval: .seconds(1)),  // no watch at a 1 s interval
        ]
        let second = advisor.refinements(of: candidates, goal: 10, today: today)
        #expect(second.map(\.workersPerTask) == [3, 3, 3, 1, 1, 1, 3], "closest to the goal first")
        #expect(second.prefix(3).map(\.backlogPerWorker) == [0.5, 1, 0.5])
        #expect(second.prefix(3).map(\.reactInterval) == [.zero, .seconds(1), .seconds(1)])
        #expect(second.last.map { $0.backlogPerWorker == 0.5 && $0.reactInterval == .zero && $0.interval == .seconds(1) } == true)
        // A tighter goal than today's p95: today and the dearer setting are refined too.
        let tighter = advisor.refinements(of: candidates, goal: 5, today: today)
        #expect(Set(tighter.map(\.workersPerTask)) == [1, 2, 3, 4, 6])
        #expect(tighter.prefix(3).allSatisfy { $0.workersPerTask == 4 })
        // A refined setting changes the policy it is run with.
        let policy = advisor.policy(with: second[2])
        #expect(policy.reactInterval == .seconds(1) && policy.services.first?.target.backlogPerWorker == 0.5)
    }

    @Test("a target tighter than today's p95 is met at any cost; here only the second round's knobs meet it")
    func tighterTarget() throws {
        // Ten 120 s queries at 600 s: they wait for task starts, and a reconcile that comes a
        // few seconds sooner starts them sooner.
        let jobs = (0..<10).map { SimulatedJob(arrival: 600 + Double($0) * 0.1, queue: "queries", runtime: 120, kind: .adhoc) }
        let advisor = advisor(workersPerTask: 2, jobs: jobs)
        let shapes = try shapes(advisor)
        let loose = try #require(advisor.run(grid: shapes))
        let tight = try #require(advisor.run(target: loose.current.mean.adhocP95 - 1, grid: shapes))
        #expect(tight.tried > shapes.count, "the second round ran")
        let best = try #require(tight.best)
        #expect(best.mean.adhocP95 <= tight.target + 0.1)
        #expect(best.knobs.reactInterval == .seconds(1) || best.knobs.backlogPerWorker == 0.5, "\(best.knobs)")
        #expect(!shapes.contains(best.knobs), "no shape of the first round meets it")
        let text = tight.render(scenario: "burst", seeds: [1, 2])
        #expect(text.contains("today misses it: at any cost"))
        #expect(text.contains("reactInterval: 0s → 1s") || text.contains("target.backlogPerWorker: 1.0 → 0.5"))
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
