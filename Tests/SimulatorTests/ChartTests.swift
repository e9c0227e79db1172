import AutoscalerCore
import Simulator
import Testing
import IntegrationSupport

@Suite("Demo chart", .testThreads)
struct ChartTests {
    @Test("each panel states its own service's task-hours and actions, not the total of every service")
    func perServiceFigures() {
        let result = SimulationResult(
            autoscaler: "redash-autoscaler", scenario: "test", seed: 1, hours: 24, queues: [],
            services: [
                ServiceResult(name: "adhoc", taskHours: 30.5, taskSize: TaskSize(vCPU: 1, memoryGB: 2), cost: 1.5, scaleUps: 4, scaleDowns: 3, peakTasks: 6),
                ServiceResult(name: "scheduled", taskHours: 48, taskSize: TaskSize(vCPU: 0.5, memoryGB: 1), cost: 1.2, scaleUps: 1, scaleDowns: 1, peakTasks: 2),
            ], timeline: [])
        let svg = Chart.svg(results: [result], service: "adhoc", workersPerTask: 2, start: Instant(secondsSinceEpoch: 1_800_000_000), utcOffset: .zero)
        #expect(svg.contains("adhoc: task-hours 30.5 · actions 7"), "\(svg.suffix(400))")
        #expect(!svg.contains("task-hours 78.5"))
    }
}
