import AutoscalerCore
import Foundation
import Logging
import PolicyFile
import ServiceLifecycle
import SystemClock
import Synchronization
import UnixSignals

/// The reconcile loop as a service: reconcile, sleep the policy's interval, again, until the
/// service group shuts down (SIGTERM, SIGINT). A shutdown lets the current reconcile finish
/// (every call in it has its own timeout) and ends the sleep at once. The policy is read again (a
/// file before every reconcile, a parameter or secret every `pollPeriod` beside the reconciles)
/// and on SIGHUP; when its text changed it is applied if valid and if it changes no connection. An
/// invalid policy is rejected with its errors logged and the last good policy stays in force; so
/// it does while the source cannot be read, said once and then once a minute with a count.
public struct ControllerLoop: Service, CustomStringConvertible {
    let reconciler: Reconciler
    /// `nil` when the policy came from the environment: nothing to reload.
    let policySource: (any TextSource)?
    /// The time between two reads of the source, or the policy's interval if that is longer.
    /// Zero: before every reconcile.
    let pollPeriod: Duration
    let environment: [String: String]
    let metrics: MetricsRegistry
    let logger: Logger
    public let state: LoopState
    let statsd: DogStatsDSender?
    /// The wall clock of the log throttle, a parameter so that tests can move it.
    let now: @Sendable () -> Instant

    /// How often a policy in Parameter Store or Secrets Manager is read by default: a change is
    /// live within half a minute, and one `GetParameter` every 30 s is nothing against Parameter
    /// Store's throughput (40 a second per account, standard).
    public static let defaultRemotePollPeriod: Duration = .seconds(30)

    /// The source text last read, so that a change is noticed by content, not by timestamp or
    /// by a version number (a parameter overwritten with the same text is not a change); and the
    /// failures to read it.
    public final class LoopState: Sendable {
        let lastText: Mutex<String?>
        /// Holds `unreadable` while the source cannot be read.
        let throttle = LogThrottle()
        /// The last policy read that needs a restart to apply, while it stays the latest.
        let pendingRestart = Mutex<PendingRestart?>(nil)
        public init(initialText: String?) { lastText = Mutex(initialText) }

        /// What a restart would apply, for `/status`; `nil` when nothing waits for one.
        public var pending: PendingRestart? { pendingRestart.withLock { $0 } }
    }

    /// A policy that was read and is valid, but changes a connection: it applies at the next start.
    public struct PendingRestart: Sendable, Equatable {
        /// Its version (a digest, or the parameter's version).
        public var version: String
        /// What it changes, described without secrets.
        public var changes: [String]
    }

    public init(
        reconciler: Reconciler, policySource: (any TextSource)?, initialText: String?, pollPeriod: Duration = .zero,
        environment: [String: String], metrics: MetricsRegistry, statsd: DogStatsDSender? = nil, logger: Logger,
        now: @escaping @Sendable () -> Instant = WallClock.now
    ) {
        self.now = now
        self.statsd = statsd
        self.reconciler = reconciler
        self.policySource = policySource
        self.pollPeriod = pollPeriod
        self.environment = environment
        self.metrics = metrics
        self.logger = logger
        self.state = LoopState(initialText: initialText)
    }

    /// What service-lifecycle logs of this service: its name, never its fields (the environment
    /// holds AWS keys and URLs with passwords).
    public var description: String { "ControllerLoop(policy: \(policySource?.name ?? "from the environment"))" }

    public func run() async throws {
        var lastEventReport: Instant?
        // At 0 from the start, so that the "policy rejected" monitor sees an increase, not a
        // series that appears.
        for reason in ["unreadable", "invalid", "restart-needed"] {
            metrics.increment(.policyReloadFailures, ["reason": reason], by: 0)
        }
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups.cancelOnGracefulShutdown() { await reload(reason: "SIGHUP", force: true) }
            }
            if policySource != nil && pollPeriod > .zero {
                // A parameter is polled beside the reconciles, not before them: a slow or
                // unreachable Parameter Store must not delay a tick.
                group.addTask { await pollUntilShutdown() }
            }
            // The loop runs here, not as a child: at shutdown the SIGHUP listener ends at once,
            // and that must not cancel a reconcile that is still within its grace.
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                if policySource != nil && pollPeriod == .zero { await reload(reason: "changed", force: false) }
                await reconcileWithinShutdownGrace()
                statsd?.flush(metrics)
                if let statsd, let report = await reconciler.lastReport, report.at != lastEventReport {
                    lastEventReport = report.at
                    for service in report.services where service.outcome == .applied { statsd.event(.applied(service)) }
                }
                await pauseUntilNextReconcile()
            }
            logger.notice("reconcile loop stopped for shutdown")
            group.cancelAll()
        }
    }

    /// The policy's interval; with `reactInterval`, the queues are read every `reactInterval`
    /// meanwhile and the pause ends as soon as they show work the last plan has no room for.
    func pauseUntilNextReconcile() async {
        let policy = await reconciler.policy
        let clock = ContinuousClock()
        let end = clock.now + policy.interval
        guard policy.reactInterval > .zero, policy.reactInterval < policy.interval else {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(until: end, clock: clock) }
            return
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let left = end - clock.now
            guard left > .zero else { return }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: min(policy.reactInterval, left)) }
            guard end - clock.now > .zero, !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
            if await reconciler.needsEarlyReconcile(now: now()) {
                logger.debug("the queues show work the last plan has no room for; reconciling now")
                metrics.increment(.earlyReconciles)
                return
            }
        }
    }

    /// Reads the source every `pollPeriod`, or every interval of the policy in force if that is
    /// longer: one read a poll.
    func pollUntilShutdown() async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let period = max(pollPeriod, await reconciler.policy.interval)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: period) }
            guard !Task.isShuttingDownGracefully && !Task.isCancelled else { return }
            await reload(reason: "changed", force: false)
        }
    }

    /// From SIGTERM to exit, whatever hangs (a stopped database, a held ECS call): well inside
    /// ECS's default 30 s stopTimeout.
    public static let shutdownGrace: Duration = .seconds(15)

    /// How long a reconcile under way may go on after SIGTERM before it is abandoned (its
    /// pending calls cancelled; a PostgreSQL statement's caller stops waiting at once): the
    /// shutdown grace less what comes after the loop, the lease's release (1 s at most) and
    /// closing the connections.
    public static let reconcileGrace: Duration = .seconds(13)

    /// One reconcile; if shutdown starts while it runs, it gets `reconcileGrace` to finish.
    func reconcileWithinShutdownGrace() async {
        let reconciler = self.reconciler
        let logger = self.logger
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                _ = await reconciler.reconcile(now: WallClock.now())
                return true
            }
            group.addTask {
                // Returns at shutdown (or when cancelled after the reconcile finished).
                try? await gracefulShutdown()
                guard !Task.isCancelled else { return false }
                try? await Task.sleep(for: Self.reconcileGrace)
                return false
            }
            if let first = await group.next(), !first {
                logger.warning("abandoning the reconcile under way for shutdown", metadata: ["grace": "\(Self.reconcileGrace)"])
            }
            group.cancelAll()
        }
    }

    /// Reads the source; applies the policy when its text changed (or `force`, as on SIGHUP), is
    /// valid, and changes no connection the controller holds. Every refusal is logged, with why,
    /// and counted. The loop calls it; so may a test.
    public func reload(reason: String, force: Bool) async {
        guard let source = policySource else {
            if force { logger.notice("the policy came from the environment; it changes with a new deployment, not a reload") }
            return
        }
        let now = self.now()
        let read: SourcedText
        do {
            read = try await source.read()
        } catch {
            // Shutdown cancelled a read under way: nothing was lost.
            if Task.isCancelled { return }
            // A lost file or parameter never stops the controller: the current policy stays. Said
            // at once, then once a minute with how often it failed meanwhile (and on SIGHUP).
            let admitted = state.throttle.admit("unreadable", now: now)
            guard admitted != nil || force else { return }
            metrics.increment(.policyReloadFailures, ["reason": "unreadable"])
            var metadata: Logger.Metadata = ["policySource": "\(source.name)", "reason": "\(reason)", "error": "\(error)"]
            if let admitted { metadata.merge(DecisionRecorder.repeatMetadata(admitted), uniquingKeysWith: { $1 }) }
            logger.error("the policy cannot be read; keeping the current policy", metadata: metadata)
            return
        }
        for entry in state.throttle.cleared(prefix: "unreadable", seen: []) {
            logger.notice("the policy can be read again", metadata: [
                "policySource": "\(source.name)", "policyVersion": "\(read.version)", "failingSince": "\(entry.since)", "failedReads": "\(entry.occurrences)",
            ])
        }
        let changed = state.lastText.withLock { last in
            guard force || last != read.text else { return false }
            last = read.text
            return true
        }
        guard changed else { return }
        let result = PolicyLoader.parse(read.text, file: source.name, environment: environment)
        guard let policy = result.policy else {
            metrics.increment(.policyReloadFailures, ["reason": "invalid"])
            logger.error("new policy rejected; keeping the last good one", metadata: [
                "policySource": "\(source.name)", "policyVersion": "\(read.version)", "reason": "\(reason)", "errors": "\(result.errors.count)",
                "diagnostics": "\(result.diagnostics.map(\.description).joined(separator: " | "))",
            ])
            return
        }
        let current = await reconciler.policy
        if policy == current && !force { return }
        let connections = Self.connectionChanges(from: current, to: policy)
        state.pendingRestart.withLock { $0 = connections.isEmpty ? nil : PendingRestart(version: read.version, changes: connections) }
        guard connections.isEmpty else {
            metrics.increment(.policyReloadFailures, ["reason": "restart-needed"])
            logger.error("new policy not applied: it changes what the controller is connected to, which takes a restart; keeping the current policy", metadata: [
                "policySource": "\(source.name)", "policyVersion": "\(read.version)", "reason": "\(reason)", "changed": "\(connections.joined(separator: "; "))",
                "fix": "restart the controller (a new ECS deployment) to use the new connections",
            ])
            return
        }
        do {
            try await reconciler.replacePolicy(policy)
        } catch {
            metrics.increment(.policyReloadFailures, ["reason": "invalid"])
            logger.error("new policy not applied: its killSwitch cannot be set up; keeping the current policy", metadata: [
                "policySource": "\(source.name)", "policyVersion": "\(read.version)", "reason": "\(reason)", "error": "\(error)",
            ])
            return
        }
        logger.notice("policy reloaded from \(source.describe(read))", metadata: [
            "policySource": "\(source.name)", "policyVersion": "\(read.version)", "reason": "\(reason)",
            "services": "\(policy.services.map(\.name).joined(separator: ","))", "interval": "\(policy.interval)",
            "reactInterval": "\(policy.reactInterval)",
        ])
    }

    /// The settings that name a connection the controller opened at start (Redis, the
    /// database, ECS's cluster and region), described without secrets, when they differ.
    static func connectionChanges(from old: Policy, to new: Policy) -> [String] {
        var changes: [String] = []
        if old.redis.url != new.redis.url { changes.append("redis.url \(old.redis.url) → \(new.redis.url)") }
        if old.redis.redashURL != new.redis.redashURL {
            changes.append("redis.redashUrl \(old.redis.redashURL.map { "\($0)" } ?? "none") → \(new.redis.redashURL.map { "\($0)" } ?? "none")")
        }
        if old.redis.layout != new.redis.layout { changes.append("redis.layout \(old.redis.layout.rawValue) → \(new.redis.layout.rawValue)") }
        if old.database != new.database {
            changes.append("database \(old.database.map { "\($0.url)" } ?? "none") → \(new.database.map { "\($0.url)" } ?? "none")")
        }
        if old.cluster != new.cluster { changes.append("cluster \(old.cluster) → \(new.cluster)") }
        if old.region != new.region { changes.append("region \(old.region ?? "default") → \(new.region ?? "default")") }
        return changes
    }
}
