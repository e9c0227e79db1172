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
        /// Writes the plans the authority allows; without a writer (`run --dry-run`), none.
        public var applier: PlanApplier
        /// The scheduled-query forecast and runtimes; `nil` without a database.
        public var forecast: (any ForecastSource)?
        /// The decision log and durable cooldowns; `nil` without a database (or in dry-run).
        public var store: (any DecisionStore)?
        /// The leader lease; `nil` when this controller needs none.
        public var leadership: (any Leadership)?
        /// Counts the ECS requests, for the calls-per-tick figure; `nil`: not counted.
        public var apiCalls: (any APICallCounting)?
        /// The operators' holds; `nil` without a database.
        public var holds: (any HoldSource)?
        /// The kill switch of the policy at start; `nil` when it names none.
        public var killSwitch: (any ModeSwitch)?
        /// Makes the kill switch a policy's `killSwitch` names (a file or an SSM parameter); the
        /// reconciler makes it again when a reload adds or moves it. Throws what is wrong with it.
        public var killSwitches: @Sendable (String) throws -> any ModeSwitch
        /// The reconnect pacing of the clients, re-paced when a reload changes the interval.
        public var pacing: [ReconnectPacing]
        /// Other autoscalers registered on the services; `nil`: not looked for.
        public var competitors: (any CompetingScalers)?

        public init(
            queues: any QueueSource, cluster: any ClusterReader, applier: PlanApplier, forecast: (any ForecastSource)? = nil,
            store: (any DecisionStore)? = nil, leadership: (any Leadership)? = nil, apiCalls: (any APICallCounting)? = nil,
            holds: (any HoldSource)? = nil, killSwitch: (any ModeSwitch)? = nil,
            killSwitches: @escaping @Sendable (String) throws -> any ModeSwitch = Reconciler.fileKillSwitch, pacing: [ReconnectPacing] = [],
            competitors: (any CompetingScalers)? = nil
        ) {
            self.competitors = competitors
            self.killSwitch = killSwitch
            self.pacing = pacing
            self.holds = holds
            self.killSwitches = killSwitches
            self.queues = queues
            self.cluster = cluster
            self.applier = applier
            self.forecast = forecast
            self.store = store
            self.leadership = leadership
            self.apiCalls = apiCalls
        }
    }

    public private(set) var policy: Policy
    let ports: Ports
    let recorder: DecisionRecorder
    /// What the step remembers, per service.
    var memories: [String: ServiceMemory] = [:]
    /// When Celery's workers were last asked what they execute.
    var lastCeleryRound: Instant?
    /// Whether this controller led at its last tick: a standby does not broadcast to Celery's
    /// workers (one controller's writes are enough). Unknown before the first tick: a controller
    /// with a lease asks from its second tick as leader, one without from its first.
    var ledLastTick: Bool
    /// The forecast checked against Redash's own refreshes.
    public private(set) var forecastCheck = ForecastCheck()
    /// Due queries whose lock Redash held at the last tick: not enqueued at the next refresh.
    var heldLocksBefore = 0
    var memoriesRestored = false
    /// The holds last read (kept while the database cannot be read: dropping a hold could
    /// scale a service in), and the kill switch's last mode (kept while it cannot be read).
    var holds: [String: OperatorHold] = [:]
    var killSwitchMode: ServiceMode?
    /// The kill switch the policy in force names; `nil` when it names none.
    var killSwitch: (any ModeSwitch)?

    /// A kill switch in a file (`/path` or `file:/path`): what a controller without AWS reads.
    public static let fileKillSwitch: @Sendable (String) throws -> any ModeSwitch = { location in
        KillSwitch.file(location.hasPrefix("file:") ? String(location.dropFirst(5)) : location)
    }

    /// How long one read of the kill switch may take: a hung Parameter Store must not delay a
    /// tick (the last mode read stays).
    public static let killSwitchDeadline: Duration = .seconds(2)
    public private(set) var lastReport: ReconcileReport?
    /// The last hours of signals and decisions, for the status page.
    public nonisolated let history = SignalHistory()
    public private(set) var lastSuccessAt: Instant?

    public init(policy: Policy, ports: Ports, metrics: MetricsRegistry, controllerName: String, logger: Logger) {
        self.policy = policy
        self.ports = ports
        self.killSwitch = ports.killSwitch
        self.recorder = DecisionRecorder(metrics: metrics, store: ports.store, controllerName: controllerName, logger: logger)
        self.ledLastTick = ports.leadership == nil
    }

    public var mode: ControllerMode { ports.applier.mode }

    /// Swaps in a newly loaded policy; the memories of services that remain are kept. A kill
    /// switch added or moved is read from the next tick (the mode last read stays until it is),
    /// one removed no longer applies. Throws, changing nothing, when the new kill switch cannot
    /// be set up.
    public func replacePolicy(_ newPolicy: Policy) async throws {
        if newPolicy.killSwitch != policy.killSwitch {
            killSwitch = try newPolicy.killSwitch.map(ports.killSwitches)
            if killSwitch == nil { killSwitchMode = nil }
        }
        let names = Set(newPolicy.services.map(\.name))
        memories = memories.filter { names.contains($0.key) }
        if newPolicy.ecs != policy.ecs { await ports.cluster.adopt(newPolicy.ecs) }
        for pacing in ports.pacing { pacing.adopt(interval: newPolicy.interval) }
        policy = newPolicy
        recorder.forgetServices()
    }

    public func reconcile(now: Instant) async -> ReconcileReport {
        let started = ContinuousClock.now
        let callsBefore = ports.apiCalls?.callsSoFar()
        let policy = self.policy
        var errors: [DependencyError] = []

        let schedulerRequest = await ports.forecast?.schedulerRequest()
        // With celery.inspect, every tick carries a request: a round when one is due, else the
        // last complete round's answer, which stands until the next round.
        let asks = celeryRoundDue(policy, now: now)
        let activity = Self.inspectRequest(policy, asks: asks)
        if asks { lastCeleryRound = now }
        let probe = await ports.queues.probe(queues: policy.queueNames, scheduler: schedulerRequest, activity: activity, now: now)
        errors += Self.probeErrors(probe, queues: policy.queueNames)
        let states = await readServices(policy, now: now, errors: &errors)
        let forecast = await ports.forecast?.snapshot(
            now: now, scheduler: probe.redashScheduler, schedulerIsStale: probe.scheduler?.isStale ?? false)
        if let problem = forecast?.problem { errors.append(DependencyError(.database, "Redash metadata", problem)) }
        let check = checkForecast(forecast, against: probe)
        let queueFindings = Self.queueFindings(policy, probe: probe, forecast: forecast)
        await restoreMemories(errors: &errors)
        let tasks = await readTasks(policy.services, probe: probe, states: states, now: now, errors: &errors)
        let holds = await readHolds(now: now, errors: &errors)
        let killSwitch = await readKillSwitch(now: now, errors: &errors)
        let competing = await readCompetitors(policy, now: now, errors: &errors)
        let controllerMode = WriteAuthority.controllerMode(isDryRun: ports.applier.mode == .dryRun, policy: policy.mode, killSwitch: killSwitch?.mode)
        let lease = await ports.leadership?.acquireOrConfirm(now: now) ?? LeaseStatus(isLeader: true)
        let isLeader = lease.isLeader
        ledLastTick = isLeader
        // A leader that may not write now (a new one in its takeover guard, an old one at the end
        // of a lease it cannot renew) is not in charge this tick either: a change ECS shows next
        // tick may be its predecessor's delayed write, not an outside one to hold off for minutes.
        var mayWrite = isLeader
        if isLeader, let leadership = ports.leadership { mayWrite = await leadership.writeWindow() != nil }
        let context = ServiceStep.Context(interval: policy.interval, taskStartTimeout: policy.ecs.taskStartTimeout)

        var planned = policy.services.map { service in
            var observation = Self.observation(of: service, probe: probe, state: states[service.name], tasks: tasks, forecast: forecast, policy: policy)
            observation.hold = holds[service.name]
            observation.authority = WriteAuthority.decide(
                controller: controllerMode, service: service.mode, mayWrite: mayWrite, competitor: competing[service.name])
            let (plan, memory) = ServiceStep.plan(
                observation, memory: memories[service.name] ?? ServiceMemory(), policy: service, context: context, now: now)
            return Planned(service: service, observation: observation, plan: plan, memory: memory)
        }
        if isLeader { await replanFromFreshState(&planned, context: context, now: now, errors: &errors) }
        if isLeader {
            await recheckBusyBeforeScaleIn(&planned, policy: policy, tasks: tasks, forecast: forecast, context: context, now: now, errors: &errors)
        }

        var services: [ServiceReport] = []
        lastObservations = Dictionary(uniqueKeysWithValues: planned.map { ($0.service.name, $0.observation) })
        let results = await ports.applier.apply(planned.map { ($0.service.name, $0.plan) })
        for (entry, result) in zip(planned, results) {
            let (service, observation, plan) = (entry.service, entry.observation, entry.plan)
            let (memory, outcome) = ServiceStep.settle(plan, memory: entry.memory, result: result)
            let learned = memory.startTimes.samples != (memories[service.name]?.startTimes.samples ?? [])
            memories[service.name] = memory
            if learned, let store = ports.store, isLeader {
                do {
                    try await store.saveStartTimes(service: service.name, samples: memory.startTimes.samples, at: now)
                } catch {
                    errors.append(DependencyError(.database, "task start times", "\(error)"))
                }
            }
            let report = ServiceReport(
                name: service.name, queues: service.queues, mode: plan.authority.mode, hold: observation.hold,
                state: Self.withBusyTasks(observation.service, plan.busyTasks), plan: plan, outcome: outcome, startTimes: memory.startTimes)
            await recorder.record(report, result: result, memory: memory, now: now, generation: lease.generation, errors: &errors)
            services.append(report)
        }

        let report = ReconcileReport(
            at: now, duration: ContinuousClock.now - started, mode: ports.applier.mode, isLeader: isLeader, probe: probe,
            services: services, errors: errors, forecastCheck: forecastCheck, newComparison: check, queueFindings: queueFindings,
            apiCalls: Self.callsSince(callsBefore, ports.apiCalls?.callsSoFar()), controllerMode: controllerMode, killSwitch: killSwitch)
        recorder.finish(report, forecast: forecast)
        history.record(report)
        if report.succeeded { lastSuccessAt = now }
        lastReport = report
        return report
    }

    /// What each service's last plan was made from, for the queue watch between reconciles.
    var lastObservations: [String: ServiceObservation] = [:]
    /// The queue lengths at the queue watch's last whole reading.
    private var watchGate = QueueWatchGate()

    /// The queue watch between reconciles (`Policy.reactInterval`): reads the queue lengths, and
    /// when one has changed since its last whole reading, the queues whole (no ECS, no database,
    /// no Celery round: the last round's answer stands), and says whether a service's last
    /// observation, with these readings, would scale it up, so that the loop starts the next
    /// reconcile at once. Never on a standby (it writes nothing), never before a first reconcile.
    public func needsEarlyReconcile(now: Instant) async -> Bool {
        guard ledLastTick, !lastObservations.isEmpty else { return false }
        let policy = self.policy
        // The lengths alone first; the whole probe only when one has changed (QueueWatchGate).
        let lengths = await ports.queues.lengths(queues: policy.queueNames)
        guard watchGate.needsWholeReading(lengths: lengths?.lengths) else { return false }
        // With celery.inspect, no round: the last complete round's answer, as between rounds.
        let probe = await ports.queues.probe(queues: policy.queueNames, scheduler: nil, activity: Self.inspectRequest(policy, asks: false), now: now)
        let context = ServiceStep.Context(interval: policy.interval, taskStartTimeout: policy.ecs.taskStartTimeout)
        return policy.services.contains { service in
            guard let observation = lastObservations[service.name] else { return false }
            return ServiceStep.wouldScaleUp(
                observation, queues: probe.readings, memory: memories[service.name] ?? ServiceMemory(), policy: service, context: context, now: now)
        }
    }

    /// One service's plan before it is applied.
    struct Planned {
        var service: ServicePolicy
        var observation: ServiceObservation
        var plan: ServicePlan
        var memory: ServiceMemory
    }

    /// Other autoscalers' targets last read, by service.
    private var competitors: [String: String] = [:]

    /// The holds in force; the last ones read when the database cannot be read now.
    private func readHolds(now: Instant, errors: inout [DependencyError]) async -> [String: OperatorHold] {
        if let source = ports.holds {
            do {
                holds = try await source.activeHolds(now: now)
            } catch {
                errors.append(DependencyError(.database, "operator holds", "\(error); keeping the holds last read"))
            }
        }
        holds = holds.filter { $0.value.isActive(at: now) }
        return holds
    }

    /// Other autoscalers on the services; the last ones read when they cannot be read now (an
    /// unreadable answer is an ECS error of the tick, and blocks nothing new).
    private func readCompetitors(_ policy: Policy, now: Instant, errors: inout [DependencyError]) async -> [String: String] {
        guard let source = ports.competitors else { return [:] }
        do {
            competitors = try await source.competing(services: policy.services.map(\.name), now: now)
        } catch {
            errors.append(DependencyError(.ecs, "Application Auto Scaling targets", "\(error); keeping the targets last read"))
        }
        return competitors
    }

    /// The kill switch's mode; the last one read when it cannot be read now.
    private func readKillSwitch(now: Instant, errors: inout [DependencyError]) async -> KillSwitchState? {
        guard let source = killSwitch else { return nil }
        do {
            killSwitchMode = try await Self.within(Self.killSwitchDeadline, what: "reading the kill switch") { try await source.read(now: now) }
            return KillSwitchState(source: source.source, mode: killSwitchMode)
        } catch {
            errors.append(DependencyError(.killSwitch, source.source, "\(error); keeping \(killSwitchMode?.rawValue ?? "no override")"))
            return KillSwitchState(source: source.source, mode: killSwitchMode, problem: "\(error)")
        }
    }

    /// `operation`'s result, or an error once `deadline` has passed (the operation is then
    /// cancelled).
    static func within<Value: Sendable>(
        _ deadline: Duration, what: String, _ operation: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        return try await withThrowingTaskGroup(of: DeadlineOutcome<Value>.self) { group in
            group.addTask { .finished(try await operation()) }
            group.addTask {
                try await Task.sleep(for: deadline)
                return .timedOut
            }
            defer { group.cancelAll() }
            guard case .finished(let value)? = try await group.next() else {
                throw KillSwitchError("\(what) did not answer within \(deadline.compactDescription)")
            }
            return value
        }
    }

    /// Fresh before a write: the reader may answer from a description read at an earlier tick
    /// (to spare ECS's rate limits), so a plan that would set desiredCount from one is made again
    /// from what ECS says now, all such services in one read. If that read fails, they hold.
    private func replanFromFreshState(_ planned: inout [Planned], context: ServiceStep.Context, now: Instant, errors: inout [DependencyError]) async {
        let stale = planned.indices.filter { index in
            guard case .set = planned[index].plan.action, let state = planned[index].observation.service else { return false }
            return state.observedAt < now
        }
        guard !stale.isEmpty else { return }
        var fresh: [String: ServiceState] = [:]
        do {
            let snapshot = try await ports.cluster.refreshServices(stale.map { planned[$0].service.name }, now: now)
            fresh = snapshot.states
            if !snapshot.missing.isEmpty {
                errors.append(DependencyError(.ecs, "DescribeServices", "not found: " + snapshot.missing.map { "\($0.name) (\($0.reason))" }.joined(separator: ", ")))
            }
        } catch {
            errors.append(DependencyError(.ecs, "DescribeServices", "\(error)"))
        }
        for index in stale {
            var observation = planned[index].observation
            observation.service = fresh[planned[index].service.name]
            replan(&planned[index], from: observation, context: context, now: now)
        }
    }

    /// Plans a service again from another observation, from its memory before the tick.
    private func replan(_ planned: inout Planned, from observation: ServiceObservation, context: ServiceStep.Context, now: Instant) {
        let (plan, memory) = ServiceStep.plan(
            observation, memory: memories[planned.service.name] ?? ServiceMemory(), policy: planned.service, context: context, now: now)
        planned.observation = observation
        planned.plan = plan
        planned.memory = memory
    }

    /// Fresh before a scale-in: a worker read idle at the start of the tick may have taken a job
    /// since, and ECS, which picks the task a scale-in stops, could stop its task under it. So a
    /// plan that would lower desiredCount around busy tasks (`ServicePlan.needsRecheckBeforeWrite`)
    /// is made again from a second reading of the queues and workers (a Celery round of its own
    /// with `celery.inspect`), taken just before the writes: a task busy now is protected (and
    /// counts as a floor), and work that arrived meanwhile counts. The tasks already listed are
    /// not listed again; those of a service whose workers were all idle are listed now if one has
    /// become busy. A reading lost now withholds the scale-in as any lost reading does. The
    /// window left is this reading to ECS acting on the writes (docs/scale-in.md).
    private func recheckBusyBeforeScaleIn(
        _ planned: inout [Planned], policy: Policy, tasks: [String: TaskReading], forecast: ForecastSnapshot?,
        context: ServiceStep.Context, now: Instant, errors: inout [DependencyError]
    ) async {
        guard ports.applier.mode == .live else { return }
        let scalingIn = planned.indices.filter { planned[$0].plan.authority.withheld == nil && planned[$0].plan.needsRecheckBeforeWrite }
        guard !scalingIn.isEmpty else { return }
        let queues = Array(Set(scalingIn.flatMap { planned[$0].service.queues })).sorted()
        let activity = Self.inspectRequest(policy, asks: true)
        if activity != nil { lastCeleryRound = now }
        let fresh = await ports.queues.probe(queues: queues, scheduler: nil, activity: activity, now: now)
        errors += Self.probeErrors(fresh, queues: queues)
        var tasks = tasks
        let unlisted = scalingIn.map { planned[$0].service }.filter { tasks[$0.name] == nil }
        if !unlisted.isEmpty {
            let states = Dictionary(uniqueKeysWithValues: scalingIn.compactMap { index in
                planned[index].observation.service.map { (planned[index].service.name, $0) }
            })
            tasks.merge(await readTasks(unlisted, probe: fresh, states: states, now: now, errors: &errors)) { $1 }
        }
        for index in scalingIn {
            let service = planned[index].service
            var observation = Self.observation(
                of: service, probe: fresh, state: planned[index].observation.service, tasks: tasks, forecast: forecast, policy: policy)
            observation.hold = planned[index].observation.hold
            observation.authority = planned[index].observation.authority
            replan(&planned[index], from: observation, context: context, now: now)
        }
    }

    /// What to ask Celery's workers with `celery.inspect` (nothing for RQ): a round when `asks`,
    /// else the last complete round's answer.
    static func inspectRequest(_ policy: Policy, asks: Bool) -> CeleryInspectRequest? {
        guard policy.celery.inspect && policy.redis.layout != .rq else { return nil }
        return CeleryInspectRequest(
            replyTimeout: policy.celery.replyTimeout, visibilityTimeout: policy.celery.visibilityTimeout,
            poolLimit: policy.services.map(\.workersPerTask).max(), asks: asks, standsFor: policy.celery.idlePeriod * 2)
    }

    /// The requests of this tick, by action.
    static func callsSince(_ before: [String: Int]?, _ after: [String: Int]?) -> [String: Int]? {
        guard let after else { return nil }
        return after.reduce(into: [:]) { result, entry in
            let count = entry.value - (before?[entry.key] ?? 0)
            if count > 0 { result[entry.key] = count }
        }
    }

    // MARK: Gathering

    /// Remembers what the forecast expects of Redash's next refresh, and compares the refresh
    /// Redash last recorded with what was expected of it.
    private func checkForecast(_ forecast: ForecastSnapshot?, against probe: ProbeReport) -> ForecastCheck.Comparison? {
        var comparison: ForecastCheck.Comparison?
        if let scheduler = probe.scheduler, let refresh = scheduler.refreshAnchor, let count = scheduler.outdatedQueries {
            comparison = forecastCheck.observe(refreshAt: refresh, outdatedQueries: count, heldBefore: heldLocksBefore)
        }
        // For the next refresh: the locks Redash holds now, read before it.
        heldLocksBefore = probe.redashScheduler?.heldLocks.count ?? 0
        if let prediction = forecast?.nextRefresh { forecastCheck.predict(prediction) }
        return comparison
    }

    /// Policy queues that exist nowhere, and queues with work that no service consumes.
    static func queueFindings(_ policy: Policy, probe: ProbeReport, forecast: ForecastSnapshot?) -> [QueueNameCheck.Finding] {
        QueueNameCheck.findings(policy: policy, probe: probe, routed: forecast?.routedQueues ?? [:])
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

    /// The tasks of the services that have busy workers or tasks this controller protected, in
    /// one read (the reader lists the cluster once for all of them).
    private func readTasks(
        _ services: [ServicePolicy], probe: ProbeReport, states: [String: ServiceState], now: Instant, errors: inout [DependencyError]
    ) async -> [String: TaskReading] {
        let needed = services.filter { service in
            let workers = probe.busyAwareWorkers(on: service.queues, runningTasks: states[service.name]?.running)
            return ServiceStep.needsTasks(
                policy: service, workers: workers, service: states[service.name], memory: memories[service.name] ?? ServiceMemory(),
                observation: Self.observation(of: service, probe: probe, state: states[service.name], tasks: [:], forecast: nil, policy: policy))
        }.map(\.name)
        guard !needed.isEmpty else { return [:] }
        do {
            let tasks = try await ports.cluster.tasks(of: needed, now: now)
            return Dictionary(uniqueKeysWithValues: needed.map { ($0, TaskReading.observed(tasks[$0] ?? [])) })
        } catch {
            errors.append(DependencyError(.ecs, "tasks of " + needed.joined(separator: ", "), "\(error)"))
            return Dictionary(uniqueKeysWithValues: needed.map { ($0, TaskReading.unavailable(reason: "\(error)")) })
        }
    }

    static func observation(
        of service: ServicePolicy, probe: ProbeReport, state: ServiceState?, tasks: [String: TaskReading], forecast: ForecastSnapshot?,
        policy: Policy
    ) -> ServiceObservation {
        ServiceObservation(
            queues: Dictionary(uniqueKeysWithValues: service.queues.map { ($0, probe.readings[$0] ?? .unavailable(reason: "not read")) }),
            service: state,
            workers: probe.busyAwareWorkers(on: service.queues, runningTasks: state?.running, tasks: tasks[service.name]?.snapshots),
            tasks: tasks[service.name] ?? .notRead,
            scheduledDue: forecast?.due.map { due in service.queues.flatMap { due[$0] ?? [] } },
            expectedRuntimes: forecast?.runtimes ?? [:], listeners: probe.listeners, visibilityTimeout: policy.celery.visibilityTimeout,
            celeryNodes: probe.celery.flatMap { $0.isComplete ? $0.nodes : nil })
    }

    /// Whether to ask Celery's workers this tick (`celery.inspect`): every tick while a service
    /// might scale in (above its minimum, or holding protection to release), else every
    /// `celery.idlePeriod`; never on a standby.
    func celeryRoundDue(_ policy: Policy, now: Instant) -> Bool {
        guard policy.celery.inspect, policy.redis.layout != .rq, ledLastTick else { return false }
        if let last = lastCeleryRound, now >= last, now - last < policy.celery.idlePeriod {
            return policy.services.contains { service in
                let memory = memories[service.name] ?? ServiceMemory()
                return !memory.protectedByUs.isEmpty || (memory.lastSeenDesired.map { $0 > service.minTasks } ?? true)
            }
        }
        return true
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
            for (service, samples) in try await store.loadStartTimes() where memories[service]?.startTimes.samples.isEmpty ?? true {
                memories[service, default: ServiceMemory()].startTimes.samples = Array(samples.suffix(TaskStartWatch.samplesKept))
            }
            memoriesRestored = true
        } catch {
            errors.append(DependencyError(.database, "scaling history", "\(error)"))
        }
    }
}

/// A race against a deadline: the operation's value, or the deadline first.
enum DeadlineOutcome<Value: Sendable>: Sendable {
    case finished(Value)
    case timedOut
}
