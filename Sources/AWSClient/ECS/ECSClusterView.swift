import AutoscalerCore

/// ECS as the reconciler reads and writes it, on a budget of calls. ECS throttles each account
/// and region with buckets the controller shares with deploy tooling, so it asks only for what
/// may have changed:
///
/// - **Services**: each description is read again at least every `serviceRefresh`, a share of
///   the services each tick (the oldest first, in full batches of ten) so that 200 services cost
///   a few calls a tick rather than twenty; at once when the service's tasks changed or it was
///   written; and, through `refreshServices`, just before any desiredCount write.
/// - **Tasks**: one ListTasks of the whole cluster (every page) when any service needs its
///   tasks, or one per service when that is fewer pages; DescribeTasks only for tasks not seen
///   before or not yet running, 100 a call; an address does not change while a task runs.
/// - **Protection**: GetTaskProtection only for tasks not seen before; after that, ECS's answers
///   to this controller's own UpdateTaskProtection calls keep it current.
///
/// Everything learnt is read again every `resync` (at most 100 tasks a tick), in case another
/// hand changed it. A failed call fails the whole read (the reconciler then decides nothing),
/// never serves a half-read cluster.
public actor ECSClusterView: ClusterReader, ClusterWriter, APICallCounting {
    /// How fresh the view keeps itself.
    public struct Settings: Hashable, Sendable {
        /// How old a service description may be when nothing is about to be written to it;
        /// zero: read every service every tick.
        public var serviceRefresh: Duration
        /// How often what was learnt about a task (address, state, protection) is read again.
        public var resync: Duration

        public static let standard = Settings(serviceRefresh: ECSSettings.defaultServiceRefresh)

        public init(serviceRefresh: Duration, resync: Duration = .seconds(300)) {
            self.serviceRefresh = serviceRefresh
            self.resync = resync
        }
    }

    let client: ECSClient
    public private(set) var settings: Settings

    /// The last description of each managed service; `observedAt` is when ECS gave it.
    var services: [String: ServiceState] = [:]
    /// Services to read again at the next tick whatever their age.
    var mustRefresh: Set<String> = []
    var lastServicesRead: Instant?

    struct KnownTask {
        /// The service that started it; `nil` for a task started by hand.
        var service: String?
        var privateIP: String?
        var phase: TaskSnapshot.Phase
        var describedAt: Instant
        var createdAt: Instant?
        var startedAt: Instant?
    }
    var tasks: [String: KnownTask] = [:]
    /// Each task's protection: until when (`nil`: not protected), and when that was learnt.
    var protection: [String: (until: Instant?, learnt: Instant)] = [:]
    /// The task ARNs of each service at the last listing, to notice a change.
    var membership: [String: Set<String>] = [:]
    /// Tasks ECS is stopping (no longer listed: their desired status is STOPPED), by service,
    /// described each time until they have stopped: a Celery node draining its queries runs on
    /// one.
    var stopping: [String: Set<String>] = [:]
    /// Tasks in the cluster at the last cluster-wide listing: how many pages a listing costs.
    var clusterTaskCount: Int?
    var lastTasksRead: Instant?

    public init(client: ECSClient, settings: Settings = .standard) {
        self.client = client
        self.settings = settings
    }

    /// The view for a policy: its refresh, and its rate limit on the client.
    public init(client: ECSClient, policy: ECSSettings) {
        self.init(client: client, settings: Settings(serviceRefresh: policy.serviceRefresh))
    }

    public func adopt(_ policy: ECSSettings) async {
        settings.serviceRefresh = policy.serviceRefresh
        client.api.budget?.setRate(CallBudget.Rate(policy))
    }

    public nonisolated var cluster: String { client.cluster }

    public nonisolated func callsSoFar() -> [String: Int] { client.api.ledger.totals }

    // MARK: Services

    public func services(_ names: [String], now: Instant) async throws -> ServicesSnapshot {
        let wanted = Set(names)
        services = services.filter { wanted.contains($0.key) }
        let refresh = Self.servicesToRefresh(
            names, known: services, forced: mustRefresh, refreshEvery: settings.serviceRefresh,
            sinceLastRead: lastServicesRead.map { now - $0 }, now: now)
        lastServicesRead = now
        return try await describe(names, refreshing: refresh, now: now)
    }

    public func refreshServices(_ names: [String], now: Instant) async throws -> ServicesSnapshot {
        try await describe(names, refreshing: Set(names), now: now)
    }

    /// Which services to describe this tick: the unknown, the forced and the expired; then the
    /// oldest, enough that each is read about once per `refreshEvery` and every batch of ten is
    /// full.
    static func servicesToRefresh(
        _ names: [String], known: [String: ServiceState], forced: Set<String>, refreshEvery: Duration, sinceLastRead: Duration?,
        now: Instant
    ) -> Set<String> {
        guard refreshEvery > .zero, let elapsed = sinceLastRead else { return Set(names) }
        var chosen = Set(names.filter { name in
            guard let state = known[name] else { return true }
            return forced.contains(name) || state.observedAt + refreshEvery <= now
        })
        let share = Int((Double(names.count) * max(0, elapsed.inSeconds) / refreshEvery.inSeconds).rounded(.up))
        let batch = ECSClient.describeServicesBatch
        let target = min(names.count, (max(share, chosen.count) + batch - 1) / batch * batch)
        let rest = names.filter { !chosen.contains($0) }.compactMap { name in known[name].map { (name, $0.observedAt.secondsSinceEpoch) } }
        chosen.formUnion(rest.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(max(0, target - chosen.count)).map(\.0))
        return chosen
    }

    private func describe(_ names: [String], refreshing refresh: Set<String>, now: Instant) async throws -> ServicesSnapshot {
        var missing: [ServicesSnapshot.Missing] = []
        let asked = names.filter { refresh.contains($0) }
        if !asked.isEmpty {
            let report = try await client.describeServices(asked)
            for service in report.services {
                // Every number from outside is suspect: a desiredCount ECS could not mean is no
                // reading (the decision starts from it); running and pending are clamped.
                guard (0...Self.countLimit).contains(service.desiredCount) else {
                    services[service.serviceName] = nil
                    missing.append(.init(name: service.serviceName, reason: "ECS reported an implausible desiredCount \(service.desiredCount)"))
                    continue
                }
                services[service.serviceName] = Self.state(of: service, at: now)
            }
            for gone in report.missing {
                services[gone.name] = nil
                missing.append(.init(name: gone.name, reason: gone.reason))
            }
            mustRefresh.subtract(asked)
        }
        var states: [String: ServiceState] = [:]
        for name in names { states[name] = services[name] }
        return ServicesSnapshot(states: states, missing: missing)
    }

    /// The most tasks a service count from ECS may hold (ECS allows thousands per service).
    static let countLimit = 100_000

    static func state(of service: ECSService, at now: Instant) -> ServiceState {
        let clamp = { (count: Int) in min(max(count, 0), countLimit) }
        // The newest few events: ECS keeps 100, and the reason tasks do not start is among the
        // latest. Their text is ECS's; it goes into logs, so it is kept printable and short.
        let events = service.events.sorted { ($0.createdAt ?? 0) > ($1.createdAt ?? 0) }.prefix(5).map { event in
            ServiceEventNote(
                message: String(event.message.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7f }.prefix(300).map(Character.init)),
                at: event.createdAt.map { Instant(secondsSinceEpoch: $0) }.flatMap(plausible))
        }
        return ServiceState(
            desired: service.desiredCount, running: clamp(service.runningCount), pending: clamp(service.pendingCount),
            isDeploymentInProgress: service.isDeploying, observedAt: now, events: Array(events))
    }

    /// A time from ECS when it is a real date.
    static func plausible(_ instant: Instant) -> Instant? {
        instant.isPlausible ? instant : nil
    }

    // MARK: Tasks

    public func tasks(of names: [String], now: Instant) async throws -> [String: [TaskSnapshot]] {
        guard !names.isEmpty else { return [:] }
        lastTasksRead = now
        let wanted = Set(names)
        // One listing of the cluster, unless listing only these services takes fewer pages.
        let clusterPages = clusterTaskCount.map { max(1, ($0 + 99) / 100) }
        let listsCluster = clusterPages.map { names.count >= $0 } ?? true
        var listed: [String: Set<String>] = [:]  // by the service it was listed under; "" for the cluster
        if listsCluster {
            let arns = try await client.listTasks(service: nil)
            clusterTaskCount = arns.count
            listed[""] = Set(arns)
        } else {
            for name in names { listed[name] = Set(try await client.listTasks(service: name)) }
        }
        let all = listed.values.reduce(into: Set<String>()) { $0.formUnion($1) }

        try await describeTasks(all, now: now)
        // A task listed under a service but with no service group (a stand-in ECS) belongs to it.
        var members: [String: Set<String>] = [:]
        for (under, arns) in listed {
            for arn in arns {
                guard let task = tasks[arn] else { continue }  // gone between the list and the describe
                if let service = task.service ?? (under.isEmpty ? nil : under) { members[service, default: []].insert(arn) }
            }
        }
        let previous = membership
        // A service whose tasks changed is described again at the next tick (its counts moved).
        for service in listsCluster ? Set(services.keys) : wanted.intersection(services.keys) {
            let current = members[service] ?? []
            if let before = membership[service], before != current { mustRefresh.insert(service) }
            membership[service] = current
        }
        membership = membership.filter { services[$0.key] != nil }
        if listsCluster {
            tasks = tasks.filter { all.contains($0.key) }
            protection = protection.filter { all.contains($0.key) }
        }

        try await followStopping(names, members: members, previously: previous, now: now)
        let ours = names.flatMap { members[$0] ?? [] }
        try await readProtection(of: ours, now: now)
        var result: [String: [TaskSnapshot]] = [:]
        for name in names {
            result[name] = (members[name] ?? []).sorted().compactMap { arn in
                tasks[arn].map {
                    TaskSnapshot(
                        id: arn, privateIP: $0.privateIP, phase: $0.phase, protectedUntil: protection[arn]?.until, createdAt: $0.createdAt,
                        startedAt: $0.startedAt)
                }
            } + (stopping[name] ?? []).sorted().compactMap { arn in
                tasks[arn].map { TaskSnapshot(id: arn, privateIP: $0.privateIP, phase: .stopping) }
            }
        }
        return result
    }

    /// Tasks of `names` that left the listing (ECS is stopping them), and those still stopping,
    /// described again: kept as stopping until ECS says STOPPED (or forgets them).
    private func followStopping(_ names: [String], members: [String: Set<String>], previously: [String: Set<String>], now: Instant) async throws {
        var candidates: [String: Set<String>] = [:]
        for name in names {
            let gone = (previously[name] ?? []).union(stopping[name] ?? []).subtracting(members[name] ?? [])
            if !gone.isEmpty { candidates[name] = gone }
        }
        stopping = stopping.filter { names.contains($0.key) || services[$0.key] != nil }
        guard !candidates.isEmpty else {
            for name in names { stopping[name] = nil }
            return
        }
        let arns = candidates.values.reduce(into: Set<String>()) { $0.formUnion($1) }
        let described = try await client.describeTasks(arns.sorted().prefix(100).map { $0 })
        var stillStopping = Set<String>()
        for task in described where task.lastStatus != "STOPPED" {
            stillStopping.insert(task.taskArn)
            tasks[task.taskArn] = KnownTask(service: task.serviceName, privateIP: task.privateIPv4Address, phase: .stopping, describedAt: now)
        }
        for name in names { stopping[name] = candidates[name].map { $0.intersection(stillStopping) }.flatMap { $0.isEmpty ? nil : $0 } }
    }

    /// Describes the tasks not seen before or not yet running, and the longest-known of the rest
    /// when their `resync` is due (100 at most a tick).
    private func describeTasks(_ listed: Set<String>, now: Instant) async throws {
        var needed = listed.filter { arn in tasks[arn].map { $0.phase != .running } ?? true }
        needed.formUnion(Self.due(listed.filter { !needed.contains($0) }, learnt: { self.tasks[$0]?.describedAt }, now: now, every: settings.resync))
        guard !needed.isEmpty else { return }
        let described = try await client.describeTasks(needed.sorted())
        let answered = Set(described.map(\.taskArn))
        for task in described {
            tasks[task.taskArn] = KnownTask(
                service: task.serviceName, privateIP: task.privateIPv4Address, phase: Self.phase(task.lastStatus), describedAt: now,
                createdAt: task.createdAt.flatMap(Self.plausible), startedAt: task.startedAt.flatMap(Self.plausible))
        }
        // Listed, then gone before it could be described.
        for arn in needed where !answered.contains(arn) { tasks[arn] = nil }
    }

    private func readProtection(of arns: [String], now: Instant) async throws {
        let unknown = arns.filter { protection[$0] == nil }
        let due = Self.due(arns.filter { protection[$0] != nil }, learnt: { self.protection[$0]?.learnt }, now: now, every: settings.resync)
        let asked = unknown + due.sorted()
        guard !asked.isEmpty else { return }
        let report = try await client.taskProtection(asked)
        for arn in asked { protection[arn] = (nil, now) }  // not in the answer: not protectable, so not protected
        for entry in report.tasks { protection[entry.taskArn] = (Self.until(entry), now) }
    }

    /// Of `known`, those learnt `every` ago or more, the oldest first, 100 at most.
    static func due(_ known: some Collection<String>, learnt: (String) -> Instant?, now: Instant, every: Duration) -> Set<String> {
        let stale = known.compactMap { arn in learnt(arn).map { (arn, $0.secondsSinceEpoch) } }
            .filter { $0.1 + every.inSeconds <= now.secondsSinceEpoch }
        return Set(stale.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(100).map(\.0))
    }

    static func until(_ entry: ECSTaskProtection) -> Instant? {
        entry.protectionEnabled ? entry.expirationDate ?? Instant(secondsSinceEpoch: .infinity) : nil
    }

    /// ECS's task life cycle in the three phases scaling cares about.
    static func phase(_ lastStatus: String) -> TaskSnapshot.Phase {
        switch lastStatus {
        case "PROVISIONING", "PENDING", "ACTIVATING": .starting
        case "RUNNING": .running
        default: .stopping
        }
    }

    // MARK: Writes

    public func setDesiredCount(_ count: Int, service: String, within deadline: Duration) async throws {
        // Whatever came of it, read the service again next tick.
        mustRefresh.insert(service)
        let answer = try await client.setDesiredCount(service: service, to: count, deadline: deadline)
        if let known = services[service], (0...Self.countLimit).contains(answer.desiredCount) {
            services[service] = Self.state(of: answer, at: known.observedAt)
        }
    }

    public func setProtection(_ isEnabled: Bool, tasks arns: [String], duration: Duration?, within deadline: Duration) async throws -> ProtectionChange {
        // ECS takes whole minutes, 1 to 2,880, and ten tasks a call.
        let minutes = duration.map { max(1, min(2880, Int(($0.inSeconds / 60).rounded()))) }
        let end = ContinuousClock.now + deadline
        let learnt = lastTasksRead ?? Instant(secondsSinceEpoch: 0)
        var changed: [String] = []
        var refused: [ProtectionChange.Refusal] = []
        var firstError: (any Error)?
        var answered = 0
        for batch in arns.chunked(into: ECSClient.protectionBatch).map(Array.init) {
            do {
                let report = try await client.updateTaskProtection(batch, enabled: isEnabled, expiresInMinutes: minutes, deadline: end - ContinuousClock.now)
                answered += 1
                for entry in report.tasks { protection[entry.taskArn] = (Self.until(entry), learnt) }
                changed += report.tasks.filter { $0.protectionEnabled == isEnabled }.map(\.taskArn)
                for failure in report.failures {
                    if let arn = failure.arn { protection[arn] = nil }
                    refused.append(ProtectionChange.Refusal(task: failure.arn ?? "?", reason: failure.reason ?? "unknown"))
                }
            } catch {
                // It may have landed: learn the truth at the next read. Only this batch's tasks
                // (and so only their services) are affected.
                for arn in batch { protection[arn] = nil }
                refused += batch.map { ProtectionChange.Refusal(task: $0, reason: "the call failed: \(error)") }
                firstError = firstError ?? error
            }
        }
        if answered == 0, let firstError { throw firstError }
        return isEnabled ? ProtectionChange(protected: changed, refused: refused) : ProtectionChange(released: changed, releaseRefused: refused)
    }
}
