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

    /// The loaded file's contents, so that a change is noticed by content, not by timestamp.
    public final class LoopState: Sendable {
        let lastText: Mutex<String?>
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
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups.cancelOnGracefulShutdown() { await reload(reason: "SIGHUP", force: true) }
            }
            group.addTask {
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    await reload(reason: "file changed", force: false)
                    await reconcileWithinShutdownGrace()
                    statsd?.flush(metrics)
                    let interval = await reconciler.policy.interval
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
                }
                logger.notice("reconcile loop stopped for shutdown")
            }
            try await group.next()
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

    /// Reads the file; applies it when it changed (or `force`) and is valid.
    func reload(reason: String, force: Bool) async {
        guard let policyPath else {
            if force { logger.notice("the policy came from the environment; it changes with a new deployment, not a reload") }
            return
        }
        guard let text = try? String(contentsOfFile: policyPath, encoding: .utf8) else {
            if force { logger.error("policy file cannot be read; keeping the current policy", metadata: ["path": "\(policyPath)"]) }
            return
        }
        let changed = state.lastText.withLock { last in
            guard force || last != text else { return false }
            last = text
            return true
        }
        guard changed else { return }
        let result = PolicyLoader.parse(text, file: policyPath, environment: environment)
        guard let policy = result.policy else {
            metrics.increment("redash_autoscaler_policy_reload_failures_total")
            logger.error("new policy rejected; keeping the last good one", metadata: [
                "path": "\(policyPath)", "reason": "\(reason)", "errors": "\(result.errors.count)",
                "diagnostics": "\(result.diagnostics.map(\.description).joined(separator: " | "))",
            ])
            return
        }
        let current = await reconciler.policy
        if policy == current && !force { return }
        await reconciler.replacePolicy(policy)
        logger.notice("policy reloaded", metadata: [
            "path": "\(policyPath)", "reason": "\(reason)", "services": "\(policy.services.map(\.name).joined(separator: ","))",
            "interval": "\(policy.interval)",
        ])
    }
}
