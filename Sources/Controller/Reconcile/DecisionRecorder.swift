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
        /// The change a dry-run or paused service last proposed, counted once per proposal as a
        /// live change is counted once per write.
        var lastWouldScale: [String: Int] = [:]
        var schedulerWasStale = false
        var schedulerUnjudgedSaid = false
        /// The queue findings last logged, so that each is logged once per change.
        var queueFindings: [String] = []
    }

    private let state = Mutex(State())
    /// Lines that would repeat every tick: once a minute, with a count.
    let throttle = LogThrottle()

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
        logNotices(report.plan.notices, service: report.name, now: now)
        logProtection(result.protection, plan: report.plan, service: report.name, now: now, errors: &errors)
        metrics.set(.unmappedBusyWorkers, ["service": report.name], Double(report.plan.busyTasks.unmappedBusyWorkers))
        let stalled = report.plan.notices.contains { if case .capacityStalled = $0 { true } else { false } }
        metrics.set(.capacityStalled, ["service": report.name], stalled ? 1 : 0)
        if let p50 = memory.startTimes.p50, let p90 = memory.startTimes.p90 {
            metrics.set(.taskStartSeconds, ["service": report.name, "quantile": "0.5"], p50.inSeconds)
            metrics.set(.taskStartSeconds, ["service": report.name, "quantile": "0.9"], p90.inSeconds)
        }
        // Every counter of the service exists from its first tick, at 0: a dashboard's rate()
        // and a monitor's "no data" then mean what they say.
        for direction in ["up", "down"] {
            for name in [Metric.scaleActions, .wouldScaleActions] {
                metrics.increment(name, ["service": report.name, "direction": direction], by: 0)
            }
        }
        for action in ["protect", "release"] {
            metrics.increment(.taskProtectionChanges, ["service": report.name, "action": action], by: 0)
        }

        switch report.outcome {
        case .dryRun, .paused:
            // What it would have done: the dashboard's scale actions during a migration step,
            // once per proposal (the same proposal at every tick is one action not taken).
            let isNew = state.withLock { state in
                defer { state.lastWouldScale[report.name] = decision.desired }
                return state.lastWouldScale[report.name] != decision.desired
            }
            if isNew { metrics.increment(.wouldScaleActions, ["service": report.name, "direction": decision.direction.rawValue]) }
        case .applied:
            state.withLock { $0.lastWouldScale[report.name] = nil }
            metrics.increment(.scaleActions, ["service": report.name, "direction": decision.direction.rawValue])
            metrics.set(.lastScaleTimestamp, ["service": report.name], now.secondsSinceEpoch)
            if let store {
                do {
                    try await store.saveHistory(
                        service: report.name, lastScaleUp: memory.history.lastScaleUp, lastScaleDown: memory.history.lastScaleDown, at: now)
                } catch {
                    errors.append(DependencyError(.database, "scaling history", "\(error)"))
                }
            }
        case .failed(let error):
            state.withLock { $0.lastWouldScale[report.name] = nil }
            // The error itself is logged with the tick's other errors, once a minute.
            errors.append(DependencyError(.ecs, "UpdateService \(report.name)", error))
        case .unchanged:
            state.withLock { $0.lastWouldScale[report.name] = nil }
        case .withheld:
            if let admitted = throttle.admit("withheld|\(report.name)|\(report.summary)", now: now) {
                logger.warning("\(report.summary)", metadata: metadata.merging(Self.repeatMetadata(admitted), uniquingKeysWith: { $1 }))
            }
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
        case .withheld: break
        case .failed: logger.warning("\(report.summary)", metadata: metadata)
        case .unchanged: logger.info("\(report.summary)", metadata: metadata)
        default: logger.notice("\(report.summary)", metadata: metadata)
        }
        guard let store else { return }
        let mode: String
        switch report.outcome {
        case .applied: mode = "applied"
        case .dryRun: mode = "dry-run"
        case .paused: mode = "paused"
        case .failed: mode = "failed"
        default: mode = "not-applied"
        }
        do {
            try await store.record(decision, mode: mode, controller: controllerName, generation: generation)
        } catch {
            errors.append(DependencyError(.database, "decision log", "\(error)"))
        }
    }

    /// Metrics of the whole tick and the scheduler's health.
    func finish(_ report: ReconcileReport, forecast: ForecastSnapshot?) {
        metrics.set(.leader, [:], report.isLeader ? 1 : 0)
        if let calls = report.apiCalls {
            // The controller's share of ECS's account-wide rate limits.
            metrics.set(.ecsRequestsLastTick, [:], Double(report.apiCallCount ?? 0))
            for (action, count) in calls { metrics.increment(.ecsRequests, ["action": action], by: count) }
        }
        if let forecast {
            metrics.set(.skippedSchedules, [:], Double(forecast.skippedSchedules))
            metrics.set(.blockedScheduledQueries, [:], Double(forecast.blockedLocks.count))
            logBlockedLocks(forecast.blockedLocks, now: report.at)
        }
        recordWaitingClasses(report)
        // Modes as one-hot gauges (1 for the mode in force, 0 for the others), so that a
        // dashboard can count paused services and a monitor can fire on a kill switch.
        for mode in ServiceMode.allCases {
            metrics.set(.controllerMode, ["mode": mode.rawValue], report.controllerMode == mode ? 1 : 0)
        }
        for service in report.services {
            for mode in ServiceMode.allCases {
                metrics.set(.serviceMode, ["service": service.name, "mode": mode.rawValue], service.mode == mode ? 1 : 0)
            }
            if let hold = service.hold {
                metrics.set(.operatorHoldTasks, ["service": service.name], Double(hold.tasks))
            } else {
                metrics.remove(.operatorHoldTasks, ["service": service.name])
            }
            if let state = service.state {
                metrics.set(.desiredTasks, ["service": service.name], Double(state.desired))
                metrics.set(.runningTasks, ["service": service.name], Double(state.running))
            }
            if let proposed = service.decision.desired {
                metrics.set(.proposedTasks, ["service": service.name], Double(proposed))
            }
        }
        for (queue, reading) in report.probe.readings {
            guard case .observed(let observation) = reading else {
                // Unknown now: absent in /metrics (a dashboard shows a gap, not the last value).
                for name in [Metric.queuePendingJobs, .queueRunningJobs, .queueOldestAge] {
                    metrics.remove(name, ["queue": queue])
                }
                continue
            }
            metrics.set(.queuePendingJobs, ["queue": queue], Double(observation.pending))
            if let running = observation.running {
                metrics.set(.queueRunningJobs, ["queue": queue], Double(running))
            } else {
                // Unknown (Celery without a complete round): absent, not the last count.
                metrics.remove(.queueRunningJobs, ["queue": queue])
            }
            if let age = observation.oldestAge {
                metrics.set(.queueOldestAge, ["queue": queue], age.inSeconds)
            } else if observation.pending == 0 {
                metrics.set(.queueOldestAge, ["queue": queue], 0)
            } else {
                // Jobs wait, but their age cannot be read (a message without an enqueue time):
                // absent, not 0.
                metrics.remove(.queueOldestAge, ["queue": queue])
            }
        }
        if let celery = report.probe.celery { recordCelery(celery, now: report.at) }
        if let scheduler = report.probe.scheduler {
            metrics.set(.schedulerStale, [:], scheduler.isStale ? 1 : 0)
            let wasStale = state.withLock { state in
                defer { state.schedulerWasStale = scheduler.isStale }
                return state.schedulerWasStale
            }
            let saidUnjudged = state.withLock { state in
                defer { state.schedulerUnjudgedSaid = !scheduler.isJudged }
                return state.schedulerUnjudgedSaid
            }
            if !scheduler.isJudged && !saidUnjudged {
                logger.notice("Redash's scheduler cannot be judged yet: Redis has no redash:status last_refresh_at (a new Redis, a Redash that has not refreshed yet, or not Redash's Redis); the scheduler check starts once Redash writes it")
            }
            if scheduler.isStale && !wasStale {
                logger.error("Redash's scheduler looks dead: no periodic refresh recorded recently (redash:status), scheduled queries are not being enqueued", metadata: [
                    "sinceLastRefresh": "\(scheduler.sinceLastRefresh.map { "\($0)" } ?? "never")",
                    "periodicWorkers": "\(scheduler.periodicWorkers.map(String.init) ?? "unknown")",
                ])
            }
        }
        if let comparison = report.newComparison {
            metrics.increment(.forecastRefreshesCompared)
            metrics.increment(.forecastRefreshAbsoluteError, by: abs(comparison.error))
            metrics.set(.forecastRefreshError, [:], Double(comparison.error))
            logger.debug("forecast checked against Redash's refresh", metadata: [
                "refreshAt": "\(comparison.refreshAt)", "predicted": "\(comparison.predicted)", "observed": "\(comparison.observed)",
            ])
        }
        recordQueueFindings(report.queueFindings)
        metrics.observeReconcile(report.duration)
        for outcome in ["success", "degraded"] { metrics.increment(.reconciles, ["outcome": outcome], by: 0) }
        for dependency in DependencyError.Dependency.allCases {
            metrics.increment(.errors, ["dependency": dependency.rawValue], by: 0)
        }
        metrics.increment(.reconciles, ["outcome": report.succeeded ? "success" : "degraded"])
        // A tick with a failed read counts once per dependency, however many queues or services
        // the failure touched: the counter says how often the controller was partly blind.
        for dependency in Set(report.errors.map(\.dependency)) { metrics.increment(.errors, ["dependency": dependency.rawValue]) }
        logErrors(report.errors, now: report.at, dryRun: report.mode == .dryRun)
    }

    /// A Celery round: node counts, complete or not, and a warning (once a minute while it lasts)
    /// when some node did not answer, since scale-in then falls back to the window alone.
    func recordCelery(_ celery: CeleryActivity, now: Instant) {
        if let reached = celery.reached {
            metrics.set(.celeryNodes, ["state": "reached"], Double(reached))
        } else {
            metrics.remove(.celeryNodes, ["state": "reached"])
        }
        metrics.set(.celeryNodes, ["state": "answered"], Double(celery.nodes.count))
        for result in ["complete", "incomplete"] { metrics.increment(.celeryRounds, ["result": result], by: 0) }
        metrics.increment(.celeryRounds, ["result": celery.isComplete ? "complete" : "incomplete"])
        guard let problem = celery.problem, let admitted = throttle.admit("celery|incomplete", now: now) else { return }
        logger.warning("Celery workers: \(problem); running tasks unknown, so scale-in relies on the stabilization window this tick", metadata: [
            "nodesReached": "\(celery.reached.map(String.init) ?? "unknown")", "nodesAnswered": "\(celery.nodes.count)",
            "heldBack": "\(admitted.heldBack)",
        ])
    }

    /// The tick's failures at the default level, in live and dry-run alike: one line per
    /// dependency (the first failure, the other operations that failed the same way, the IAM
    /// action missing if that is the cause), each distinct line once a minute with the count of
    /// ticks held back; and one line when a dependency works again.
    func logErrors(_ errors: [DependencyError], now: Instant, dryRun: Bool = false) {
        var seen = Set<String>()
        for dependency in DependencyError.Dependency.allCases {
            let failures = errors.filter { $0.dependency == dependency }
            guard let first = failures.first else { continue }
            let key = "error|\(dependency.rawValue)|" + Set(failures.map(\.shape)).sorted().joined(separator: "|")
            seen.insert(key)
            guard let admitted = throttle.admit(key, now: now) else { continue }
            var metadata: Logger.Metadata = [
                "dependency": "\(dependency.rawValue)", "operation": "\(first.operation)", "error": "\(first.message)",
            ]
            if failures.count > 1 {
                let others = failures.dropFirst().map(\.operation)
                metadata["failures"] = "\(failures.count)"
                metadata["alsoFailed"] = "\(others.prefix(10).joined(separator: ", "))\(others.count > 10 ? " and \(others.count - 10) more" : "")"
            }
            let permissions = Set(failures.compactMap(\.missingPermission)).sorted()
            if !permissions.isEmpty {
                metadata["missingPermission"] = "\(permissions.joined(separator: ","))"
                // A dry-run runs with the read-only role (or a person's credentials): point at its
                // policy, not at the writing controller's.
                metadata["fix"] = dryRun
                    ? "allow \(permissions.joined(separator: ", ")) to the credentials of the dry-run (deploy/iam/dry-run-policy.json.tftpl is the read-only policy)"
                    : "allow \(permissions.joined(separator: ", ")) in the controller's IAM role (deploy/iam/controller-policy.json.tftpl)"
            }
            metadata.merge(Self.repeatMetadata(admitted), uniquingKeysWith: { $1 })
            logger.error("\(Self.label(dependency)) failed: \(first)", metadata: metadata)
        }
        var recovered: [String: (since: Instant, occurrences: Int)] = [:]
        for entry in throttle.cleared(prefix: "error|", seen: seen) {
            let dependency = String(entry.key.split(separator: "|")[1])
            // A dependency failing another way now has not recovered.
            guard !seen.contains(where: { $0.hasPrefix("error|\(dependency)|") }) else { continue }
            let earlier = recovered[dependency]
            recovered[dependency] = (min(earlier?.since ?? entry.since, entry.since), (earlier?.occurrences ?? 0) + entry.occurrences)
        }
        for (dependency, entry) in recovered.sorted(by: { $0.key < $1.key }) {
            logger.notice("\(dependency) works again", metadata: [
                "dependency": "\(dependency)", "failingSince": "\(entry.since)", "failedTicks": "\(entry.occurrences)",
            ])
        }
    }

    static func label(_ dependency: DependencyError.Dependency) -> String {
        switch dependency {
        case .redis: "Redis"
        case .ecs: "ECS"
        case .database: "PostgreSQL"
        case .killSwitch: "the kill switch"
        }
    }

    /// What a throttled line adds: how often it was held back, and since when it holds.
    static func repeatMetadata(_ admission: LogThrottle.Admission) -> Logger.Metadata {
        guard admission.occurrences > 1 else { return [:] }
        return ["repeated": "\(admission.heldBack + 1)", "since": "\(admission.since)"]
    }

    private func recordQueueFindings(_ findings: [QueueNameCheck.Finding]) {
        let texts = findings.map(\.description)
        let previous = state.withLock { state in
            defer { state.queueFindings = texts }
            return state.queueFindings
        }
        for kind in ["missing", "unconsumed"] {
            metrics.set(.queueNameProblems, ["kind": kind], Double(findings.filter { $0.kind == kind }.count))
        }
        guard texts != previous else { return }
        for finding in findings where !previous.contains(finding.description) {
            logger.warning("queue names do not add up", metadata: ["queue": "\(finding.queue)", "kind": "\(finding.kind)", "finding": "\(finding)"])
        }
        if findings.isEmpty && !previous.isEmpty { logger.notice("queue names add up again") }
    }

    /// Drops the per-service gauges (a new policy may manage other services).
    func forgetServices() {
        metrics.clear(.desiredTasks)
        metrics.clear(.proposedTasks)
        metrics.clear(.runningTasks)
    }

    private func logNotices(_ notices: [StepNotice], service: String, now: Instant) {
        for notice in notices {
            switch notice {
            case .outsideChange(let from, let to, let until):
                logger.warning("desiredCount changed outside the controller; leaving it alone for a while", metadata: [
                    "service": "\(service)", "from": "\(from)", "to": "\(to)", "until": "\(until)",
                ])
            case .unmappedBusyWorkers(let count):
                guard let admitted = throttle.admit("unmapped|\(service)", now: now) else { continue }
                logger.warning("busy workers that match no task: only the running-jobs floor protects them", metadata: [
                    "service": "\(service)", "unmapped": "\(count)",
                ].merging(Self.repeatMetadata(admitted), uniquingKeysWith: { $1 }))
            case .capacityStalled(let missing, let since, let timeout, let reason):
                guard let admitted = throttle.admit("stalled|\(service)", now: now) else { continue }
                logger.warning(
                    "tasks asked for are not starting; not asking ECS for more until they do (desiredCount is never lowered for this)",
                    metadata: [
                        "service": "\(service)", "missing": "\(missing)", "since": "\(since)", "timeout": "\(timeout)",
                        "ecsReason": "\(reason ?? "none in the service's events")",
                        "fix": "check the service's events (aws ecs describe-services), Fargate capacity and quotas, the image, the subnets' free IPs",
                    ].merging(Self.repeatMetadata(admitted), uniquingKeysWith: { $1 }))
            case .drainingNodes(let nodes, let running):
                guard let admitted = throttle.admit("draining|\(service)", now: now) else { continue }
                logger.notice("Celery nodes stopping (ECS stopped their tasks) still run queries; they stay counted until the tasks stop", metadata: [
                    "service": "\(service)", "nodes": "\(nodes.joined(separator: ","))", "running": "\(running)",
                ].merging(Self.repeatMetadata(admitted), uniquingKeysWith: { $1 }))
            case .unconsumedQueues, .strandedMessages, .heldMessages, .unlistenedQueues, .unclassifiedMessages:
                // Said when it starts and once a minute while it lasts, with what to do about it.
                guard let admitted = throttle.admit("servable|\(service)|\(Self.noticeKind(notice))", now: now),
                      let (message, metadata) = Self.servabilityMessage(notice) else { continue }
                logger.warning("\(message)", metadata: metadata.merging(["service": "\(service)"], uniquingKeysWith: { $1 })
                    .merging(Self.repeatMetadata(admitted), uniquingKeysWith: { $1 }))
            }
        }
    }

    /// Jobs of each queue by what a new task could do with them: `servable`, `held` (prefetched
    /// by a busy node), `stranded` (no live holder), `unconsumed` (no worker of the consuming
    /// service listens on the queue). Absent while the queue cannot be read.
    private func recordWaitingClasses(_ report: ReconcileReport) {
        var unconsumed: [String: Int] = [:]
        for service in report.services {
            for notice in service.plan.notices {
                guard case .unconsumedQueues(let queues, _, _) = notice else { continue }
                for queue in queues { unconsumed[queue] = 1 }
            }
        }
        for (queue, reading) in report.probe.readings {
            let classes = ["servable", "held", "stranded", "unconsumed"]
            guard case .observed(let observation) = reading else {
                for name in classes { metrics.remove(.queueJobsByClass, ["queue": queue, "class": name]) }
                continue
            }
            var counts = ["servable": observation.servable, "held": observation.waiting?.held.count ?? 0,
                          "stranded": observation.waiting?.stranded.count ?? 0, "unconsumed": 0]
            if unconsumed[queue] != nil { counts = ["servable": 0, "held": 0, "stranded": 0, "unconsumed": observation.pending] }
            for (name, count) in counts { metrics.set(.queueJobsByClass, ["queue": queue, "class": name], Double(count)) }
        }
    }

    /// Scheduled queries Redash will not enqueue, with the lock, the dead job and the expiry:
    /// at once, then once a minute per lock while it lasts.
    private func logBlockedLocks(_ locks: [String: JobLock], now: Instant) {
        for (key, lock) in locks.sorted(by: { $0.key < $1.key }) {
            guard case .blocked(let until, let cause) = lock, let admitted = throttle.admit("blocked|\(key)", now: now) else { continue }
            logger.warning(
                "a scheduled query is held back by its lock: \(cause); Redash will not enqueue it before \(until), and the forecast counts no run of it until then. Delete the lock (redis-cli DEL \(key)) to let Redash enqueue it at its next refresh",
                metadata: ["lock": "\(key)", "until": "\(until)", "cause": "\(cause)"].merging(Self.repeatMetadata(admitted), uniquingKeysWith: { $1 }))
        }
    }

    /// A notice's kind, for throttling: one line a minute per kind and service.
    static func noticeKind(_ notice: StepNotice) -> String {
        switch notice {
        case .outsideChange: "outside"
        case .unmappedBusyWorkers: "unmapped"
        case .unconsumedQueues: "unconsumed"
        case .strandedMessages: "stranded"
        case .heldMessages: "held"
        case .unlistenedQueues: "unlistened"
        case .unclassifiedMessages: "unclassified"
        case .drainingNodes: "draining"
        case .capacityStalled: "stalled"
        }
    }

    /// What the operator reads about work a new task could not take, and the remedy.
    static func servabilityMessage(_ notice: StepNotice) -> (String, Logger.Metadata)? {
        switch notice {
        case .unconsumedQueues(let queues, let pending, let listenedTo):
            return (
                "\(pending) job(s) wait on \(queues.joined(separator: ", ")), which no worker of the service listens on (its workers listen on "
                    + "\(listenedTo.joined(separator: ","))); not scaling for them: add the queue to the workers' QUEUES, or route the data source "
                    + "(data_sources.queue_name) to a queue they consume",
                ["queues": "\(queues.joined(separator: ","))", "pending": "\(pending)", "workerQueues": "\(listenedTo.joined(separator: ","))"])
        case .strandedMessages(let count, let fetchedAt, let returnsAt):
            let since = fetchedAt.map { " fetched at \($0)" } ?? ""
            let back = returnsAt.map { "kombu gives them back from \($0) (visibility timeout; up to 100 s later, 400 s with Redash v8's kombu 4.6.3)" }
                ?? "kombu gives them back once they are older than its visibility timeout"
            return (
                "\(count) message(s)\(since) are stranded in kombu's unacked: no live worker holds them (a worker killed at ECS's stopTimeout while it "
                    + "held them); not scaling for them: \(back). To avoid it, raise the task's stopTimeout (up to 120 s on Fargate) so that warm "
                    + "shutdown can give them back, or run Celery with task_acks_late",
                ["stranded": "\(count)", "fetchedAt": "\(fetchedAt.map { "\($0)" } ?? "unknown")", "returnsAt": "\(returnsAt.map { "\($0)" } ?? "unknown")"])
        case .heldMessages(let count):
            return (
                "\(count) message(s) are prefetched by busy workers and wait behind their running queries; a new task cannot take them, so they do "
                    + "not count as demand. Redash v8 runs Celery with -Ofair and prefetch multiplier 1, which still holds one message per busy "
                    + "process; with task_acks_late and a prefetch multiplier of 1 a busy process holds none",
                ["held": "\(count)"])
        case .unlistenedQueues(let queues):
            return (
                "work waits on \(queues.joined(separator: ", ")), on which no live worker listens, and the service's own workers could not be matched to "
                    + "its tasks; still counted as demand. If it lasts, check the workers' QUEUES",
                ["queues": "\(queues.joined(separator: ","))"])
        case .unclassifiedMessages(let count):
            return (
                "\(count) message(s) in kombu's unacked count as waiting, though a busy worker may hold them behind its queries, or a worker "
                    + "killed at ECS's stopTimeout may have stranded them for kombu's visibility timeout: neither is work a new task could take. "
                    + "Set celery.inspect: true (or make the round complete) to tell them apart",
                ["prefetched": "\(count)"])
        case .outsideChange, .unmappedBusyWorkers, .drainingNodes, .capacityStalled:
            return nil
        }
    }

    private func logProtection(_ result: ProtectionResult, plan: ServicePlan, service: String, now: Instant, errors: inout [DependencyError]) {
        let names = { (ids: [String]) in ids.map(ARN.lastPart).joined(separator: ",") }
        switch result {
        case .nothingToDo:
            break
        case .notSent:
            logger.notice("would set task protection", metadata: [
                "service": "\(service)", "protect": "\(names(plan.protection.protect))", "release": "\(names(plan.protection.release))",
            ])
        case .applied(let change):
            for refusal in change.refused + change.releaseRefused {
                let shape = DependencyError(.ecs, "", refusal.reason).shape
                guard let admitted = throttle.admit("refused|\(service)|\(shape)", now: now) else { continue }
                logger.warning("task protection refused", metadata: [
                    "service": "\(service)", "task": "\(refusal.task)", "reason": "\(refusal.reason)",
                    "note": "\(refusal.reason == "DEPLOYMENT_BLOCKED" ? "a deployment is in progress; protection would block it" : "")",
                ].merging(Self.repeatMetadata(admitted), uniquingKeysWith: { $1 }))
            }
            if !change.protected.isEmpty {
                metrics.increment(.taskProtectionChanges, ["service": service, "action": "protect"], by: change.protected.count)
            }
            if !change.released.isEmpty {
                metrics.increment(.taskProtectionChanges, ["service": service, "action": "release"], by: change.released.count)
            }
            logger.info("task protection updated", metadata: [
                "service": "\(service)", "protected": "\(names(change.protected))", "released": "\(names(change.released))",
            ])
        case .failed(let error):
            // Logged with the tick's other errors, once a minute.
            errors.append(DependencyError(.ecs, "task protection of \(service)", error))
        }
    }

    static func metadata(_ report: ServiceReport) -> Logger.Metadata {
        let decision = report.decision
        var metadata: Logger.Metadata = [
            "service": "\(report.name)", "code": "\(decision.code.rawValue)",
            "from": "\(decision.current.map(String.init) ?? "?")", "to": "\(decision.desired.map(String.init) ?? "?")",
            "pending": "\(decision.figures.pending)",
        ]
        // Unknown running jobs are left out: a 0 would read as idle workers in a dashboard.
        if let running = decision.figures.running { metadata["running"] = "\(running)" }
        if let age = decision.figures.oldestAge { metadata["oldestAgeSeconds"] = "\(Int(age.inSeconds.rounded()))" }
        return metadata
    }
}
