import AutoscalerCore

/// The plain-text form of a `BenchmarkReport`: per scenario, the tuning picks, then per seed a
/// row for every autoscaler with its ratios, then the goals.
public enum BenchmarkTable {
    /// The whole report as text.
    public static func render(_ report: BenchmarkReport) -> String {
        report.scenarios.map(render).joined(separator: "\n\n")
    }

    static func render(_ scenario: ScenarioBenchmark) -> String {
        var lines: [String] = []
        lines.append("== \(scenario.scenario): \(scenario.summary)")
        func figures(_ mean: MeanFigures) -> String {
            "p95 adhoc \(seconds(mean.adhocP95)), p99 \(seconds(mean.adhocP99)), \(dollars(mean.cost)) (\(format(mean.taskHours)) task-h), \(mean.killed) killed"
        }
        lines.append("ours (mean of \(scenario.seeds.count) seeds): \(figures(scenario.ours)), p95 scheduled \(seconds(scenario.ours.scheduledP95))")
        lines.append("reactive oracle: \(figures(scenario.oracle))")
        lines.append("clairvoyant floor under our cost: \(figures(scenario.floor))")
        if let best = scenario.bestTuned {
            lines.append("best tuned baseline: \(best.family) [\(best.setting)]: \(figures(best.mean))")
        } else {
            lines.append("best tuned baseline: none (no setting of any baseline fits our cost)")
        }
        lines.append("")
        var tuning = [["baseline", "tried", "(a) lowest p95 at ≤ our cost", "(b) cheapest at ≤ our p95", "(a) among those killing none"]]
        for family in scenario.tuning {
            func describe(_ pick: TunedPick?) -> String {
                pick.map { "\(seconds($0.mean.adhocP95)), \(dollars($0.mean.cost)), \($0.mean.killed) killed [\($0.setting)]" } ?? "none"
            }
            tuning.append([
                family.family, String(family.settingsTried), describe(family.lowestWaitWithinOurCost),
                describe(family.cheapestAtOurWait), describe(family.lowestWaitWithoutKillsWithinOurCost),
            ])
        }
        lines.append(table(tuning))
        for seed in scenario.seeds {
            lines.append("")
            lines.append("seed \(seed.seed)")
            var rows = [[
                "autoscaler", "adhoc p50", "p95", "p99", "max", "sched p95", "p99", "task-h", "cost", "killed", "actions",
                "p95/oracle", "p99/oracle", "$/oracle", "p95/best", "$/best",
            ]]
            for row in seed.rows {
                rows.append([
                    row.autoscaler,
                    seconds(row.adhoc.p50), seconds(row.adhoc.p95), seconds(row.adhoc.p99), seconds(row.adhoc.max),
                    seconds(row.scheduled.p95), seconds(row.scheduled.p99),
                    format(row.taskHours), dollars(row.cost), String(row.killed), String(row.actions),
                    ratio(row.vsOracle.adhocP95), ratio(row.vsOracle.adhocP99), ratio(row.vsOracle.cost),
                    ratio(row.vsBestTuned?.adhocP95, known: row.vsBestTuned != nil), row.vsBestTuned.map { ratio($0.cost) } ?? "-",
                ])
            }
            lines.append(table(rows))
        }
        lines.append("")
        lines.append("goals:")
        for goal in scenario.goals {
            lines.append("  seed \(goal.seed) [\(goal.isMet ? "met" : "NOT met")] \(goal.goal): \(goal.measured)")
        }
        return lines.joined(separator: "\n")
    }

    static func ratio(_ value: Double?, known: Bool = true) -> String {
        guard known else { return "-" }
        guard let value else { return "∞" }
        return String((value * 100).rounded() / 100) + "×"
    }

    static func table(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.enumerated().map { index, row in
            let line = row.enumerated().map { column, cell in
                column == 0 ? cell.rightPadded(to: widths[column]) : cell.leftPadded(to: widths[column])
            }.joined(separator: "  ")
            return index == 0 ? line + "\n" + String(repeating: "-", count: line.count) : line
        }.joined(separator: "\n")
    }
}
