import ArgumentParser
import Controller
import AutoscalerCore
import Foundation
import Logging
import PostgresClient
import QueueProbes
import RedashMetadata
import RedisClient
import SystemClock

/// `redash-autoscaler queues`: what the controller sees in Redis, queue by queue.
public struct QueuesCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "queues",
        abstract: "Show pending, oldest wait, running and workers for every queue in the policy.",
        discussion: "Reads Redis only. The URL is --redis, else the policy's redis.url (the shipped policy reads $REDASH_REDIS_URL, as Redash does). Exits 1 when any queue could not be read."
    )

    @OptionGroup public var options: PolicyOptions

    @Option(help: ArgumentHelp("Redis URL, overriding the policy's (redis://[user:password@]host:port/db, rediss:// for TLS).", valueName: "url"))
    public var redis: String?

    @Flag(help: "Print one JSON object instead of a table.")
    public var json = false

    @Flag(help: ArgumentHelp(
        "Ask Celery's workers what they execute (Redash v7–v8), as `celery.inspect: true` does: one broadcast, a reply list removed within the round (docs/queues.md)."))
    public var inspectCelery = false

    @OptionGroup public var logging: LoggingOptions

    public init() {}

    public func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let (policy, _) = try await PolicySource.load(options, environment: environment, allowEmbedded: true)
        let report = try await Self.report(
            policy: policy, redisURL: redis, json: json, inspectCelery: inspectCelery, logger: logging.logger("redash-autoscaler.queues"))
        print(report.standardOutput)
        if !report.standardError.isEmpty { FileHandle.standardError.write(Data((report.standardError + "\n").utf8)) }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }

    /// Probes every queue of `policy` once and renders the result; exit status 1 when any queue
    /// could not be read.
    public static func report(
        policy: Policy, redisURL: String?, json: Bool, inspectCelery: Bool = false,
        logger: Logger = Logger(label: "redash-autoscaler.queues", factory: { StreamLogHandler.standardError(label: $0) })
    ) async throws -> CommandReport {
        let url = redisURL ?? policy.redis.url.unredacted
        let endpoint: RedisEndpoint
        do {
            endpoint = try RedisEndpoint(url: url)
        } catch {
            throw ValidationError("\(error)")
        }
        let client = RedisClient(endpoint: endpoint, logger: logger)
        // With --redis everything is read there; else Redash's own keys from redis.redashUrl.
        var redashClient: RedisClient?
        if redisURL == nil, let url = policy.redis.redashURL {
            do {
                redashClient = RedisClient(endpoint: try RedisEndpoint(url: url.unredacted), logger: logger)
            } catch {
                throw ValidationError("redis.redashUrl: \(error)")
            }
        }
        let prober = QueueProber(client: client, redashClient: redashClient, layout: policy.redis.layout, logger: logger)
        let asksCelery = policy.celery.inspect || inspectCelery
        let report = await prober.probe(
            queues: policy.queueNames, scheduler: nil,
            activity: asksCelery ? CeleryInspectRequest(replyTimeout: policy.celery.replyTimeout, visibilityTimeout: policy.celery.visibilityTimeout) : nil, now: WallClock.now())
        await client.close()
        await redashClient?.close()
        // Which data sources route to which queue, from Redash's database when the policy names
        // one: a queue routed to but consumed by no worker is found as `plan` finds it.
        let (routed, routingProblem) = await routing(policy, logger: logger)
        let output = json
            ? QueueReportJSON.render(report, policy: policy, routed: routed)
            : QueueReportTable.render(report, policy: policy, endpoint: endpoint, routed: routed)
        let failed = policy.queueNames.contains { if case .unavailable = report.readings[$0] { true } else { false } }
        return CommandReport(
            exitCode: failed ? 1 : 0, standardOutput: output,
            standardError: routingProblem.map { "note: queue routing not read from Redash's database: \($0)" } ?? "")
    }

    /// The data sources routed to each queue, when the policy names Redash's database; a
    /// database that does not answer within 5 s leaves the routing out, with the reason.
    static func routing(_ policy: Policy, logger: Logger) async -> (routed: [String: [String]], problem: String?) {
        guard let url = policy.database?.url else { return ([:], nil) }
        let session = PostgresSession(url: url, connectTimeout: .seconds(3), statementTimeout: .seconds(3), logger: logger)
        do {
            let routes = try await RedashMetadataReader(session: session).routing()
            return (routes.routedQueues, nil)
        } catch {
            return ([:], "\(error)")
        }
    }
}

/// The `--json` form: `{"layout": ..., "queues": [...], "scheduler": {...}}`.
enum QueueReportJSON {
    static func render(_ report: ProbeReport, policy: Policy, routed: [String: [String]] = [:]) -> String {
        let queues = policy.queueNames
        var object: [String: Any] = [
            "layout": report.systemName,
            "layoutSource": report.layoutSource,
            "observedAt": report.observedAt.description,
            "roundTrips": report.roundTrips,
            "commands": report.commands,
        ]
        object["queues"] = queues.map { PlanRendering.queueObject($0, report.readings[$0], abandoned: report.abandonedJobs[$0]) }
        let findings = QueueNameCheck.findings(policy: policy, probe: report, routed: routed)
        if !findings.isEmpty { object["queueNames"] = findings.map { ["queue": $0.queue, "kind": $0.kind, "finding": $0.description] } }
        if let scheduler = report.scheduler {
            object["scheduler"] = [
                "lastRefreshAt": scheduler.lastRefreshAt?.description as Any,
                "secondsSinceLastRefresh": scheduler.sinceLastRefresh.map { ($0.inSeconds * 10).rounded() / 10 } as Any,
                "periodicWorkers": scheduler.periodicWorkers as Any,
                "isStale": scheduler.isStale,
                "isJudged": scheduler.isJudged,
            ]
        } else {
            object["scheduler"] = NSNull()
        }
        if let celery = report.celery { object["celery"] = PlanRendering.celeryObject(celery) }
        if !report.notes.isEmpty { object["notes"] = report.notes }
        return JSONOutput.render(object)
    }
}

/// The default, human form.
enum QueueReportTable {
    static func render(_ report: ProbeReport, policy: Policy, endpoint: RedisEndpoint, routed: [String: [String]] = [:]) -> String {
        let queues = policy.queueNames
        var lines = ["\(endpoint) · layout \(report.systemName), \(report.layoutSource) · \(report.roundTrips) round trip(s), \(report.commands) commands"]
        let width = max(18, (queues.map(\.count).max() ?? 0) + 2)
        lines.append(PlanRendering.queueHeader(width: width))
        lines += queues.map { PlanRendering.queueRow($0, report.readings[$0], width: width, abandoned: report.abandonedJobs[$0]) }
        lines += QueueNameCheck.findings(policy: policy, probe: report, routed: routed).map { "warning: queue names: \($0)" }
        if let scheduler = report.scheduler {
            let refresh = scheduler.sinceLastRefresh.map { "last refresh \($0.compactDescription) ago" }
                ?? "not judged yet: no redash:status last_refresh_at in this Redis (new, not refreshed yet, or not Redash's)"
            let periodic = scheduler.periodicWorkers.map { ", \($0) periodic worker(s)" } ?? ""
            lines.append("scheduler: \(refresh)\(periodic)\(scheduler.isStale ? " — STALE: Redash's scheduler or periodic worker looks dead" : "")")
        }
        if let celery = report.celery { lines += PlanRendering.celeryLines(celery) }
        lines += report.notes.map { "note: \($0)" }
        return lines.joined(separator: "\n")
    }
}
