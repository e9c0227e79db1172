import ArgumentParser
import CoreMetrics
import AutoscalerCore
import Controller
import Foundation
import HTTPTypes
import Logging
import NIOCore
import PolicyFile
import RedashMetadata
import ServiceLifecycle
import SystemClock
import UnixSignals

/// `redash-autoscaler run`: the long-running controller.
public struct RunCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the controller: reconcile every interval until SIGTERM.",
        discussion: """
            Serves /healthz, /readyz, /metrics and /status on --listen. Reloads the policy when it changes and on \
            SIGHUP: a file is read before every reconcile, an SSM parameter or a secret every --policy-poll. An \
            invalid policy is rejected and the last good one kept; so it is while the policy cannot be read. \
            A policy in $REDASH_AUTOSCALER_POLICY_YAML is never reloaded. With --dry-run it reads and decides \
            exactly as usual but never changes ECS, and logs what it would do.
            """
    )

    @OptionGroup public var options: PolicyOptions
    @OptionGroup public var aws: AWSOptions

    @Flag(help: "Read and decide, log what would change, change nothing.")
    public var dryRun = false

    @Option(help: ArgumentHelp("Address of the HTTP endpoints (default: $REDASH_AUTOSCALER_LISTEN, else 127.0.0.1:8080, this machine only; 0.0.0.0:8080 for every interface, as in a container whose port a scraper reads).", valueName: "host:port"))
    public var listen: String?

    @Option(help: ArgumentHelp("Also send metrics to a DogStatsD agent at host:port after every reconcile (default: $REDASH_AUTOSCALER_DOGSTATSD; off when unset).", valueName: "host:port"))
    public var dogstatsd: String?

    @Option(help: ArgumentHelp(
        "How often a policy in SSM Parameter Store or Secrets Manager is read again (default 30s; never more often than the policy's interval, never under 1s). A file is read before every reconcile.",
        valueName: "duration"))
    public var policyPoll: String?

    @Option(help: ArgumentHelp("Log format: json (one object per line), text, or auto (json unless on a terminal).", valueName: "format"))
    public var logFormat = "auto"

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.", valueName: "level"))
    public var logLevel = "info"

    public init() {}

    public mutating func validate() throws {
        guard ["auto", "json", "text"].contains(logFormat) else { throw ValidationError("--log-format must be auto, json or text") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError(LoggingOptions.levelHelp) }
        _ = try Self.address(listen ?? Self.defaultListen)
        _ = try Self.pollPeriod(policyPoll)
    }

    static func pollPeriod(_ text: String?) throws -> Duration {
        guard let text else { return ControllerLoop.defaultRemotePollPeriod }
        guard let period = DurationSyntax.parse(text), period >= .seconds(1) else {
            throw ValidationError("--policy-poll must be a duration of at least 1s, such as 30s or 2m")
        }
        return period
    }

    /// Loopback: on a laptop the endpoints, which need no credentials, are not on the network.
    /// The deployment names 0.0.0.0 itself.
    static let defaultListen = "127.0.0.1:8080"

    static func address(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--listen must be host:port, such as 127.0.0.1:8080 or 0.0.0.0:8080")
        }
        let host = String(text[..<colon])
        return (host.isEmpty ? "127.0.0.1" : host, port)
    }

    /// Raises the soft limit of open files to the hard one (at most 65,536): the default 1,024
    /// is small for a process holding Redis, ECS and PostgreSQL connections beside its HTTP port.
    static func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let wanted = min(limit.rlim_max, 65_536)
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    }

    public func run() async throws {
        Self.raiseFileLimit()
        let environment = ProcessInfo.processInfo.environment
        let json = logFormat == "json" || (logFormat == "auto" && isatty(STDOUT_FILENO) == 0)
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let identity = JSONLogHandler.Identity.from(environment: environment, buildVersion: BuildVersion.version)
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label, identity: identity)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardOutput(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "redash-autoscaler")
        let loaded = try await PolicySource.loadWithSource(options, environment: environment, allowEmbedded: false, aws: aws, logger: logger)
        let policy = loaded.policy
        var statsd: DogStatsDSender?
        if let target = dogstatsd ?? environment["REDASH_AUTOSCALER_DOGSTATSD"].flatMap({ $0.isEmpty ? nil : $0 }) {
            do {
                statsd = try await DogStatsDSender.make(target: target, constantTags: DogStatsDSender.constantTags(environment: environment))
            } catch {
                logger.critical("cannot start", metadata: ["error": "\(error)"])
                throw ExitCode(1)
            }
        }
        let metrics = MetricsRegistry(dogStatsD: statsd != nil)
        MetricsSystem.bootstrap(metrics.factory)
        let setup: ControllerSetup
        do {
            setup = try await ControllerSetup.make(
                policy: policy, mode: dryRun ? .dryRun : .live, aws: aws, environment: environment, metrics: metrics, logger: logger,
                recordDryRun: dryRun)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        let reconciler = setup.reconciler
        let lease = setup.lease
        let (host, port) = try Self.address(listen ?? environment["REDASH_AUTOSCALER_LISTEN"] ?? Self.defaultListen)
        // A policy from the environment cannot change while the task runs: reloads are off and a
        // new policy arrives with a new deployment. A file is cheap to read at every tick.
        let isFile = loaded.source is FileText
        let loop = ControllerLoop(
            reconciler: reconciler, policySource: loaded.source, initialText: loaded.read?.text,
            pollPeriod: isFile ? .zero : try Self.pollPeriod(policyPoll), environment: environment, metrics: metrics,
            statsd: statsd, logger: logger)
        let loopState = loop.state
        let routes = ControllerRoutes(reconciler: reconciler, metrics: metrics, lease: lease) { loopState.pending }
        let endpoints = HTTPEndpoints(host: host, port: port, logger: logger) { path in await routes.answer(path) }
        var starting: Logger.Metadata = [
            "mode": "\(dryRun ? "dry-run" : "live")", "cluster": "\(policy.cluster)", "services": "\(policy.services.map(\.name).joined(separator: ","))",
            "interval": "\(policy.interval)", "policy": "\(loaded.origin)",
        ]
        if policy.reactInterval > .zero { starting["reactInterval"] = "\(policy.reactInterval)" }
        if let read = loaded.read { starting["policyVersion"] = "\(read.version)" }
        if loaded.source != nil && !isFile { starting["policyPoll"] = "\(max(try Self.pollPeriod(policyPoll), policy.interval))" }
        logger.notice("controller starting", metadata: starting)
        // The first tick decides with the forecast, as every later one does (bounded: a slow
        // database delays the start by at most firstForecastWait, never the ticks after).
        if let metadata = setup.metadata, await !metadata.waitForFirstLoad(limit: ControllerSetup.firstForecastWait) {
            let problem = await metadata.problem
            logger.notice("first reconcile without the scheduled-query forecast; it joins when Redash's database answers", metadata: [
                "reason": "\(problem ?? "no answer within \(ControllerSetup.firstForecastWait)")",
            ])
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: loop), .init(service: endpoints)]
        if let metadata = setup.metadata { services.append(.init(service: MetadataRefresher(cache: metadata))) }
        let group = ServiceGroup(configuration: .init(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await setup.lease?.release()
        await setup.close()
        logger.notice("controller stopped")
    }
}

/// The answers of the HTTP endpoints. The page, `/status` and `/metrics` are rendered at most
/// once per tick (and per interval, per second for `/metrics`) and served from a cache, so that
/// no number of clients makes the controller render more.
struct ControllerRoutes: Sendable {
    let reconciler: Reconciler
    let metrics: MetricsRegistry
    var lease: LeaderLease?
    var pendingRestart: @Sendable () -> ControllerLoop.PendingRestart?
    let page = RenderCache(), status = RenderCache(), exposition = RenderCache()

    init(
        reconciler: Reconciler, metrics: MetricsRegistry, lease: LeaderLease? = nil,
        pendingRestart: @escaping @Sendable () -> ControllerLoop.PendingRestart? = { nil }
    ) {
        self.reconciler = reconciler
        self.metrics = metrics
        self.lease = lease
        self.pendingRestart = pendingRestart
    }

    func answer(_ path: String) async -> HTTPEndpoints.Response {
        switch path {
        case "/healthz":
            return .init(body: "ok\n")
        case "/readyz":
            let interval = await reconciler.policy.interval
            guard let last = await reconciler.lastSuccessAt else { return .init(status: .serviceUnavailable, body: "no successful reconcile yet\n") }
            let age = WallClock.now() - last
            let limit = interval * 3 + .seconds(10)
            return age <= limit
                ? .init(body: "ok: last successful reconcile \(age.compactDescription) ago\n")
                : .init(status: .serviceUnavailable, body: "last successful reconcile \(age.compactDescription) ago (limit \(limit.compactDescription))\n")
        case "/metrics":
            // The lease as it stands by this process's clock, not as its last finished tick saw
            // it: a leader woken from SIGSTOP, or one whose tick waits on a database it cannot
            // reach, has lost the lease long before its next tick ends.
            let leader = await lease?.isLeader
            if let leader { metrics.set(.leader, [:], leader ? 1 : 0) }
            let metrics = self.metrics
            let key = reconciler.history.version * 4 + (leader == nil ? 0 : leader! ? 1 : 2)
            let body = await exposition.value(key: key, fresh: .seconds(1)) { ByteBuffer(string: metrics.render()) }
            return .init(contentType: "text/plain; version=0.0.4; charset=utf-8", bytes: body)
        case "/favicon.ico":
            // The page has no icon; an empty answer keeps a browser's console free of a 404.
            return .init(status: .noContent, contentType: "image/x-icon", body: "")
        case "/", "/ui":
            let reconciler = self.reconciler
            let interval = await reconciler.policy.interval
            let body = await page.value(key: reconciler.history.version, fresh: max(interval, .seconds(1))) {
                ByteBuffer(string: StatusPage.html(history: reconciler.history, report: await reconciler.lastReport, now: WallClock.now()))
            }
            return .init(contentType: "text/html; charset=utf-8", bytes: body)
        case "/status":
            guard let report = await reconciler.lastReport else {
                return .init(status: .serviceUnavailable, contentType: "application/json", body: "{\"error\": \"no reconcile yet\"}\n")
            }
            let pendingRestart = self.pendingRestart()
            var hasher = Hasher()
            hasher.combine(reconciler.history.version)
            hasher.combine(pendingRestart?.version)
            let body = await status.value(key: hasher.finalize(), fresh: .seconds(1)) {
                var object = PlanRendering.object(report)
                // A policy read and valid that waits for a restart: what it changes.
                if let pendingRestart { object["policyPendingRestart"] = ["version": pendingRestart.version, "changes": pendingRestart.changes] as [String: Any] }
                return ByteBuffer(string: JSONOutput.render(object) + "\n")
            }
            return .init(contentType: "application/json", bytes: body)
        default:
            return .init(status: .notFound, body: "not found; try /, /healthz, /readyz, /metrics, /status\n")
        }
    }
}
