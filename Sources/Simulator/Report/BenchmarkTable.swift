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
        lines.append("ours (mean of \(scenario.seeds.count) seeds): p95 adhoc \(seconds(scenario.ours.adhocP95)), p95 scheduled \(seconds(scenario.ours.scheduledP95)), \(format(scenario.ours.taskHours)) task-h, \(scenario.ours.killed) killed")
        lines.append("clairvoyant floor under our budget: p95 adhoc \(seconds(scenario.floor.adhocP95)), \(format(scenario.floor.taskHours)) task-h")
        if let best = scenario.bestTuned {
            lines.append("best tuned baseline: \(best.family) [\(best.setting)]: p95 adhoc \(seconds(best.mean.adhocP95)), \(format(best.mean.taskHours)) task-h, \(best.mean.killed) killed")
        } else {
            lines.append("best tuned baseline: none (no setting of any baseline fits our task-hours)")
        }
        lines.append("")
        var tuning = [["baseline", "tried", "(a) lowest p95 at ≤ our task-h", "(b) fewest task-h at ≤ our p95", "(a) among those killing none"]]
        for family in scenario.tuning {
            func describe(_ pick: TunedPick?) -> String {
                pick.map { "\(seconds($0.mean.adhocP95)), \(format($0.mean.taskHours)) h, \($0.mean.killed) killed [\($0.setting)]" } ?? "none"
            }
            tuning.append([
                family.family, String(family.settingsTried), describe(family.lowestWaitWithinOurTaskHours),
                describe(family.fewestTaskHoursAtOurWait), describe(family.lowestWaitWithoutKillsWithinOurTaskHours),
            ])
        }
        lines.append(table(tuning))
        for seed in scenario.seeds {
            lines.append("")
            lines.append("seed \(seed.seed)")
            var rows = [["autoscaler", "adhoc p50", "p95", "p99", "sched p50", "p95", "p99", "task-h", "killed", "actions", "p95/best", "h/best", "p95/floor", "h/floor"]]
            for row in seed.rows {
                rows.append([
                    row.autoscaler,
                    seconds(row.adhoc.p50), seconds(row.adhoc.p95), seconds(row.adhoc.p99),
                    seconds(row.scheduled.p50), seconds(row.scheduled.p95), seconds(row.scheduled.p99),
                    format(row.taskHours), String(row.killed), String(row.actions),
                    ratio(row.vsBestTuned?.adhocP95, known: row.vsBestTuned != nil), row.vsBestTuned.map { ratio($0.taskHours) } ?? "-",
                    ratio(row.vsFloor.adhocP95), ratio(row.vsFloor.taskHours),
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
