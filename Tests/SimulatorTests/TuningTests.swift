import AutoscalerCore
import Foundation
import PolicyFile
import Simulator
import Testing
import IntegrationSupport

private func figures(p95: Double, scheduled: Double = 0, hours: Double) -> MeanFigures {
    MeanFigures(adhocP95: p95, scheduledP95: scheduled, taskHours: hours, cost: hours * 0.05, killed: 0)
}

private func candidate(_ listLength: Double, p95: Double, scheduled: Double = 0, hours: Double) -> Tuning.Candidate {
    Tuning.Candidate(setting: .keda(.init(listLength: listLength)), mean: figures(p95: p95, scheduled: scheduled, hours: hours))
}

private func listLength(_ pick: Tuning.Candidate?) -> Double? {
    guard let pick, case .keda(let settings) = pick.setting else { return nil }
    return settings.listLength
}

@Suite("Tuning", .testThreads)
struct TuningTests {
    private let grid = [
        candidate(1, p95: 40, hours: 90),  // fast but dear
        candidate(2, p95: 60, hours: 80),
        candidate(3, p95: 60, scheduled: 10, hours: 79),
        candidate(5, p95: 200, hours: 70),  // cheap but slow
    ]

    @Test("(a) the lowest p95 at no higher cost than ours; ties go to the lower scheduled wait", arguments: [
        ("budget $4.25: listLength 2 and 3 tie on p95, 2 waits less on schedules", 4.25, 2.0 as Double?),
        ("budget $3.975: only 3 and 5 fit", 3.975, 3),
        ("budget $3: nothing fits", 3, nil),
    ])
    func lowestWait(_ name: String, budget: Double, expected: Double?) {
        #expect(listLength(Tuning.lowestWait(grid, withinCost: budget)) == expected, "\(name)")
    }

    @Test("(b) the lowest cost at no worse p95 than ours", arguments: [
        ("our p95 60 s: listLength 3 is the cheapest that waits no longer", 60.0, 3.0 as Double?),
        ("our p95 50 s: only listLength 1", 50, 1),
        ("our p95 30 s: nothing waits so little", 30, nil),
    ])
    func fewestTaskHours(_ name: String, wait: Double, expected: Double?) {
        #expect(listLength(Tuning.cheapest(grid, atWait: wait)) == expected, "\(name)")
    }

    @Test("a short report is deterministic, its picks obey their rules, and its ratios are to the right rows")
    func shortReport() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let policy = try #require(PolicyLoader.load(path: root.appendingPathComponent("policies.yaml").path, environment: [:]).policy)
        var scenario = Scenario.mondayRamp
        scenario.duration = .seconds(3600)
        scenario.start = scenario.start + .seconds(3 * 3600)  // 09:00–10:00, the dashboards hour
        var benchmark = Benchmark(policy: policy, scenarios: [scenario], seeds: [1, 2])
        benchmark.families = [.keda]
        benchmark.variants = []
        benchmark.fastStart = nil
        let report = benchmark.run()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(try encoder.encode(report) == encoder.encode(benchmark.run()))

        let figures = try #require(report.scenarios.first)
        for family in figures.tuning {
            if let pick = family.lowestWaitWithinOurCost { #expect(pick.mean.cost <= figures.ours.cost) }
            if let pick = family.cheapestAtOurWait { #expect(pick.mean.adhocP95 <= figures.ours.adhocP95) }
        }
        for seed in figures.seeds {
            let floor = try #require(seed.rows.first { $0.role == .floor })
            let oracle = try #require(seed.rows.first { $0.role == .reactiveOracle })
            let ours = try #require(seed.rows.first { $0.role == .ours })
            #expect(floor.killed == 0 && oracle.killed == 0, "neither yardstick ever stops a task under a job")
            #expect(floor.cost <= ours.cost + 1e-9, "the floor keeps to our budget")
            #expect(floor.adhoc.p95 <= ours.adhoc.p95)
            #expect(oracle.vsOracle.adhocP95 == 1 && oracle.vsOracle.cost == 1)
            #expect(abs(ours.vsOracle.cost - ours.cost / oracle.cost) < 1e-12)
            if figures.bestTuned != nil {
                let best = try #require(seed.rows.first { $0.role == .tunedForWait && $0.family == figures.bestTuned?.family })
                #expect(best.vsBestTuned?.adhocP95 == 1 && best.vsBestTuned?.cost == 1)
            }
        }
        #expect(figures.goals.count == 4, "two goals per seed")
        #expect(figures.goals.allSatisfy { !$0.measured.isEmpty })

        // The summary chart draws the oracle: its legend swatch and one bar per panel.
        let svg = SummaryChart.svg(report)
        #expect(svg.contains(">reactive oracle</text>"))
        #expect(svg.components(separatedBy: "fill=\"#188038\"/>").count - 1 == 1 + 2 * report.scenarios.count)
    }
}
