import AutoscalerCore
import Foundation

/// The controller's page (`/` and `/ui`): per service, queue depth, running jobs, desired and
/// running tasks over the last hours as an inline SVG chart, the oldest wait beneath it, then
/// the decisions with their reasons, newest first. One HTML document: no script, nothing
/// fetched from elsewhere; it reloads itself every 15 s.
///
/// Its cost is bounded whatever the history and the policy say: the history keeps a fixed number
/// of samples per service ([SignalHistory]), every text a user wrote is clipped, and the page
/// stops adding services at `sizeLimit` (pointing at `/status` for the rest). The endpoints
/// render it at most once per interval and serve that copy ([RenderCache]).
public enum StatusPage {
    /// Bytes of page past which no further service is drawn.
    public static let sizeLimit = 4 * 1024 * 1024
    /// Characters shown of a hold's explanation, a service's summary, the errors of a tick.
    static let textLimit = 300

    /// The chart's drawing area, in SVG units.
    static let width = 900.0, height = 180.0, waitHeight = 60.0, margin = 40.0

    /// The series drawn for each service: a CSS class, a label and how to read a sample.
    static let series: [(name: String, label: String, color: String, value: @Sendable (SignalHistory.Sample) -> Double?)] = [
        ("pending", "pending jobs", "#d95f02", { $0.pending.map(Double.init) }),
        ("running-jobs", "running jobs", "#7570b3", { $0.runningJobs.map(Double.init) }),
        ("desired", "desired tasks", "#1b9e77", { $0.desired.map(Double.init) }),
        ("running-tasks", "running tasks", "#66a61e", { $0.runningTasks.map(Double.init) }),
    ]

    public static func html(history: SignalHistory, report: ReconcileReport?, now: Instant) -> String {
        var body = ""
        if let report {
            let leader = report.isLeader ? "leader" : "standby"
            body += "<p class=\"summary\">Last reconcile \(escape(report.at.description)) · \(escape(report.mode.rawValue)) · controller mode <b>\(escape(report.controllerMode.rawValue))</b> · \(leader)"
            if !report.errors.isEmpty { body += " · <span class=\"errors\">\(report.errors.count) error(s): \(escape(report.errors.map(\.description).joined(separator: "; ").clipped(to: textLimit)))</span>" }
            body += "</p>\n"
        } else {
            body += "<p class=\"summary\">No reconcile yet.</p>\n"
        }
        if let celery = report?.probe.celery { body += celeryTable(celery) }
        let reports = Dictionary(uniqueKeysWithValues: (report?.services ?? []).map { ($0.name, $0) })
        let snapshot = history.snapshot()
        for (index, (service, samples, decisions)) in snapshot.enumerated() {
            guard body.utf8.count < sizeLimit else {
                body += "<p class=\"truncated\">\(snapshot.count - index) more service(s) not drawn: the page is at its size limit; <a href=\"/status\">/status</a> has every service.</p>\n"
                break
            }
            let current = reports[service]
            let mode = current?.mode ?? .active
            body += "<section class=\"service\" data-service=\"\(escape(service))\">\n"
            body += "<h2>\(escape(service.clipped(to: textLimit))) <span class=\"mode mode-\(mode.rawValue)\">\(mode.rawValue)</span>"
            if let hold = current?.hold { body += " <span class=\"hold\">\(escape(hold.explanation.clipped(to: textLimit)))</span>" }
            body += "</h2>\n"
            if let current { body += "<p class=\"now\">\(escape(current.summary.clipped(to: textLimit)))</p>\n" }
            body += chart(samples, service: service, window: history.window, now: now)
            body += decisionTable(decisions)
            body += "</section>\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="15">
            <title>redash-autoscaler</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
            h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
            .mode{font-size:.8em;padding:.1em .5em;border-radius:.3em;background:#e0f0e0}
            .mode-dry-run{background:#fff0c0}.mode-paused{background:#f6d0d0}.hold{font-size:.8em;color:#a33}
            .errors{color:#b00}
            table{border-collapse:collapse;margin-top:.5em}td,th{padding:.15em .6em;text-align:left;border-bottom:1px solid #eee;vertical-align:top}
            .legend span{margin-right:1em}.legend i{display:inline-block;width:1.5em;height:.3em;vertical-align:middle;margin-right:.3em}
            svg text{font-size:11px;fill:#555}
            </style></head>
            <body><h1>redash-autoscaler</h1>
            \(body)</body></html>

            """
    }

    static func chart(_ samples: [SignalHistory.Sample], service: String, window: Duration, now: Instant) -> String {
        // The last `window`, or less while the controller has run for less: the chart uses its width.
        let start = max(now - window, min(samples.first?.at ?? now, now - .seconds(60)))
        let shown = now - start
        let top = max(1, series.compactMap { entry in samples.compactMap(entry.value).max() }.max() ?? 1)
        let waitTop = max(1, samples.compactMap { $0.oldestWait?.inSeconds }.max() ?? 1)
        func x(_ at: Instant) -> Double { margin + max(0, min(1, (at - start).inSeconds / shown.inSeconds)) * width }
        var svg = "<svg class=\"chart\" data-service=\"\(escape(service))\" width=\"\(Int(width + 2 * margin))\" height=\"\(Int(height + waitHeight + 3 * margin))\" viewBox=\"0 0 \(Int(width + 2 * margin)) \(Int(height + waitHeight + 3 * margin))\" role=\"img\" aria-label=\"\(escape(service)): queues and tasks, last \(shown.compactDescription)\">\n"
        svg += "<rect x=\"\(margin)\" y=\"\(margin / 2)\" width=\"\(width)\" height=\"\(height)\" fill=\"#fafafa\" stroke=\"#ddd\"/>\n"
        svg += "<text x=\"4\" y=\"\(margin / 2 + 10)\">\(Int(top))</text><text x=\"4\" y=\"\(margin / 2 + height)\">0</text>\n"
        for entry in series {
            for segment in segments(samples, entry.value) {
                let points = segment.map { String(format: "%.0f,%.0f", x($0.at), margin / 2 + height - $0.value / top * height) }
                svg += "<polyline class=\"series \(entry.name)\" fill=\"none\" stroke=\"\(entry.color)\" stroke-width=\"1.8\" points=\"\(points.joined(separator: " "))\"/>\n"
            }
        }
        // The oldest wait, on its own scale beneath.
        let waitTop0 = margin / 2 + height + margin
        svg += "<rect x=\"\(margin)\" y=\"\(waitTop0)\" width=\"\(width)\" height=\"\(waitHeight)\" fill=\"#fafafa\" stroke=\"#ddd\"/>\n"
        svg += "<text x=\"4\" y=\"\(waitTop0 + 10)\">\(Duration.seconds(waitTop).compactDescription)</text>\n"
        for segment in segments(samples, { $0.oldestWait?.inSeconds ?? ($0.pending == nil ? nil : 0) }) {
            let points = segment.map { String(format: "%.0f,%.0f", x($0.at), waitTop0 + waitHeight - $0.value / waitTop * waitHeight) }
            svg += "<polyline class=\"series oldest-wait\" fill=\"none\" stroke=\"#e7298a\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\"/>\n"
        }
        let axis = waitTop0 + waitHeight + 14
        svg += "<text x=\"\(margin)\" y=\"\(axis)\">\(escape(start.description))</text><text x=\"\(margin + width - 150)\" y=\"\(axis)\">\(escape(now.description))</text>\n"
        svg += "</svg>\n"
        var legend = "<p class=\"legend\">"
        for entry in series { legend += "<span><i style=\"background:\(entry.color)\"></i>\(entry.label)</span>" }
        legend += "<span><i style=\"background:#e7298a\"></i>oldest wait (lower panel)</span>"
        if samples.isEmpty { legend += " · no samples yet" }
        return svg + legend + "</p>\n"
    }

    /// Runs of consecutive known values: an unreadable tick is a gap, not a zero.
    static func segments(_ samples: [SignalHistory.Sample], _ value: (SignalHistory.Sample) -> Double?) -> [[(at: Instant, value: Double)]] {
        var segments: [[(at: Instant, value: Double)]] = []
        var current: [(at: Instant, value: Double)] = []
        for sample in samples {
            if let known = value(sample), known.isFinite {
                current.append((sample.at, known))
            } else if !current.isEmpty {
                segments.append(current)
                current = []
            }
        }
        if !current.isEmpty { segments.append(current) }
        // A lone point draws nothing as a polyline: repeat it so that it shows as a dot.
        return segments.map { $0.count == 1 ? [$0[0], $0[0]] : $0 }
    }

    static func decisionTable(_ decisions: [SignalHistory.Entry]) -> String {
        guard !decisions.isEmpty else { return "<p class=\"no-decisions\">No decisions yet.</p>\n" }
        var table = "<table class=\"decisions\"><tr><th>at</th><th>outcome</th><th>reason</th><th>decision</th></tr>\n"
        for entry in decisions.reversed() {
            table += "<tr class=\"decision outcome-\(escape(entry.outcome))\"><td>\(escape(entry.at.description))</td><td>\(escape(entry.outcome))</td><td>\(escape(entry.reasonCode))</td><td>\(escape(entry.summary))</td></tr>\n"
        }
        return table + "</table>\n"
    }

    /// Celery nodes shown at the most; the rest are counted (`/status` has them all).
    static let nodeLimit = 200

    /// Celery's worker nodes as the last remote-control round saw them: what each listens on,
    /// what it runs and holds prefetched.
    static func celeryTable(_ activity: CeleryActivity) -> String {
        let reached = activity.reached.map(String.init) ?? "?"
        var html = "<section class=\"celery\"><h2>Celery workers</h2>\n<p class=\"celery-summary\">\(activity.nodes.count) of \(reached) node(s) answered"
        if !activity.isComplete { html += " · <span class=\"errors\">running queries unknown: \(escape((activity.problem ?? "incomplete").clipped(to: textLimit)))</span>" }
        html += "</p>\n"
        guard !activity.nodes.isEmpty else { return html + "</section>\n" }
        html += "<table class=\"celery-nodes\"><tr><th>node</th><th>queues</th><th>running</th><th>prefetched</th></tr>\n"
        for node in activity.nodes.sorted(by: { $0.name < $1.name }).prefix(nodeLimit) {
            let queues = node.queues.joined(separator: ", ").clipped(to: textLimit)
            html += "<tr class=\"celery-node\"><td>\(escape(node.name.clipped(to: 120)))</td><td>\(escape(queues))</td><td>\(node.active.count)</td><td>\(node.reserved.count)</td></tr>\n"
        }
        if activity.nodes.count > nodeLimit { html += "<tr><td colspan=\"4\">\(activity.nodes.count - nodeLimit) more: see /status</td></tr>\n" }
        return html + "</table></section>\n"
    }

    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
