import ArgumentParser
import AutoscalerCore
import Controller
import Foundation
import PolicyFile
import PostgresClient
import RedashMetadata
import SystemClock

/// `redash-autoscaler history`: the decisions the controllers recorded, newest first.
public struct HistoryCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Show the recorded decisions (applied, dry-run, paused, held, failed) with the figures behind each.",
        discussion: """
            Reads the controller's decision log in its database (the policy's database.url, or --database). \
            Every change a controller decided is there, marked with how it ended: applied, dry-run, paused, \
            failed (ECS refused) or not-applied (not sent: an outside change, a withheld scale-in, not the leader; `hold` in rows from before 0.1). \
            Read only.

              redash-autoscaler history --since 2h
              redash-autoscaler history --service redash-adhoc-worker --json
            """
    )

    @Option(help: "Only this service.")
    public var service: String?

    @Option(help: ArgumentHelp("How far back (30m, 2h, 1h30m).", valueName: "duration"))
    public var since = "24h"

    @Option(help: "At most this many decisions.")
    public var limit = 200

    @Option(help: ArgumentHelp("The controller's database URL, overriding the policy's.", valueName: "url"))
    public var database: String?

    @Flag(help: "Print one JSON object instead of a table.")
    public var json = false

    @OptionGroup public var options: PolicyOptions
    @OptionGroup public var logging: LoggingOptions

    public init() {}

    public mutating func validate() throws {
        guard let window = DurationSyntax.parse(since), window > .zero else {
            throw ValidationError("--since \(since): expected a duration with units, such as 30m or 2h")
        }
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10000") }
    }

    public func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let url: SecretURL
        if let database {
            url = SecretURL(database)
        } else {
            let (policy, _) = try await PolicySource.load(options, environment: environment, allowEmbedded: false)
            guard let configured = policy.database?.url else {
                throw ValidationError("no database: the decision log lives in the controller's database; set database.url in the policy or pass --database")
            }
            url = configured
        }
        let logger = logging.logger("redash-autoscaler.history")
        let store = try ControllerStateStore(session: PostgresSession(url: url, logger: logger), controllerVersion: BuildVersion.description, logger: logger)
        let now = WallClock.now()
        let from = now - (DurationSyntax.parse(since) ?? .seconds(86_400))
        let decisions: [ControllerStateStore.LoggedDecision]
        do {
            decisions = try await store.recentDecisions(service: service, since: from, limit: limit)
        } catch {
            throw ValidationError("cannot read the decision log in \(url): \(error) (has a controller run against this database yet?)")
        }
        print(json ? JSONOutput.render(["since": from.description, "decisions": decisions.map(Self.object)]) : Self.table(decisions, now: now, since: since))
    }

    static func object(_ decision: ControllerStateStore.LoggedDecision) -> [String: Any] {
        let figures = (try? JSONSerialization.jsonObject(with: Data(decision.observations.utf8))) ?? [:]
        return [
            "at": decision.decidedAt.description, "service": decision.service, "from": decision.from as Any, "to": decision.to as Any,
            "mode": decision.mode, "reasonCode": decision.reasonCode, "reason": decision.reason, "figures": figures,
            "controller": decision.controller,
        ]
    }

    /// Like `kubectl describe`'s events: age, service, how it ended, the change, why.
    static func table(_ decisions: [ControllerStateStore.LoggedDecision], now: Instant, since: String) -> String {
        guard !decisions.isEmpty else { return "no decisions recorded in the last \(since)" }
        let width = max(7, decisions.map(\.service.count).max() ?? 0)
        func pad(_ text: String, _ count: Int) -> String { text.count >= count ? text : text + String(repeating: " ", count: count - text.count) }
        var lines = [pad("AGE", 8) + pad("SERVICE", width + 2) + pad("MODE", 9) + pad("CHANGE", 10) + pad("REASON", 16) + "MESSAGE"]
        for decision in decisions {
            let change = "\(decision.from.map(String.init) ?? "?") → \(decision.to.map(String.init) ?? "?")"
            lines.append(
                pad((now - decision.decidedAt).compactDescription, 8) + pad(decision.service, width + 2) + pad(decision.mode, 12)
                    + pad(change, 10) + pad(decision.reasonCode, 16) + decision.reason + inputs(decision.observations))
        }
        return lines.joined(separator: "\n")
    }

    /// ` (pending 3, running 1, oldest 42s)`: the inputs, from the recorded figures.
    static func inputs(_ observations: String) -> String {
        guard let figures = try? JSONSerialization.jsonObject(with: Data(observations.utf8)) as? [String: Any] else { return "" }
        var parts: [String] = []
        if let pending = figures["pending"] as? NSNumber { parts.append("pending \(pending.intValue)") }
        if let running = figures["running"] as? NSNumber { parts.append("running \(running.intValue)") }
        if let age = figures["oldestAgeSeconds"] as? NSNumber { parts.append("oldest \(Duration.seconds(age.doubleValue).compactDescription)") }
        return parts.isEmpty ? "" : " (\(parts.joined(separator: ", ")))"
    }
}
