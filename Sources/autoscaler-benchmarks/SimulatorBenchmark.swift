import AutoscalerCore
import Foundation
import Simulator

/// Wall time to simulate a week of a 20-service Redash deployment (10 adhoc worker services and
/// 10 scheduled worker services, each on its own queue, seed-overload's load on each).
enum SimulatorBenchmark {
    static func run(days: Int) {
        var services: [ServicePolicy] = []
        var jobs: [SimulatedJob] = []
        var scenario = Scenario.seedOverload
        scenario.duration = .seconds(Double(days) * 86_400)
        for index in 0..<10 {
            let adhoc = "queries-\(index)", scheduled = "scheduled_queries-\(index)"
            services.append(ServicePolicy(name: "adhoc-\(index)", queues: [adhoc], minTasks: 1, maxTasks: 8))
            services.append(ServicePolicy(name: "scheduled-\(index)", queues: [scheduled], minTasks: 1, maxTasks: 4, workersPerTask: 1))
            var routing = QueueRouting(policy: Policy(cluster: "c", redis: RedisSettings(url: SecretURL("redis://x")), services: []))
            routing.adhoc = adhoc
            routing.scheduled = scheduled
            routing.periodic = nil
            jobs += scenario.workload(seed: UInt64(index + 1), routing: routing).jobs
        }
        let policy = Policy(cluster: "bench", redis: RedisSettings(url: SecretURL("redis://x")), services: services)
        let workload = Workload(start: scenario.start, duration: scenario.duration.inSeconds, jobs: jobs)
        let clock = ContinuousClock()
        var result: SimulationResult?
        let elapsed = clock.measure {
            let simulation = Simulation(policy: policy, workload: workload, seed: 1)
            var autoscaler = QueueDrivenAutoscaler(
                policy: policy, forecast: SimulatedScheduleForecast(workload: workload))
            result = simulation.run(&autoscaler, scenario: "bench")
        }
        let ticks = Int(workload.duration / policy.interval.inSeconds)
        print("simulator: \(days) simulated days, \(services.count) services, \(workload.jobs.count) jobs, \(ticks) controller ticks (\(ticks * services.count) decisions)")
        print("simulator: \(String(format: "%.2f", elapsed.inSeconds)) s wall (goal < 10 s for 7 days)")
        if let totals = result?.totals {
            print("simulator: \(totals.completed) completed, \(totals.killed) killed, \(String(format: "%.0f", totals.taskHours)) task-hours")
        }
        if let peak = peakResidentKilobytes() {
            print("simulator: peak resident memory \(String(format: "%.1f", Double(peak) / 1024)) MiB")
        }
    }
}
