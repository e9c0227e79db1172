import AutoscalerCore

/// An SVG chart of one service over a run, one panel per autoscaler: jobs waiting and running,
/// and capacity (desired and running tasks, in worker slots) so that demand and supply share an
/// axis and a person can see why one policy wins.
public enum Chart {
    /// The SVG document.
    public static func svg(results: [SimulationResult], service: String, workersPerTask: Int, start: Instant, utcOffset: Duration) -> String {
        let width = 960.0, panelHeight = 190.0, left = 56.0, right = 16.0, top = 48.0
        let height = top + Double(results.count) * (panelHeight + 34) + 30
        let series: [(String, String, (TimelineSample.Service) -> Double)] = [
            ("waiting jobs", "#e8710a", { Double($0.pending) }),
            ("running jobs", "#1a73e8", { Double($0.running) }),
            ("desired capacity (slots)", "#202124", { Double($0.desired * workersPerTask) }),
            ("running capacity (slots)", "#188038", { Double($0.runningTasks * workersPerTask) }),
        ]
        var peak = 1.0
        for result in results {
            for sample in result.timeline {
                if let entry = sample.services.first(where: { $0.name == service }) {
                    for (_, _, value) in series { peak = max(peak, value(entry)) }
                }
            }
        }
        peak = (peak * 1.1).rounded(.up)
        let (from, to) = activeWindow(results, service: service)
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="20" font-size="15" font-weight="bold">\(escape(service)): jobs and capacity over time</text>

            """
        var legendX = left
        for (label, color, _) in series {
            svg += "<rect x=\"\(legendX)\" y=\"31\" width=\"12\" height=\"3\" fill=\"\(color)\"/><text x=\"\(legendX + 16)\" y=\"36\">\(escape(label))</text>\n"
            legendX += 190
        }
        for (panel, result) in results.enumerated() {
            let y0 = top + Double(panel) * (panelHeight + 34) + 20
            let plotWidth = width - left - right
            let duration = max(1, to - from)
            svg += "<text x=\"\(left)\" y=\"\(y0 - 6)\" font-weight=\"bold\">\(escape(result.autoscaler))</text>\n"
            svg += "<rect x=\"\(left)\" y=\"\(y0)\" width=\"\(plotWidth)\" height=\"\(panelHeight)\" fill=\"none\" stroke=\"#dadce0\"/>\n"
            for tick in stride(from: 0.0, through: peak, by: max(1, (peak / 4).rounded(.up))) {
                let y = y0 + panelHeight - tick / peak * panelHeight
                svg += "<line x1=\"\(left)\" x2=\"\(left + plotWidth)\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"#f1f3f4\"/><text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(Int(tick))</text>\n"
            }
            let hourStep = duration > 48 * 3600 ? 24.0 : duration > 12 * 3600 ? 3.0 : 1.0
            let firstHour = (from / 3600).rounded(.up)
            for hour in stride(from: firstHour, through: to / 3600, by: hourStep) {
                let x = left + (hour * 3600 - from) / duration * plotWidth
                let local = CivilTime(start + .seconds(hour * 3600), utcOffset: utcOffset)
                let label = (local.hour < 10 ? "0" : "") + "\(local.hour):" + (local.minute < 10 ? "0" : "") + "\(local.minute)"
                svg += "<text x=\"\(x)\" y=\"\(y0 + panelHeight + 14)\" text-anchor=\"middle\" fill=\"#5f6368\">\(label)</text>\n"
            }
            for (_, color, value) in series {
                var points: [String] = []
                for sample in result.timeline where sample.time >= from && sample.time <= to {
                    guard let entry = sample.services.first(where: { $0.name == service }) else { continue }
                    let x = left + (sample.time - from) / duration * plotWidth
                    let y = y0 + panelHeight - value(entry) / peak * panelHeight
                    points.append("\(format(x)),\(format(y))")
                }
                svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.4\" points=\"\(points.joined(separator: " "))\"/>\n"
            }
            // The panel's own service: its task-hours and actions, not every service's.
            let own = result.services.first { $0.name == service }
            let taskHours = own?.taskHours ?? result.totals.taskHours
            let actions = own.map { $0.scaleUps + $0.scaleDowns } ?? result.totals.scalingActions
            svg += "<text x=\"\(left + plotWidth - 4)\" y=\"\(y0 - 6)\" text-anchor=\"end\" fill=\"#5f6368\">\(escape(service)): task-hours \(format(taskHours)) · actions \(actions) · queries killed (all services) \(result.totals.killed)</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// From an hour before the first queued job to an hour after the last, on whole hours, so
    /// that bursts are wide enough to see; the whole run when nothing ever queued.
    static func activeWindow(_ results: [SimulationResult], service: String) -> (Double, Double) {
        var first = Double.infinity, last = -Double.infinity, end = 0.0
        for result in results {
            end = max(end, result.hours * 3600)
            for sample in result.timeline where sample.services.contains(where: { $0.name == service && $0.pending > 0 }) {
                first = min(first, sample.time)
                last = max(last, sample.time)
            }
        }
        guard first.isFinite else { return (0, max(end, 1)) }
        let from = max(0, ((first - 3600) / 3600).rounded(.down) * 3600)
        let to = min(end, ((last + 3600) / 3600).rounded(.up) * 3600)
        return (from, max(to, from + 3600))
    }

    private static func format(_ value: Double) -> String {
        String(Double(Int((value * 10).rounded())) / 10)
    }

    private static func escape(_ text: String) -> String {
        text.replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;").replacingAll(">", with: "&gt;")
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
