import AutoscalerCore
import Logging

/// The reconciler: each call of `reconcile` gathers every signal through its ports, lets the
/// pure `ServiceStep` plan each service, hands the plans to the applier, and records what came of
/// them. It never throws: a dependency that fails is reported and its part holds. A lost signal
/// never causes a scale-in (the core's rule); a lost ECS read causes no decision at all.
public actor Reconciler {
    /// Where the reconciler reads and writes. Each is a protocol of the core, so tests run the
    /// reconciler with in-memory ports.
    public struct Ports: Sendable {
        public var queues: any QueueSource
        public var cluster: any ClusterReader
        /// Live, dry-run: the only difference between the two.
        public var applier: any PlanApplier
        /// The scheduled-query forecast and runtimes; `nil` without a database.
        public var forecast: (any ForecastSource)?
        /// The decision log and durable cooldowns; `nil` without a database (or in dry-run).
        public var store: (any DecisionStore)?
        /// The leader lease; `nil` when this controller needs none.
        public var leadership: (any Leadership)?

        public init(
            queues: any QueueSource, cluster: any ClusterReader, applier: any PlanApplier, forecast: (any ForecastSource)? = nil,
            store: (any DecisionStore)? = nil, leadership: (any Leadership)? = nil
        ) {
            self.queues = queues
            self.cluster = cluster
            self.applier = applier
            self.forecast = forecast
            self.store = store
            self.leadership = leadership
        }
    }

    public private(set) var policy: Policy
    let ports: Ports
    let recorder: DecisionRecorder
    /// What the step remembers, per service.
    var memories: [String: ServiceMemory] = [:]
    /// The forecast checked against Redash's own refreshes.
    public private(set) var forecastCheck = ForecastCheck()
    var memoriesRestored = false
    public private(set) var lastReport: ReconcileReport?
    public private(set) var lastSuccessAt: Instant?

    public init(policy: Policy, ports: Ports, metrics: MetricsRegistry, controllerName: String, logger: Logger) {
        self.policy = policy
        self.ports = ports
        self.recorder = DecisionRecorder(metrics: metrics, store: ports.store, controllerName: controllerName, logger: logger)
    }

    public var mode: ControllerMode { ports.applier.mode }

    /// Swaps in a newly loaded policy; the memories of services that remain are kept.
    public func replacePolicy(_ newPolicy: Policy) {
        let names = Set(newPolicy.services.map(\.name))
        memories = memories.filter { names.contains($0.key) }
        policy = newPolicy
        recorder.forgetServices()
    }

    public func reconcile(now: Instant) async -> ReconcileReport {
        let started = ContinuousClock.now
        let policy = self.policy
        var errors: [DependencyError] = []

        let schedulerRequest = await ports.forecast?.schedulerRequest()
        let probe = await ports.queues.probe(queues: policy.queueNames, scheduler: schedulerRequest, now: now)
        errors += Self.probeErrors(probe, queues: policy.queueNames)
        let states = await readServices(policy, now: now, errors: &errors)
        let forecast = await ports.forecast?.snapshot(
            now: now, scheduler: probe.redashScheduler, schedulerIsStale: probe.scheduler?.isStale ?? false)
        if let problem = forecast?.problem { errors.append(DependencyError(.database, "Redash metadata", problem)) }
        let check = checkForecast(forecast, against: probe)
        let queueFindings = Self.queueFindings(policy, probe: probe, forecast: forecast)
        await restoreMemories(errors: &errors)
        let tasks = await readTasks(policy, probe: probe, states: states, now: now, errors: &errors)
        let lease = await ports.leadership?.acquireOrConfirm(now: now) ?? LeaseStatus(isLeader: true)
        let isLeader = lease.isLeader
        // A leader that may not write now (a new one in its takeover guard, an old one at the end
        // of a lease it cannot renew) is not in charge this tick either: a change ECS shows next
        // tick may be its predecessor's delayed write, not an outside one to hold off for minutes.
        var mayWrite = isLeader
        if isLeader, let leadership = ports.leadership { mayWrite = await leadership.writeWindow() != nil }
        let applier: any PlanApplier = mayWrite ? ports.applier : StandbyApplier(mode: ports.applier.mode)
        let context = ServiceStep.Context(interval: policy.interval)

        var services: [ServiceReport] = []
        for service in policy.services {
            let observation = Self.observation(of: service, probe: probe, state: states[service.name], tasks: tasks, forecast: forecast)
            let (plan, planned) = ServiceStep.plan(
                observation, memory: memories[service.name] ?? ServiceMemory(), policy: service, context: context, now: now)
            let result = await applier.apply(plan, service: service.name)
            let (memory, outcome) = ServiceStep.settle(plan, memory: planned, result: result)
            memories[service.name] = memory
            let report = ServiceReport(
                name: service.name, queues: service.queues, state: Self.withBusyTasks(observation.service, plan.busyTasks),
                plan: plan, outcome: outcome)
            await recorder.record(report, result: result, memory: memory, now: now, generation: lease.generation, errors: &errors)
            services.append(report)
        }

        let report = ReconcileReport(
            at: now, duration: ContinuousClock.now - started, mode: applier.mode, isLeader: isLeader, probe: probe,
            services: services, errors: errors, forecastCheck: forecastCheck, newComparison: check, queueFindings: queueFindings)
        recorder.finish(report, forecast: forecast)
        if report.succeeded { lastSuccessAt = now }
        lastReport = report
        return report
    }

    // MARK: Gathering

    /// Remembers what the forecast expects of Redash's next refresh, and compares the refresh
    /// Redash last recorded with what was expected of it.
    private func checkForecast(_ forecast: ForecastSnapshot?, against probe: ProbeReport) -> ForecastCheck.Comparison? {
        var comparison: ForecastCheck.Comparison?
        if let scheduler = probe.scheduler, let refresh = scheduler.refreshAnchor, let count = scheduler.outdatedQueries {
            comparison = forecastCheck.observe(refreshAt: refresh, outdatedQueries: count)
        }
        if let prediction = forecast?.nextRefresh { forecastCheck.predict(prediction) }
        return comparison
    }

    /// Policy queues that exist nowhere, and queues with work that no service consumes.
    static func queueFindings(_ policy: Policy, probe: ProbeReport, forecast: ForecastSnapshot?) -> [QueueNameCheck.Finding] {
        guard var known = probe.knownQueues?.names else { return [] }
        // A queue with registered workers exists, whether or not a job was ever enqueued on it.
        for (queue, reading) in probe.readings {
            if case .observed(let observation) = reading, let workers = observation.workers, workers.busy + workers.idle > 0 { known.insert(queue) }
        }
        return QueueNameCheck.check(
            policy: policy, known: known, pendingOutsidePolicy: probe.knownQueues?.pendingOutsidePolicy ?? [:],
            routed: forecast?.routedQueues ?? [:])
    }

    /// A queue that could not be read is an error of the tick (the rule already holds for it).
    static func probeErrors(_ probe: ProbeReport, queues: [String]) -> [DependencyError] {
        var errors = queues.compactMap { name -> DependencyError? in
            switch probe.readings[name] {
            case .unavailable(let reason): DependencyError(.redis, "queue \(name)", reason)
            case nil: DependencyError(.redis, "queue \(name)", "not read")
            case .observed: nil
            }
        }
        if let problem = probe.redashSchedulerProblem { errors.append(DependencyError(.redis, "Redash scheduler state", problem)) }
        return errors
    }

    private func readServices(_ policy: Policy, now: Instant, errors: inout [DependencyError]) async -> [String: ServiceState] {
        do {
            let snapshot = try await ports.cluster.services(policy.services.map(\.name), now: now)
            if !snapshot.missing.isEmpty {
                errors.append(DependencyError(.ecs, "DescribeServices", "not found: " + snapshot.missing.map { "\($0.name) (\($0.reason))" }.joined(separator: ", ")))
            }
            return snapshot.states
        } catch {
            errors.append(DependencyError(.ecs, "DescribeServices", "\(error)"))
            return [:]
        }
    }

    /// The tasks of the services that have busy workers or tasks this controller protected.
    private func readTasks(
        _ policy: Policy, probe: ProbeReport, states: [String: ServiceState], now: Instant, errors: inout [DependencyError]
    ) async -> [String: TaskReading] {
        var readings: [String: TaskReading] = [:]
        for service in policy.services {
            let workers = probe.layout == .rq ? probe.workerIdentities(on: service.queues) : nil
            guard ServiceStep.needsTasks(
                policy: service, workers: workers, service: states[service.name], memory: memories[service.name] ?? ServiceMemory())
            else { continue }
            do {
                let tasks = try await ports.cluster.tasks(of: [service.name], now: now)
                readings[service.name] = .observed(tasks[service.name] ?? [])
            } catch {
                errors.append(DependencyError(.ecs, "tasks of \(service.name)", "\(error)"))
                readings[service.name] = .unavailable(reason: "\(error)")
            }
        }
        return readings
    }

    static func observation(
        of service: ServicePolicy, probe: ProbeReport, state: ServiceState?, tasks: [String: TaskReading], forecast: ForecastSnapshot?
    ) -> ServiceObservation {
        ServiceObservation(
            queues: Dictionary(uniqueKeysWithValues: service.queues.map { ($0, probe.readings[$0] ?? .unavailable(reason: "not read")) }),
            service: state,
            workers: probe.layout == .rq ? probe.workerIdentities(on: service.queues) : nil,
            tasks: tasks[service.name] ?? .notRead,
            scheduledDue: forecast?.due.map { due in service.queues.flatMap { due[$0] ?? [] } },
            expectedRuntimes: forecast?.runtimes ?? [:])
    }

    static func withBusyTasks(_ state: ServiceState?, _ busy: BusyTasks) -> ServiceState? {
        guard var state else { return nil }
        state.busyTasks = busy.floor
        return state
    }

    /// Cooldowns survive a restart: the last scale-up and scale-down come back from the store.
    private func restoreMemories(errors: inout [DependencyError]) async {
        guard !memoriesRestored, let store = ports.store else { return }
        do {
            for (service, times) in try await store.loadActionTimes() where memories[service] == nil {
                memories[service] = ServiceMemory(history: ScalingHistory(lastScaleUp: times.lastScaleUp, lastScaleDown: times.lastScaleDown))
            }
            memoriesRestored = true
        } catch {
            errors.append(DependencyError(.database, "scaling history", "\(error)"))
        }
    }
}
