import AutoscalerCore
import Simulator
import Testing
import IntegrationSupport

@Suite("Reactive oracle and task prices", .testThreads)
struct ReactiveOracleTests {
    /// One service of 1…3 tasks of 2 workers; six 60 s queries at 100 s, eight 30 s ones at 1000 s.
    private func simulation(maxTasks: Int = 3) -> Simulation {
        let policy = Policy(
            cluster: "c", redis: RedisSettings(url: SecretURL("redis://localhost")),
            services: [ServicePolicy(name: "w", queues: ["queries"], minTasks: 1, maxTasks: maxTasks, workersPerTask: 2)])
        var jobs: [SimulatedJob] = []
        for index in 0..<6 { jobs.append(SimulatedJob(arrival: 100 + Double(index) * 0.05, queue: "queries", runtime: 60, kind: .adhoc)) }
        for index in 0..<8 { jobs.append(SimulatedJob(arrival: 1000 + Double(index) * 0.05, queue: "queries", runtime: 30, kind: .adhoc)) }
        let workload = Workload(start: Instant(secondsSinceEpoch: 1_800_000_000), duration: 2000, jobs: jobs)
        return Simulation(policy: policy, workload: workload, seed: 5)
    }

    /// The start delays the service's tasks draw, in launch order (the same for every run).
    private func startDelays(_ count: Int) -> [Double] {
        var random = SeededRandom(seed: 5, stream: 16)
        return (0..<count).map { _ in random.uniform(ECSModel().taskStart) }
    }

    @Test("a job no slot will take gets a task the instant it is enqueued: its wait is that task's start")
    func launchesOnArrival() throws {
        // Six 600 s queries at 100 s: no slot frees while tasks start, so each wait is a start.
        var simulation = simulation()
        simulation.workload.jobs = (0..<6).map { SimulatedJob(arrival: 100 + Double($0) * 0.05, queue: "queries", runtime: 600, kind: .adhoc) }
        let result = simulation.runReactiveOracle()
        #expect(result.queue("queries")?.completed == 6)
        // Two start on the running task; the third arrival finds no slot and gets a task at once
        // (100.10 s), the fifth another (100.20 s); the fourth and sixth fit the starting ones.
        let delays = startDelays(2)
        let service = try #require(result.services.first)
        #expect(service.peakTasks == 3 && service.scaleUps == 2)
        let ready = [100.10 + delays[0], 100.20 + delays[1]].sorted()
        let expected = [0, 0, ready[0] - 100.10, ready[0] - 100.15, ready[1] - 100.20, ready[1] - 100.25].sorted()
        #expect(abs(result.adhocWait.max - expected[5]) < 1e-6, "\(result.adhocWait) \(delays)")
        #expect(abs(result.adhocWait.p50 - expected[2]) < 1e-6, "\(result.adhocWait) \(delays)")
    }

    @Test("an idle task stops after the mean start (60 s) and never under a job; minTasks stays")
    func idleTasksStop() throws {
        let result = simulation().runReactiveOracle()
        let service = try #require(result.services.first)
        #expect(result.totals.killed == 0)
        // Each burst adds two tasks at about 100 s (1000 s); a task goes idle at the earliest
        // when its 60 s (30 s) jobs end, and stops 60 s later: each added task is billed at
        // least 119 s, at most its start, its jobs and the grace (210 s, 180 s); kept all along
        // they would be billed about 1,900 s each.
        let extra = service.taskHours * 3600 - 2000
        #expect(extra > 4 * 119 && extra < 2 * 210.2 + 2 * 180.2, "\(extra) s beyond the one task always running")
        #expect(service.scaleDowns == 4 && service.scaleUps == 4, "two launches and two stops per burst: \(service)")
    }

    @Test("with one task allowed nothing is launched and the queue drains on it")
    func capped() throws {
        let result = simulation(maxTasks: 1).runReactiveOracle()
        let service = try #require(result.services.first)
        #expect(service.peakTasks == 1 && service.scaleUps == 0)
        #expect(result.queue("queries")?.completed == 14)
    }

    @Test("a task's Fargate size is the smallest valid one for its workers, and cost is task-hours at its price", arguments: [
        (1, 0.5, 1.0), (2, 1, 2), (3, 1, 2), (4, 2, 4), (6, 2, 4), (8, 4, 8), (16, 8, 16),
    ])
    func prices(workers: Int, vCPU: Double, memoryGB: Double) throws {
        let size = TaskSizing.redashWorker.size(workers: workers)
        #expect(size == TaskSize(vCPU: vCPU, memoryGB: memoryGB))
        var simulation = simulation()
        simulation.policy = simulation.policy.withServices { $0.workersPerTask = workers }
        let result = simulation.runReactiveOracle()
        let service = try #require(result.services.first)
        #expect(service.taskSize == size)
        let hourly = vCPU * 0.04048 + memoryGB * 0.004445
        #expect(abs(service.cost - service.taskHours * hourly) < 1e-9)
    }

    @Test("sizes past Fargate's combinations round up to the next cpu; past the largest there is none")
    func fargateCombinations() {
        #expect(TaskSize(vCPU: 0.25, memoryGB: 3).fargate == TaskSize(vCPU: 0.5, memoryGB: 3))
        #expect(TaskSize(vCPU: 1, memoryGB: 9).fargate == TaskSize(vCPU: 2, memoryGB: 9))
        #expect(TaskSize(vCPU: 4, memoryGB: 31).fargate == TaskSize(vCPU: 8, memoryGB: 32))
        #expect(TaskSize(vCPU: 8, memoryGB: 61).fargate == TaskSize(vCPU: 16, memoryGB: 64))
        #expect(TaskSize(vCPU: 16, memoryGB: 121).fargate == nil)
        #expect(TaskSize(vCPU: 17, memoryGB: 1).fargate == nil)
    }
}
