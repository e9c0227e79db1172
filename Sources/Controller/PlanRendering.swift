import AutoscalerCore
import Foundation

/// A reconcile report for people (`plan`, dry-run) and machines (`plan --json`, `/status`).
public enum PlanRendering {
    public static func object(_ report: ReconcileReport) -> [String: Any] {
        var object: [String: Any] = [
            "at": report.at.description,
            "mode": report.mode.rawValue,
            "leader": report.isLeader,
            "durationMilliseconds": (report.duration.inSeconds * 10_000).rounded() / 10,
            "queueLayout": report.probe.systemName,
            "controllerMode": report.controllerMode.rawValue,
        ]
        if let killSwitch = report.killSwitch {
            var entry: [String: Any] = ["source": killSwitch.source, "mode": killSwitch.mode?.rawValue as Any]
            if let problem = killSwitch.problem { entry["problem"] = problem }
            object["killSwitch"] = entry
        }
        object["services"] = report.services.map { plan -> [String: Any] in
            var entry: [String: Any] = [
                "name": plan.name,
                "proposed": plan.decision.desired as Any,
                "reason": plan.decision.reason,
                "reasonCode": plan.decision.code.rawValue,
                "outcome": plan.outcome.name,
                "serviceMode": plan.mode.rawValue,
            ]
            if let hold = plan.hold {
                entry["hold"] = ["tasks": hold.tasks, "until": hold.until.description, "setBy": hold.setBy, "reason": hold.reason] as [String: Any]
            }
            entry["current"] = plan.state.map {
                ["desired": $0.desired, "running": $0.running, "pending": $0.pending, "deploying": $0.isDeploymentInProgress,
                 "readSecondsAgo": max(0, (report.at - $0.observedAt).inSeconds.rounded())] as [String: Any]
            } as Any
            entry["queues"] = plan.queues.map { queue -> [String: Any] in queueObject(queue, report.probe.readings[queue], abandoned: report.probe.abandonedJobs[queue]) }
            let notes = plan.plan.notices.compactMap { DecisionRecorder.servabilityMessage($0)?.0 }
            if !notes.isEmpty { entry["notes"] = notes }
            if let p50 = plan.startTimes.p50, let p90 = plan.startTimes.p90 {
                entry["taskStart"] = ["p50Seconds": p50.inSeconds, "p90Seconds": p90.inSeconds, "samples": plan.startTimes.samples.count]
            }
            for notice in plan.plan.notices {
                guard case .capacityStalled(let missing, let since, let timeout, let reason) = notice else { continue }
                entry["capacityStalled"] = [
                    "missingTasks": missing, "since": "\(since)", "timeoutSeconds": timeout.inSeconds, "ecsReason": reason as Any,
                ] as [String: Any]
            }
            let figures = plan.decision.figures
            if let servable = figures.servable {
                entry["demand"] = [
                    "pending": figures.pending, "servable": servable, "held": figures.held ?? 0, "stranded": figures.stranded ?? 0,
                    "unconsumed": figures.unconsumed ?? 0,
                ]
            }
            return entry
        }
        if let celery = report.probe.celery { object["celery"] = celeryObject(celery) }
        if let scheduler = report.probe.scheduler {
            object["scheduler"] = ["isStale": scheduler.isStale, "isJudged": scheduler.isJudged, "secondsSinceLastRefresh": scheduler.sinceLastRefresh.map { ($0.inSeconds * 10).rounded() / 10 } as Any] as [String: Any]
        }
        if !report.errors.isEmpty { object["errors"] = report.errors.map { errorObject($0) } }
        if let calls = report.apiCalls { object["ecsRequests"] = calls }
        if !report.queueFindings.isEmpty { object["queueNames"] = report.queueFindings.map { ["queue": $0.queue, "kind": $0.kind, "finding": $0.description] } }
        let check = report.forecastCheck
        if check.compared > 0 || !check.predictions.isEmpty {
            object["forecastCheck"] = [
                "refreshesCompared": check.compared,
                "meanAbsoluteError": check.meanAbsoluteError.map { ($0 * 100).rounded() / 100 } as Any,
                "recent": check.recent.suffix(10).map { ["refreshAt": $0.refreshAt.description, "predicted": $0.predicted, "observed": $0.observed] as [String: Any] },
                "next": check.predictions.last.map { ["at": $0.at.description, "dueQueries": $0.dueQueries] as [String: Any] } as Any,
            ] as [String: Any]
        }
        return object
    }

    /// Celery's remote-control round as JSON, the same in `queues --json`, `plan --json` and `/status`.
    public static func celeryObject(_ activity: CeleryActivity) -> [String: Any] {
        var object: [String: Any] = [
            "nodesReached": activity.reached as Any,
            "nodesAnswered": activity.nodes.count,
            "complete": activity.isComplete,
            "milliseconds": (activity.elapsed.inSeconds * 10_000).rounded() / 10,
            "nodes": activity.nodes.map { node -> [String: Any] in
                [
                    "name": node.name, "queues": node.queues, "busy": node.active.count,
                    "tasks": node.active.map { ["id": $0.id, "queue": $0.queue as Any, "startedAt": $0.startedAt?.description as Any] as [String: Any] },
                    "reserved": node.reserved.map { ["id": $0.id, "queue": $0.queue as Any] as [String: Any] },
                ]
            },
        ]
        if let problem = activity.problem { object["problem"] = problem }
        return object
    }

    /// Celery's remote-control round for people: a summary line, then one line per node.
    public static func celeryLines(_ activity: CeleryActivity) -> [String] {
        let took = "\(Int((activity.elapsed.inSeconds * 1000).rounded())) ms"
        let reached = activity.reached.map(String.init) ?? "?"
        var lines = ["celery workers: \(activity.nodes.count) of \(reached) node(s) answered in \(took)"
            + (activity.isComplete ? "" : " — running tasks unknown: \(activity.problem ?? "incomplete")")]
        for node in activity.nodes {
            let tasks = node.active.map { "\($0.queue ?? "?"):\($0.id.prefix(8))" }.joined(separator: " ")
            lines.append("  \(node.name)  [\(node.queues.joined(separator: ","))]  busy \(node.active.count)\(tasks.isEmpty ? "" : "  " + tasks)"
                + (node.reserved.isEmpty ? "" : "  holds \(node.reserved.count) prefetched"))
        }
        return lines
    }

    /// One queue as JSON, the same in `queues --json`, `plan --json` and `/status`.
    public static func queueObject(_ queue: String, _ reading: QueueReading?, abandoned: Int? = nil) -> [String: Any] {
        switch reading {
        case .observed(let observation):
            var entry: [String: Any] = [
                "name": queue, "pending": observation.pending, "running": observation.running as Any,
                "oldestAgeSeconds": observation.oldestAge.map { ($0.inSeconds * 1000).rounded() / 1000 } as Any,
            ]
            entry["workers"] = observation.workers.map { ["busy": $0.busy, "idle": $0.idle] } as Any
            if let abandoned { entry["abandoned"] = abandoned }
            if let waiting = observation.waiting {
                entry["waiting"] = [
                    "listed": waiting.listed, "servable": waiting.servable, "held": waiting.held.count, "stranded": waiting.stranded.count,
                    "unclassified": waiting.unclassified.count,
                    "prefetched": waiting.prefetched.map { message -> [String: Any] in
                        var object: [String: Any] = ["deliveryTag": message.deliveryTag, "taskId": message.taskID as Any]
                        object["fetchedAt"] = message.deliveredAt.map { "\($0)" } as Any
                        switch message.holder {
                        case .unknown: object["holder"] = NSNull()
                        case .node(let node): object["holder"] = node
                        case .none: object["holder"] = "none (stranded)"
                        }
                        return object
                    },
                ] as [String: Any]
            }
            return entry
        case .unavailable(let reason): return ["name": queue, "error": reason]
        case nil: return ["name": queue, "error": "not read"]
        }
    }

    /// The header of a queue table whose first column is `width` wide.
    public static func queueHeader(width: Int) -> String {
        "queue".rightPadded(to: width) + "pending".leftPadded(to: 8) + "oldest".leftPadded(to: 9) + "running".leftPadded(to: 9) + "   workers busy/idle"
    }

    /// One queue as a table row, the same in `queues` and `plan`.
    public static func queueRow(_ queue: String, _ reading: QueueReading?, width: Int, abandoned: Int? = nil) -> String {
        let label = queue.rightPadded(to: width)
        switch reading {
        case .observed(let observation):
            return label + "\(observation.pending)".leftPadded(to: 8)
                + (observation.oldestAge?.compactDescription ?? "-").leftPadded(to: 9)
                + (observation.running.map(String.init) ?? "?").leftPadded(to: 9)
                + "   " + (observation.workers.map { "\($0.busy)/\($0.idle)" } ?? "n/a (Celery)")
                + (abandoned.map { $0 > 0 ? "   \($0) abandoned (in a started registry, no worker runs it)" : "" } ?? "")
                + (observation.waiting.map(Self.waitingText) ?? "")
        case .unavailable(let reason): return label + "unavailable: \(reason)"
        case nil: return label + "not read"
        }
    }

    /// What of a queue's pending work a new task could take: `   of which 1 servable, 2 held by
    /// busy nodes, 1 stranded (back from …)`.
    static func waitingText(_ waiting: WaitingWork) -> String {
        var parts = ["\(waiting.servable) servable"]
        if !waiting.held.isEmpty { parts.append("\(waiting.held.count) held by busy nodes") }
        if !waiting.stranded.isEmpty { parts.append("\(waiting.stranded.count) stranded (no live holder)") }
        if !waiting.unclassified.isEmpty { parts.append("\(waiting.unclassified.count) prefetched, holder unknown (celery.inspect tells)") }
        return "   of which " + parts.joined(separator: ", ")
    }

    static func errorObject(_ error: DependencyError) -> [String: Any] {
        ["dependency": error.dependency.rawValue, "operation": error.operation, "message": error.message]
    }

    /// The `plan` table: one block per service.
    public static func text(_ report: ReconcileReport) -> String {
        var lines = ["plan at \(report.at) (\(report.mode.rawValue), queue layout \(report.probe.systemName))"]
        if report.controllerMode != .active || report.killSwitch != nil {
            let switchText = report.killSwitch.map { " (kill switch \($0.source): \($0.mode?.rawValue ?? "no override")\($0.problem.map { ", unreadable: \($0)" } ?? ""))" } ?? ""
            lines.append("controller mode: \(report.controllerMode.rawValue)\(switchText)")
        }
        let width = max(14, (report.services.flatMap(\.queues).map(\.count).max() ?? 0) + 4)
        for plan in report.services {
            let current = plan.state.map { "desired \($0.desired), running \($0.running), pending \($0.pending)\($0.isDeploymentInProgress ? ", deploying" : "")" } ?? "ECS state unknown"
            let proposed = plan.decision.desired.map(String.init) ?? "?"
            lines.append("")
            let mode = plan.mode == .active ? "" : " (\(plan.mode.rawValue))"
            lines.append("\(plan.name)\(mode): \(current) → proposed \(proposed) [\(plan.decision.code.rawValue)]")
            if let hold = plan.hold { lines.append("  operator hold: \(hold.explanation)") }
            lines.append("  " + queueHeader(width: width))
            lines += plan.queues.map { "  " + queueRow($0, report.probe.readings[$0], width: width, abandoned: report.probe.abandonedJobs[$0]) }
            lines.append("  \(plan.summary)")
            if let p50 = plan.startTimes.p50, let p90 = plan.startTimes.p90 {
                lines.append("  tasks start in \(p50.compactDescription) (p50), \(p90.compactDescription) (p90), from \(plan.startTimes.samples.count) starts")
            }
            for notice in plan.plan.notices {
                if let (message, _) = DecisionRecorder.servabilityMessage(notice) { lines.append("  note: \(message)") }
                if case .capacityStalled(let missing, let since, _, let reason) = notice {
                    lines.append("  note: \(missing) task(s) asked for have not started since \(since)\(reason.map { "; ECS says: \($0)" } ?? ""); not asking for more until they do")
                }
            }
        }
        if let celery = report.probe.celery { lines.append(""); lines += celeryLines(celery) }
        for error in report.errors { lines.append("error (\(error.dependency.rawValue)): \(error)") }
        if report.probe.scheduler?.isStale == true { lines.append("WARNING: Redash's scheduler looks dead (redash:status not refreshed)") }
        lines += report.queueFindings.map { "WARNING: queue names: \($0)" }
        return lines.joined(separator: "\n")
    }
}
