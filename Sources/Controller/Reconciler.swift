import AWSClient
import AutoscalerCore
import Logging
import QueueProbes
import RedashMetadata
import RedisClient

/// Reads and sets the desired count of ECS services: ECS in production, anything else in tests.
public protocol ServiceScaler: Sendable {
    func describeServices(_ names: [String]) async throws -> ECSClient.ServicesReport
    @discardableResult
    func setDesiredCount(service: String, to count: Int) async throws -> ECSService
}

extension ECSClient: ServiceScaler {}

/// Finds a service's tasks and sets their scale-in protection: ECS in production.
public protocol TaskProtector: Sendable {
    func listTasks(service: String) async throws -> [String]
    func describeTasks(_ arns: [String]) async throws -> [ECSTask]
    func taskProtection(_ arns: [String]) async throws -> ECSClient.ProtectionReport
    func updateTaskProtection(_ arns: [String], enabled: Bool, expiresInMinutes: Int?) async throws -> ECSClient.ProtectionReport
}

extension ECSClient: TaskProtector {}

/// What one reconcile saw, decided and did.
public struct ReconcileReport: Sendable {
    public var at: Instant
    public var duration: Duration
    public var mode: Reconciler.Mode
    /// Whether this controller may act (holds the lease, or needs none).
    public var isLeader: Bool
    public var probe: ProbeReport
    public var services: [ServicePlan]
    /// Failed reads or writes, by dependency (`redis`, `ecs`, `database`).
    public var errors: [String: String]
    /// Whether Redis and ECS were both read: what `/readyz` asks of the last reconcile.
    public var succeeded: Bool { errors["redis"] == nil && errors["ecs"] == nil }
}

/// One service's part of a reconcile.
public struct ServicePlan: Sendable {
    public var name: String
    public var queues: [String]
    public var state: ServiceState?
    public var decision: Decision
    public var outcome: Outcome

    public enum Outcome: Sendable, Equatable {
        /// Nothing to change.
        case unchanged
        /// UpdateService sent and accepted.
        case applied
        /// Dry-run: would have been sent.
        case dryRun
        /// Another controller holds the lease.
        case notLeader
        /// Someone else changed desiredCount recently; left alone until then.
        case externalChangeRespected(until: Instant)
        /// UpdateService failed.
        case failed(String)
    }

    /// `would scale redash-adhoc-worker 1 → 4: …`, `scaled …`, `holding …`.
    public var summary: String {
        let from = decision.current.map(String.init) ?? "?"
        let to = decision.desired.map(String.init) ?? "?"
        switch outcome {
        case .unchanged: return "\(name) stays at \(from): \(decision.reason)"
        case .applied: return "scaled \(name) \(from) → \(to): \(decision.reason)"
        case .dryRun: return "would scale \(name) \(from) → \(to): \(decision.reason)"
        case .notLeader: return "not leader, not scaling \(name) \(from) → \(to): \(decision.reason)"
        case .externalChangeRespected(let until): return "respecting an outside change of \(name) to \(from) until \(until); would scale → \(to): \(decision.reason)"
        case .failed(let error): return "failed to scale \(name) \(from) → \(to): \(error)"
        }
    }
}

/// The reconciler: one call of `reconcile` reads every signal, decides every service with the
/// pure core, and applies the changes (or, in dry-run, says what it would do). It never throws:
/// a dependency that fails is reported and its part holds. A lost signal never causes a
/// scale-in (the core's rule); a lost ECS read causes no decision at all.
public actor Reconciler {
    public enum Mode: String, Sendable { case live, dryRun = "dry-run" }

    public struct Dependencies: Sendable {
        public var prober: QueueProber
        public var scaler: (any ServiceScaler)?
        /// For busy-aware scale-in (task protection); `nil` turns it off.
        public var protector: (any TaskProtector)?
        /// For `sq:executed_at`, when the forecast is on.
        public var redis: RedisClient?
        public var metadata: MetadataCache?
        public var state: ControllerStateStore?
        public var lease: LeaderLease?

        public init(
            prober: QueueProber, scaler: (any ServiceScaler)?, protector: (any TaskProtector)? = nil, redis: RedisClient? = nil,
            metadata: MetadataCache? = nil, state: ControllerStateStore? = nil, lease: LeaderLease? = nil
        ) {
            self.prober = prober
            self.scaler = scaler
            self.protector = protector
            self.redis = redis
            self.metadata = metadata
            self.state = state
            self.lease = lease
        }
    }

    /// How long an outside change of desiredCount (console, Terraform, another autoscaler) is
    /// left alone before the policy applies again.
    public static let externalChangeHold: Duration = .seconds(300)
    /// How long before scheduled queries fall due their capacity is asked for: a Fargate task
    /// takes 30–90 s to start.
    public static let forecastLead: Duration = .seconds(90)

    public private(set) var policy: Policy
    public let mode: Mode
    let dependencies: Dependencies
    let metrics: MetricsRegistry
    let logger: Logger
    /// Tasks this controller protected, per service, so it knows to release them.
    var protectedByUs: [String: Set<String>] = [:]
    let controllerName: String
    var histories: [String: ScalingHistory] = [:]
    var historiesRestored = false
    var lastSetByUs: [String: Int] = [:]
    var lastSeenDesired: [String: Int] = [:]
    var externalChangeUntil: [String: Instant] = [:]
    var lastLogged: [String: String] = [:]
    /// Redash's scheduler state from Redis, when it was read and for which data sources.
    var scheduler: (at: Instant, dataSources: [Int], state: RedashSchedulerState)?
    var schedulerWasStale = false
    /// Whether this instance led at the previous tick: only a leader that was leading can tell
    /// an outside change from its predecessor's.
    var wasLeader = false
    public private(set) var lastReport: ReconcileReport?
    public private(set) var lastSuccessAt: Instant?

    public init(policy: Policy, mode: Mode, dependencies: Dependencies, metrics: MetricsRegistry, controllerName: String, logger: Logger) {
        self.policy = policy
        self.mode = mode
        self.dependencies = dependencies
        self.metrics = metrics
        self.controllerName = controllerName
        self.logger = logger
    }

    /// Swaps in a newly loaded policy; histories of services that remain are kept.
    public func replacePolicy(_ newPolicy: Policy) {
        let names = Set(newPolicy.services.map(\.name))
        histories = histories.filter { names.contains($0.key) }
        policy = newPolicy
        metrics.clear("redash_autoscaler_desired_tasks")
        metrics.clear("redash_autoscaler_proposed_tasks")
        metrics.clear("redash_autoscaler_running_tasks")
    }

    public func reconcile(now: Instant) async -> ReconcileReport {
        let clock = ContinuousClock()
        let started = clock.now
        var errors: [String: String] = [:]
        let names = policy.services.map(\.name)

        let probe = await dependencies.prober.probe(queues: policy.queueNames)
        let unreadable = policy.queueNames.compactMap { name -> String? in
            if case .unavailable(let reason) = probe.readings[name] { return "\(name): \(reason)" }
            return probe.readings[name] == nil ? "\(name): not read" : nil
        }
        if !unreadable.isEmpty { errors["redis"] = unreadable.joined(separator: "; ") }

        var states: [String: ServiceState] = [:]
        if let scaler = dependencies.scaler {
            do {
                let report = try await scaler.describeServices(names)
                for service in report.services {
                    states[service.serviceName] = ServiceState(
                        desired: service.desiredCount, running: service.runningCount, pending: service.pendingCount,
                        isDeploymentInProgress: service.isDeploying, observedAt: now)
                }
                if !report.missing.isEmpty {
                    errors["ecs"] = "not found: " + report.missing.map { "\($0.name) (\($0.reason))" }.joined(separator: ", ")
                }
            } catch {
                errors["ecs"] = "\(error)"
            }
        } else {
            errors["ecs"] = "no ECS client"
        }

        let forecast = await readForecast(now: now, errors: &errors)
        await restoreHistories(errors: &errors)

        var isLeader = true
        if mode == .live, let lease = dependencies.lease {
            isLeader = await lease.acquireOrConfirm(now: now)
        }
        metrics.set("redash_autoscaler_leader", [:], isLeader ? 1 : 0)

        let runtimes = await typicalRuntimes()
        var plans: [ServicePlan] = []
        for service in policy.services {
            let readings = Dictionary(uniqueKeysWithValues: service.queues.map { ($0, probe.readings[$0] ?? .unavailable(reason: "not read")) })
            var state = states[service.name]
            let tasks = await observeTasks(service, probe: probe, state: &state, errors: &errors)
            let predicted = forecast.flatMap { predictedDemand(for: service, forecast: $0) }
            let input = DecisionInput(
                policy: service, queues: readings, service: state, predicted: predicted,
                history: histories[service.name] ?? ScalingHistory(), now: now, expectedRuntimes: runtimes)
            let decision = ScalingRule.decide(input)
            var history = input.history
            history.record(decision, policy: service)
            let protectionHeld = await protect(tasks, service: service, decision: decision, state: state, isLeader: isLeader, now: now, errors: &errors)
            let outcome = await act(
                decision, service: service, state: state, isLeader: isLeader, protectionHeld: protectionHeld, now: now,
                history: &history, errors: &errors)
            histories[service.name] = history
            let plan = ServicePlan(name: service.name, queues: service.queues, state: state, decision: decision, outcome: outcome)
            plans.append(plan)
            await record(plan, now: now, errors: &errors)
        }

        wasLeader = isLeader
        updateMetrics(probe: probe, plans: plans)
        let duration = clock.now - started
        metrics.observeReconcile(duration)
        let report = ReconcileReport(at: now, duration: duration, mode: mode, isLeader: isLeader, probe: probe, services: plans, errors: errors)
        metrics.increment("redash_autoscaler_reconciles_total", ["outcome": report.succeeded ? "success" : "degraded"])
        for dependency in errors.keys { metrics.increment("redash_autoscaler_errors_total", ["dependency": dependency]) }
        if report.succeeded { lastSuccessAt = now }
        lastReport = report
        return report
    }

    // MARK: Parts

    private func act(
        _ decision: Decision, service: ServicePolicy, state: ServiceState?, isLeader: Bool, protectionHeld: Bool, now: Instant,
        history: inout ScalingHistory, errors: inout [String: String]
    ) async -> ServicePlan.Outcome {
        if let state {
            if mode == .live, isLeader, wasLeader, let seen = lastSeenDesired[service.name], state.desired != seen,
               lastSetByUs[service.name] != state.desired {
                let until = now + Self.externalChangeHold
                externalChangeUntil[service.name] = until
                logger.warning("desiredCount changed outside the controller; leaving it alone for a while", metadata: [
                    "service": "\(service.name)", "from": "\(seen)", "to": "\(state.desired)", "until": "\(until)",
                ])
            }
            lastSeenDesired[service.name] = state.desired
        }
        guard decision.isChange, let desired = decision.desired else { return .unchanged }
        if mode == .dryRun { return .dryRun }
        if let until = externalChangeUntil[service.name], now < until { return .externalChangeRespected(until: until) }
        guard isLeader else { return .notLeader }
        guard let scaler = dependencies.scaler else { return .failed("no ECS client") }
        // A scale-in with busy tasks unprotected could stop a running query: not this tick.
        if decision.direction == .down && !protectionHeld {
            return .failed("busy tasks could not be protected; not scaling in this tick")
        }
        do {
            try await scaler.setDesiredCount(service: service.name, to: desired)
            history.recordApplied(decision)
            lastSetByUs[service.name] = desired
            lastSeenDesired[service.name] = desired
            metrics.increment("redash_autoscaler_scale_actions_total", ["service": service.name, "direction": decision.direction.rawValue])
            if let store = dependencies.state {
                do {
                    try await store.saveHistory(service: service.name, lastScaleUp: history.lastScaleUp, lastScaleDown: history.lastScaleDown, at: now)
                } catch {
                    errors["database"] = "\(error)"
                }
            }
            return .applied
        } catch {
            errors["ecs"] = "\(error)"
            return .failed("\(error)")
        }
    }

    /// Logs every change, and a hold only when its reason changes (not every tick); writes the
    /// same to the decision table.
    private func record(_ plan: ServicePlan, now: Instant, errors: inout [String: String]) async {
        let key = "\(plan.outcome)|\(plan.decision.code.rawValue)|\(plan.decision.desired ?? -1)"
        let isNew = lastLogged[plan.name] != key
        lastLogged[plan.name] = key
        var metadata: Logger.Metadata = [
            "service": "\(plan.name)", "code": "\(plan.decision.code.rawValue)",
            "from": "\(plan.decision.current.map(String.init) ?? "?")", "to": "\(plan.decision.desired.map(String.init) ?? "?")",
            "pending": "\(plan.decision.figures.pending)", "running": "\(plan.decision.figures.running)",
        ]
        if let age = plan.decision.figures.oldestAge { metadata["oldestAgeSeconds"] = "\(Int(age.inSeconds.rounded()))" }
        switch plan.outcome {
        case .applied: metrics.set("redash_autoscaler_last_scale_timestamp_seconds", ["service": plan.name], now.secondsSinceEpoch)
        case .failed: logger.error("\(plan.summary)", metadata: metadata)
        default: break
        }
        guard isNew || plan.outcome == .applied else { return }
        switch plan.outcome {
        case .failed: break
        case .unchanged: logger.info("\(plan.summary)", metadata: metadata)
        default: logger.notice("\(plan.summary)", metadata: metadata)
        }
        guard let store = dependencies.state else { return }
        let mode: String
        switch plan.outcome {
        case .applied: mode = "applied"
        case .dryRun: mode = "dry-run"
        case .failed: mode = "failed"
        default: mode = "hold"
        }
        do {
            try await store.record(plan.decision, mode: mode, controller: controllerName)
        } catch {
            errors["database"] = "\(error)"
        }
    }

    private func readForecast(now: Instant, errors: inout [String: String]) async -> ScheduledWorkForecast? {
        guard let metadata = dependencies.metadata else { return nil }
        // The metadata refreshes on its own slow intervals, in the background: a slow database
        // delays the forecast, never the tick. One refresh at a time.
        await metadata.refreshInBackground(now: now)
        if let problem = await metadata.problem { errors["database"] = problem }
        // Redash's scheduler runs every 30 s; its execution times and the paused data sources
        // are read as often, and at once when the data sources change (the first metadata
        // read comes after the first tick).
        let dataSources = await metadata.dataSourceIDs
        if let redis = dependencies.redis, scheduler.map({ now - $0.at >= .seconds(30) || $0.dataSources != dataSources }) ?? true {
            do {
                scheduler = (now, dataSources, try await RedashSchedulerState.read(redis, dataSources: dataSources))
            } catch {
                errors["redis"] = errors["redis"] ?? "sq:executed_at: \(error)"
            }
        }
        let state = scheduler?.state ?? RedashSchedulerState()
        let forecast = await metadata.forecast(now: now, executions: state.executions, paused: state.pausedDataSources, horizonMinutes: 10)
        if let forecast { metrics.set("redash_autoscaler_skipped_schedules", [:], Double(forecast.skipped.count)) }
        return forecast
    }

    /// The median runtime per queue from the database's statistics (for `target.drainTime`).
    private func typicalRuntimes() async -> [String: Duration] {
        guard let metadata = dependencies.metadata else { return [:] }
        return await metadata.stats.mapValues { .seconds($0.p50) }
    }

    func predictedDemand(for service: ServicePolicy, forecast: ScheduledWorkForecast) -> PredictedDemand? {
        let due = forecast.queues.filter { service.queues.contains($0.queue) }.flatMap(\.due)
        return ScheduledForecast.demand(due: due, policy: service, leadTime: Self.forecastLead + policy.interval)
    }

    /// Cooldowns survive a restart: the last scale-up and scale-down come back from the database.
    private func restoreHistories(errors: inout [String: String]) async {
        guard !historiesRestored, let store = dependencies.state else { return }
        do {
            for (service, times) in try await store.loadHistory() where histories[service] == nil {
                histories[service] = ScalingHistory(lastScaleUp: times.lastScaleUp, lastScaleDown: times.lastScaleDown)
            }
            historiesRestored = true
        } catch {
            errors["database"] = "\(error)"
        }
    }

    private func updateMetrics(probe: ProbeReport, plans: [ServicePlan]) {
        for plan in plans {
            if let state = plan.state {
                metrics.set("redash_autoscaler_desired_tasks", ["service": plan.name], Double(state.desired))
                metrics.set("redash_autoscaler_running_tasks", ["service": plan.name], Double(state.running))
            }
            if let proposed = plan.decision.desired {
                metrics.set("redash_autoscaler_proposed_tasks", ["service": plan.name], Double(proposed))
            }
        }
        for (queue, reading) in probe.readings {
            guard case .observed(let observation) = reading else { continue }
            metrics.set("redash_autoscaler_queue_pending_jobs", ["queue": queue], Double(observation.pending))
            if let running = observation.running { metrics.set("redash_autoscaler_queue_running_jobs", ["queue": queue], Double(running)) }
            metrics.set("redash_autoscaler_queue_oldest_age_seconds", ["queue": queue], observation.oldestAge?.inSeconds ?? 0)
        }
        if let scheduler = probe.scheduler {
            metrics.set("redash_autoscaler_scheduler_stale", [:], scheduler.isStale ? 1 : 0)
            if scheduler.isStale && !schedulerWasStale {
                logger.error("Redash's scheduler looks dead: no periodic refresh recorded recently (redash:status), scheduled queries are not being enqueued", metadata: [
                    "sinceLastRefresh": "\(scheduler.sinceLastRefresh.map { "\($0)" } ?? "never")",
                    "periodicWorkers": "\(scheduler.periodicWorkers.map(String.init) ?? "unknown")",
                ])
            }
            schedulerWasStale = scheduler.isStale
        }
    }
}
