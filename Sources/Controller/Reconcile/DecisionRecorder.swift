import AutoscalerCore
import Logging
import Synchronization

/// Tells the world what a tick decided and did: log lines with structured fields, metrics, and
/// the decision log in the store. Every change is logged; a hold only when its reason changes.
final class DecisionRecorder: Sendable {
    let metrics: MetricsRegistry
    let store: (any DecisionStore)?
    let controllerName: String
    let logger: Logger

    private struct State {
        /// The last logged outcome, code and count per service, so that a hold is logged once.
        var lastLogged: [String: String] = [:]
        var schedulerWasStale = false
        /// The queue findings last logged, so that each is logged once per change.
        var queueFindings: [String] = []
    }

    private let state = Mutex(State())

    init(metrics: MetricsRegistry, store: (any DecisionStore)?, controllerName: String, logger: Logger) {
        self.metrics = metrics
        self.store = store
        self.controllerName = controllerName
        self.logger = logger
    }

    /// Records one service's part of a tick.
    func record(
        _ report: ServiceReport, result: ApplyResult, memory: ServiceMemory, now: Instant, generation: Int64?, errors: inout [DependencyError]
    ) async {
        let decision = report.decision
        let metadata = Self.metadata(report)
        logNotices(report.plan.notices, service: report.name)
        logProtection(result.protection, plan: report.plan, service: report.name, errors: &errors)
        metrics.set("redash_autoscaler_unmapped_busy_workers", ["service": report.name], Double(report.plan.busyTasks.unmappedBusyWorkers))

        switch report.outcome {
        case .applied:
            metrics.increment("redash_autoscaler_scale_actions_total", ["service": report.name, "direction": decision.direction.rawValue])
            metrics.set("redash_autoscaler_last_scale_timestamp_seconds", ["service": report.name], now.secondsSinceEpoch)
            if let store {
                do {
                    try await store.saveHistory(
                        service: report.name, lastScaleUp: memory.history.lastScaleUp, lastScaleDown: memory.history.lastScaleDown, at: now)
                } catch {
                    errors.append(DependencyError(.database, "scaling history", "\(error)"))
                }
            }
        case .failed(let error):
            errors.append(DependencyError(.ecs, "UpdateService \(report.name)", error))
            logger.error("\(report.summary)", metadata: metadata)
        case .withheld:
            logger.warning("\(report.summary)", metadata: metadata)
        default:
            break
        }

        let key = "\(report.outcome)|\(decision.code.rawValue)|\(decision.desired ?? -1)"
        let isNew = state.withLock { state in
            defer { state.lastLogged[report.name] = key }
            return state.lastLogged[report.name] != key
        }
        guard isNew || report.outcome == .applied else { return }
        switch report.outcome {
        case .failed, .withheld: break
        case .unchanged: logger.info("\(report.summary)", metadata: metadata)
        default: logger.notice("\(report.summary)", metadata: metadata)
        }
        guard let store else { return }
        let mode: String
        switch report.outcome {
        case .applied: mode = "applied"
        case .dryRun: mode = "dry-run"
        case .failed: mode = "failed"
        default: mode = "hold"
        }
        do {
            try await store.record(decision, mode: mode, controller: controllerName, generation: generation)
        } catch {
            errors.append(DependencyError(.database, "decision log", "\(error)"))
        }
    }

    /// Metrics of the whole tick and the scheduler's health.
    func finish(_ report: ReconcileReport, forecast: ForecastSnapshot?) {
        metrics.set("redash_autoscaler_leader", [:], report.isLeader ? 1 : 0)
        if let calls = report.apiCalls {
            // The controller's share of ECS's account-wide rate limits.
            metrics.set("redash_autoscaler_ecs_requests_last_tick", [:], Double(report.apiCallCount ?? 0))
            for (action, count) in calls { metrics.increment("redash_autoscaler_ecs_requests_total", ["action": action], by: count) }
        }
        if let forecast { metrics.set("redash_autoscaler_skipped_schedules", [:], Double(forecast.skippedSchedules)) }
        for service in report.services {
            if let state = service.state {
                metrics.set("redash_autoscaler_desired_tasks", ["service": service.name], Double(state.desired))
                metrics.set("redash_autoscaler_running_tasks", ["service": service.name], Double(state.running))
            }
            if let proposed = service.decision.desired {
                metrics.set("redash_autoscaler_proposed_tasks", ["service": service.name], Double(proposed))
            }
        }
        for (queue, reading) in report.probe.readings {
            guard case .observed(let observation) = reading else {
                // Unknown now: absent in /metrics (a dashboard shows a gap, not the last value).
                for name in ["redash_autoscaler_queue_pending_jobs", "redash_autoscaler_queue_running_jobs", "redash_autoscaler_queue_oldest_age_seconds"] {
                    metrics.remove(name, ["queue": queue])
                }
                continue
            }
            metrics.set("redash_autoscaler_queue_pending_jobs", ["queue": queue], Double(observation.pending))
            if let running = observation.running { metrics.set("redash_autoscaler_queue_running_jobs", ["queue": queue], Double(running)) }
            metrics.set("redash_autoscaler_queue_oldest_age_seconds", ["queue": queue], observation.oldestAge?.inSeconds ?? 0)
        }
        if let scheduler = report.probe.scheduler {
            metrics.set("redash_autoscaler_scheduler_stale", [:], scheduler.isStale ? 1 : 0)
            let wasStale = state.withLock { state in
                defer { state.schedulerWasStale = scheduler.isStale }
                return state.schedulerWasStale
            }
            if scheduler.isStale && !wasStale {
                logger.error("Redash's scheduler looks dead: no periodic refresh recorded recently (redash:status), scheduled queries are not being enqueued", metadata: [
                    "sinceLastRefresh": "\(scheduler.sinceLastRefresh.map { "\($0)" } ?? "never")",
                    "periodicWorkers": "\(scheduler.periodicWorkers.map(String.init) ?? "unknown")",
                ])
            }
        }
        if let comparison = report.newComparison {
            metrics.increment("redash_autoscaler_forecast_refreshes_compared_total")
            metrics.increment("redash_autoscaler_forecast_refresh_absolute_error_total", by: abs(comparison.error))
            metrics.set("redash_autoscaler_forecast_refresh_error", [:], Double(comparison.error))
            logger.debug("forecast checked against Redash's refresh", metadata: [
                "refreshAt": "\(comparison.refreshAt)", "predicted": "\(comparison.predicted)", "observed": "\(comparison.observed)",
            ])
        }
        recordQueueFindings(report.queueFindings)
        metrics.observeReconcile(report.duration)
        metrics.increment("redash_autoscaler_reconciles_total", ["outcome": report.succeeded ? "success" : "degraded"])
        for error in report.errors { metrics.increment("redash_autoscaler_errors_total", ["dependency": error.dependency.rawValue]) }
    }

    private func recordQueueFindings(_ findings: [QueueNameCheck.Finding]) {
        let texts = findings.map(\.description)
        let previous = state.withLock { state in
            defer { state.queueFindings = texts }
            return state.queueFindings
        }
        for kind in ["missing", "unconsumed"] {
            metrics.set("redash_autoscaler_queue_name_problems", ["kind": kind], Double(findings.filter { $0.kind == kind }.count))
        }
        guard texts != previous else { return }
        for finding in findings where !previous.contains(finding.description) {
            logger.warning("queue names do not add up", metadata: ["queue": "\(finding.queue)", "kind": "\(finding.kind)", "finding": "\(finding)"])
        }
        if findings.isEmpty && !previous.isEmpty { logger.notice("queue names add up again") }
    }

    /// Drops the per-service gauges (a new policy may manage other services).
    func forgetServices() {
        metrics.clear("redash_autoscaler_desired_tasks")
        metrics.clear("redash_autoscaler_proposed_tasks")
        metrics.clear("redash_autoscaler_running_tasks")
    }

    private func logNotices(_ notices: [StepNotice], service: String) {
        for notice in notices {
            switch notice {
            case .outsideChange(let from, let to, let until):
                logger.warning("desiredCount changed outside the controller; leaving it alone for a while", metadata: [
                    "service": "\(service)", "from": "\(from)", "to": "\(to)", "until": "\(until)",
                ])
            case .unmappedBusyWorkers(let count):
                logger.warning("busy workers that match no task: only the running-jobs floor protects them", metadata: [
                    "service": "\(service)", "unmapped": "\(count)",
                ])
            }
        }
    }

    private func logProtection(_ result: ProtectionResult, plan: ServicePlan, service: String, errors: inout [DependencyError]) {
        let names = { (ids: [String]) in ids.map { $0.split(separator: "/").last.map(String.init) ?? $0 }.joined(separator: ",") }
        switch result {
        case .nothingToDo:
            break
        case .notSent:
            logger.notice("would set task protection", metadata: [
                "service": "\(service)", "protect": "\(names(plan.protection.protect))", "release": "\(names(plan.protection.release))",
            ])
        case .applied(let change):
            for refusal in change.refused + change.releaseRefused {
                logger.warning("task protection refused", metadata: [
                    "service": "\(service)", "task": "\(refusal.task)", "reason": "\(refusal.reason)",
                    "note": "\(refusal.reason == "DEPLOYMENT_BLOCKED" ? "a deployment is in progress; protection would block it" : "")",
                ])
            }
            if !change.protected.isEmpty {
                metrics.increment("redash_autoscaler_task_protection_changes_total", ["service": service, "action": "protect"], by: change.protected.count)
            }
            if !change.released.isEmpty {
                metrics.increment("redash_autoscaler_task_protection_changes_total", ["service": service, "action": "release"], by: change.released.count)
            }
            logger.info("task protection updated", metadata: [
                "service": "\(service)", "protected": "\(names(change.protected))", "released": "\(names(change.released))",
            ])
        case .failed(let error):
            errors.append(DependencyError(.ecs, "task protection of \(service)", error))
            logger.error("task protection failed; not scaling in this tick", metadata: ["service": "\(service)", "error": "\(error)"])
        }
    }

    static func metadata(_ report: ServiceReport) -> Logger.Metadata {
        let decision = report.decision
        var metadata: Logger.Metadata = [
            "service": "\(report.name)", "code": "\(decision.code.rawValue)",
            "from": "\(decision.current.map(String.init) ?? "?")", "to": "\(decision.desired.map(String.init) ?? "?")",
            "pending": "\(decision.figures.pending)", "running": "\(decision.figures.running)",
        ]
        if let age = decision.figures.oldestAge { metadata["oldestAgeSeconds"] = "\(Int(age.inSeconds.rounded()))" }
        return metadata
    }
}
