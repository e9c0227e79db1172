/// An SVG bar chart of a whole report: per scenario, the mean p95 wait (adhoc, then scheduled)
/// of the clairvoyant floor, the reactive oracle, our controller, the best tuned baseline and
/// target tracking's defaults, with the queries each killed over all seeds.
public enum SummaryChart {
    /// The bars of one scenario, in drawing order.
    struct Group {
        var scenario: String
        var bars: [(label: String, adhoc: Double, scheduled: Double, killed: Int)]
    }

    static let series: [(name: String, color: String)] = [
        ("clairvoyant floor", "#9aa0a6"), ("reactive oracle", "#188038"), ("redash-autoscaler", "#1a73e8"),
        ("best tuned baseline", "#e8710a"), ("target tracking, CPU 70 % (defaults)", "#d93025"),
    ]

    static func groups(_ report: BenchmarkReport) -> [Group] {
        report.scenarios.map { scenario in
            func mean(_ pick: (BenchmarkRow) -> Bool) -> (Double, Double, Int) {
                let rows = scenario.seeds.compactMap { $0.rows.first(where: pick) }
                guard !rows.isEmpty else { return (0, 0, 0) }
                let count = Double(rows.count)
                return (rows.reduce(0) { $0 + $1.adhoc.p95 } / count, rows.reduce(0) { $0 + $1.scheduled.p95 } / count, rows.reduce(0) { $0 + $1.killed })
            }
            let best = scenario.bestTuned?.family
            let picks: [(BenchmarkRow) -> Bool] = [
                { $0.role == .floor }, { $0.role == .reactiveOracle }, { $0.role == .ours },
                { $0.role == .tunedForWait && $0.family == best },
                { $0.role == .defaults && $0.autoscaler == DefaultSetup.targetTracking.rawValue },
            ]
            return Group(scenario: scenario.scenario, bars: zip(series, picks).map { entry, pick in
                let (adhoc, scheduled, killed) = mean(pick)
                return (entry.name, adhoc, scheduled, killed)
            })
        }
    }

    /// The SVG document.
    public static func svg(_ report: BenchmarkReport) -> String {
        let groups = groups(report)
        let width = 960.0, left = 56.0, right = 16.0, top = 64.0, panelHeight = 220.0, gap = 70.0
        let height = top + 2 * panelHeight + gap + 60
        let plotWidth = width - left - right
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="20" font-size="14" font-weight="bold">p95 wait in queue, mean of seeds \(report.seeds.map(String.init).joined(separator: ",")); killed = queries lost to scale-in over all seeds</text>

            """
        for (index, entry) in series.enumerated() {
            let x = left + Double(index) * 180
            svg += "<rect x=\"\(x)\" y=\"32\" width=\"12\" height=\"12\" fill=\"\(entry.color)\"/><text x=\"\(x + 16)\" y=\"42\">\(entry.name)</text>\n"
        }
        let panels: [(title: String, cap: Double, value: (Double, Double) -> Double)] = [
            ("adhoc queries (axis capped at 120 s)", 120, { adhoc, _ in adhoc }),
            ("scheduled refreshes (axis capped at 900 s)", 900, { _, scheduled in scheduled }),
        ]
        for (panelIndex, panel) in panels.enumerated() {
            let y0 = top + Double(panelIndex) * (panelHeight + gap)
            svg += "<text x=\"\(left)\" y=\"\(y0 - 8)\" font-weight=\"bold\">\(panel.title)</text>\n"
            svg += "<rect x=\"\(left)\" y=\"\(y0)\" width=\"\(plotWidth)\" height=\"\(panelHeight)\" fill=\"none\" stroke=\"#dadce0\"/>\n"
            for tick in stride(from: 0.0, through: panel.cap, by: panel.cap / 4) {
                let y = y0 + panelHeight - tick / panel.cap * panelHeight
                svg += "<line x1=\"\(left)\" x2=\"\(left + plotWidth)\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"#f1f3f4\"/><text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(Int(tick)) s</text>\n"
            }
            let groupWidth = plotWidth / Double(max(1, groups.count))
            let barWidth = groupWidth / Double(series.count + 1)
            for (groupIndex, group) in groups.enumerated() {
                let x0 = left + Double(groupIndex) * groupWidth + barWidth / 2
                for (barIndex, bar) in group.bars.enumerated() {
                    let value = panel.value(bar.adhoc, bar.scheduled)
                    let shown = min(value, panel.cap)
                    let x = x0 + Double(barIndex) * barWidth
                    let barHeight = shown / panel.cap * panelHeight
                    svg += "<rect x=\"\(format(x))\" y=\"\(format(y0 + panelHeight - barHeight))\" width=\"\(format(barWidth - 2))\" height=\"\(format(barHeight))\" fill=\"\(series[barIndex].color)\"/>\n"
                    let label = value >= 10 ? String(Int(value.rounded())) : String(Double(Int(value * 10)) / 10)
                    // A bar past the cap carries its value inside, in white.
                    let labelY = value > panel.cap ? y0 + 12 : y0 + panelHeight - barHeight - 3
                    let labelColor = value > panel.cap ? "white" : "black"
                    svg += "<text x=\"\(format(x + barWidth / 2 - 1))\" y=\"\(format(labelY))\" text-anchor=\"middle\" font-size=\"9\" fill=\"\(labelColor)\">\(label)</text>\n"
                    if panelIndex == 1 {
                        svg += "<text x=\"\(format(x + barWidth / 2 - 1))\" y=\"\(format(y0 + panelHeight + 40))\" text-anchor=\"middle\" font-size=\"9\" fill=\"\(series[barIndex].color)\">\(bar.killed)</text>\n"
                    }
                }
                svg += "<text x=\"\(format(x0 + Double(series.count) * barWidth / 2))\" y=\"\(format(y0 + panelHeight + 16))\" text-anchor=\"middle\">\(group.scenario)</text>\n"
            }
            if panelIndex == 1 {
                svg += "<text x=\"\(left - 6)\" y=\"\(format(y0 + panelHeight + 40))\" text-anchor=\"end\" font-size=\"9\">killed</text>\n"
            }
        }
        return svg + "</svg>\n"
    }

    private static func format(_ value: Double) -> String {
        String(Double(Int((value * 10).rounded())) / 10)
    }
}
