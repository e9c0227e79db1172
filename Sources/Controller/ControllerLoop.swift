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
/// (every call in it has its own timeout) and ends the sleep at once. The policy file is read
/// again when its contents change (checked before every reconcile) and on SIGHUP; an invalid file
/// is rejected with its errors logged and the last good policy stays in force.
public struct ControllerLoop: Service, CustomStringConvertible {
    let reconciler: Reconciler
    /// `nil` when the policy came from the environment: nothing to reload.
    let policyPath: String?
    let environment: [String: String]
    let metrics: MetricsRegistry
    let logger: Logger
    let state: LoopState
    let statsd: DogStatsDSender?

    /// The loaded file's contents, so that a change is noticed by content, not by timestamp; and
    /// whether the file could not be read at the last look.
    public final class LoopState: Sendable {
        let lastText: Mutex<String?>
        let unreadable = Mutex(false)
        public init(initialText: String?) { lastText = Mutex(initialText) }
    }

    public init(
        reconciler: Reconciler, policyPath: String?, initialText: String?, environment: [String: String], metrics: MetricsRegistry,
        statsd: DogStatsDSender? = nil, logger: Logger
    ) {
        self.statsd = statsd
        self.reconciler = reconciler
        self.policyPath = policyPath
        self.environment = environment
        self.metrics = metrics
        self.logger = logger
        self.state = LoopState(initialText: initialText)
    }

    /// What service-lifecycle logs of this service: its name, never its fields (the environment
    /// holds AWS keys and URLs with passwords).
    public var description: String { "ControllerLoop(policy: \(policyPath ?? "from the environment"))" }

    public func run() async throws {
        var lastEventReport: Instant?
        // At 0 from the start, so that the "policy rejected" monitor sees an increase, not a
        // series that appears.
        for reason in ["unreadable", "invalid", "restart-needed"] {
            metrics.increment("redash_autoscaler_policy_reload_failures_total", ["reason": reason], by: 0)
        }
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups.cancelOnGracefulShutdown() { await reload(reason: "SIGHUP", force: true) }
            }
            // The loop runs here, not as a child: at shutdown the SIGHUP listener ends at once,
            // and that must not cancel a reconcile that is still within its grace.
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                await reload(reason: "file changed", force: false)
                await reconcileWithinShutdownGrace()
                statsd?.flush(metrics)
                if let statsd, let report = await reconciler.lastReport, report.at != lastEventReport {
                    lastEventReport = report.at
                    for service in report.services where service.outcome == .applied { statsd.event(.applied(service)) }
                }
                let interval = await reconciler.policy.interval
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            }
            logger.notice("reconcile loop stopped for shutdown")
            group.cancelAll()
        }
    }

    /// How long a reconcile under way may go on after SIGTERM before it is abandoned (its
    /// pending calls cancelled): well inside ECS's default 30 s stopTimeout.
    public static let shutdownGrace: Duration = .seconds(15)

    /// One reconcile; if shutdown starts while it runs, it gets `shutdownGrace` to finish.
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
                try? await Task.sleep(for: Self.shutdownGrace)
                return false
            }
            if let first = await group.next(), !first {
                logger.warning("abandoning the reconcile under way for shutdown", metadata: ["grace": "\(Self.shutdownGrace)"])
            }
            group.cancelAll()
        }
    }

    /// Reads the file; applies it when it changed (or `force`), is valid, and changes no
    /// connection the controller holds. Every refusal is logged once, with why, and counted.
    func reload(reason: String, force: Bool) async {
        guard let policyPath else {
            if force { logger.notice("the policy came from the environment; it changes with a new deployment, not a reload") }
            return
        }
        guard let text = try? String(contentsOfFile: policyPath, encoding: .utf8) else {
            // Said once when the file goes (and again on SIGHUP), not at every tick.
            let isNew = state.unreadable.withLock { unreadable in
                defer { unreadable = true }
                return !unreadable
            }
            if isNew || force {
                metrics.increment("redash_autoscaler_policy_reload_failures_total", ["reason": "unreadable"])
                logger.error("the policy file cannot be read; keeping the current policy", metadata: ["path": "\(policyPath)", "reason": "\(reason)"])
            }
            return
        }
        if state.unreadable.withLock({ unreadable in defer { unreadable = false }; return unreadable }) {
            logger.notice("the policy file can be read again", metadata: ["path": "\(policyPath)"])
        }
        let changed = state.lastText.withLock { last in
            guard force || last != text else { return false }
            last = text
            return true
        }
        guard changed else { return }
        let result = PolicyLoader.parse(text, file: policyPath, environment: environment)
        guard let policy = result.policy else {
            metrics.increment("redash_autoscaler_policy_reload_failures_total", ["reason": "invalid"])
            logger.error("new policy rejected; keeping the last good one", metadata: [
                "path": "\(policyPath)", "reason": "\(reason)", "errors": "\(result.errors.count)",
                "diagnostics": "\(result.diagnostics.map(\.description).joined(separator: " | "))",
            ])
            return
        }
        let current = await reconciler.policy
        if policy == current && !force { return }
        let connections = Self.connectionChanges(from: current, to: policy)
        guard connections.isEmpty else {
            metrics.increment("redash_autoscaler_policy_reload_failures_total", ["reason": "restart-needed"])
            logger.error("new policy not applied: it changes what the controller is connected to, which takes a restart; keeping the current policy", metadata: [
                "path": "\(policyPath)", "reason": "\(reason)", "changed": "\(connections.joined(separator: "; "))",
                "fix": "restart the controller (a new ECS deployment) to use the new connections",
            ])
            return
        }
        await reconciler.replacePolicy(policy)
        logger.notice("policy reloaded", metadata: [
            "path": "\(policyPath)", "reason": "\(reason)", "services": "\(policy.services.map(\.name).joined(separator: ","))",
            "interval": "\(policy.interval)",
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
