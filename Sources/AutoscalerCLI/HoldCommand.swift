import ArgumentParser
import AutoscalerCore
import AWSClient
import Controller
import Foundation
import Logging
import PolicyFile
import PostgresClient
import RedashMetadata
import SystemClock

/// `redash-autoscaler hold`: "keep this service at N until T", without editing the policy.
public struct HoldCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "hold",
        abstract: "Hold a service at a task count for a while, release a hold, or list the holds in force.",
        discussion: """
            Holds live in the controller's database (the policy's database.url, or --database), so every \
            controller sharing it obeys them from its next tick, with no restart and no policy edit. While a \
            hold is in force the service is set to its count (kept within the policy's minTasks and maxTasks), \
            whatever its queues say; busy-task protection still applies to a scale-in, and a dry-run or paused \
            service still writes nothing. A hold ends by itself at its expiry.

              redash-autoscaler hold redash-adhoc-worker --tasks 6 --for 2h --reason "incident 42"
              redash-autoscaler hold redash-adhoc-worker --release
              redash-autoscaler hold --list
            """
    )

    @Argument(help: "The ECS service to hold or release (a service of the policy).")
    public var service: String?

    @Option(help: "The task count to hold the service at.")
    public var tasks: Int?

    @Option(name: .customLong("for"), help: ArgumentHelp("How long the hold lasts (30m, 2h, 1d; at most 7d).", valueName: "duration"))
    public var duration: String?

    @Option(help: "Why, shown in every decision the hold makes.")
    public var reason = ""

    @Option(help: "Who sets it (default: the AWS identity of the credentials, as STS names it; else $USER@host).")
    public var by: String?

    @Flag(help: "Remove the hold on the service.")
    public var release = false

    @Flag(help: "List the holds in force.")
    public var list = false

    @Option(help: ArgumentHelp("The controller's database URL, overriding the policy's.", valueName: "url"))
    public var database: String?

    @Flag(help: "Print JSON instead of text.")
    public var json = false

    @OptionGroup public var options: PolicyOptions
    @OptionGroup public var aws: AWSOptions
    @OptionGroup public var logging: LoggingOptions

    public init() {}

    /// The longest hold: a forgotten one should not outlive a week.
    static let longest: Duration = .seconds(7 * 86_400)

    public mutating func validate() throws {
        let actions = [list, release, tasks != nil].filter { $0 }.count
        guard actions == 1 else { throw ValidationError("give exactly one of --tasks N --for DURATION, --release or --list") }
        if !list, service == nil { throw ValidationError("name the service to hold or release") }
        if let tasks {
            guard tasks >= 0 else { throw ValidationError("--tasks must be 0 or more") }
            guard let duration else { throw ValidationError("--tasks needs --for, such as --for 2h: a hold always ends") }
            guard let parsed = DurationSyntax.parse(duration), parsed > .zero, parsed <= Self.longest else {
                throw ValidationError("--for \(duration): expected a duration with units between 1s and 7 days, such as 30m or 2h")
            }
        } else if duration != nil {
            throw ValidationError("--for goes with --tasks")
        }
        guard reason.count <= OperatorHold.reasonLimit else {
            throw ValidationError("--reason is \(reason.count) characters; at most \(OperatorHold.reasonLimit): point at the incident instead")
        }
    }

    public func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let (policy, _) = try await PolicySource.load(options, environment: environment, allowEmbedded: false, aws: aws)
        guard let url = database.map(SecretURL.init) ?? policy.database?.url else {
            throw ValidationError("no database: holds live in the controller's database; set database.url in the policy or pass --database")
        }
        if let service, !list, !policy.services.contains(where: { $0.name == service }) {
            let known = policy.services.map(\.name).joined(separator: ", ")
            throw ValidationError("\(service) is not a service of the policy (\(known))")
        }
        let logger = logging.logger("redash-autoscaler.hold")
        let store = try ControllerStateStore(session: PostgresSession(url: url, logger: logger), controllerVersion: BuildVersion.description, logger: logger)
        let now = WallClock.now()
        do {
            try await store.migrate()
            if list {
                let holds = try await store.activeHolds(now: now).values.sorted { $0.service < $1.service }
                print(json ? JSONOutput.render(["holds": holds.map(Self.object)]) : Self.text(holds, now: now))
            } else if release, let service {
                let cleared = try await store.clearHold(service: service, now: now)
                print(cleared ? "released the hold on \(service); the policy decides again from the next tick" : "\(service) had no hold in force")
            } else if let service, let tasks, let duration, let length = DurationSyntax.parse(duration) {
                let hold = OperatorHold(
                    service: service, tasks: tasks, until: now + length, setBy: await Self.setter(by, policy: policy, aws: aws, environment: environment, logger: logger), reason: reason,
                    setAt: now)
                try await store.setHold(hold)
                let bounds = policy.services.first { $0.name == service }.map { (tasks < $0.minTasks || tasks > $0.maxTasks) ? " (the policy keeps it within \($0.minTasks)…\($0.maxTasks))" : "" } ?? ""
                print(json ? JSONOutput.render(["hold": Self.object(hold)]) : "holding \(service) at \(tasks) until \(hold.until)\(bounds)")
            }
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("cannot use the controller's database \(url): \(error)")
        }
    }

    /// Who sets a hold: `--by`, else the AWS identity of the credentials (what CloudTrail would
    /// name; STS answers within 5 s or not at all), else `$USER@host`.
    static func setter(_ by: String?, policy: Policy, aws: AWSOptions, environment: [String: String], logger: Logger) async -> String {
        if let by { return by }
        guard let context = try? aws.context(for: policy, environment: environment, logger: logger) else { return defaultSetter(environment) }
        let arn = await withTaskGroup(of: String?.self) { group in
            group.addTask { try? await context.callerARN() }
            group.addTask {
                try? await Task.sleep(for: .seconds(5))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        return arn ?? defaultSetter(environment)
    }

    static func defaultSetter(_ environment: [String: String]) -> String {
        "\(environment["USER"] ?? environment["LOGNAME"] ?? "someone")@\(ProcessInfo.processInfo.hostName)"
    }

    static func object(_ hold: OperatorHold) -> [String: Any] {
        ["service": hold.service, "tasks": hold.tasks, "until": hold.until.description, "setBy": hold.setBy.clipped(to: 200), "reason": hold.reason.clipped(to: OperatorHold.reasonLimit), "setAt": hold.setAt.description]
    }

    static func text(_ holds: [OperatorHold], now: Instant) -> String {
        guard !holds.isEmpty else { return "no holds in force" }
        return holds.map { hold in
            let left = Int(((hold.until - now).inSeconds / 60).rounded(.up))
            // From the database: whoever wrote it, no escape code reaches the terminal.
            let line = "\(hold.service): \(hold.tasks) tasks until \(hold.until) (\(left) min left), set by \(hold.setBy.clipped(to: 200))"
                + (hold.reason.isEmpty ? "" : ": \(hold.reason.clipped(to: OperatorHold.reasonLimit))")
            return line.printable
        }.joined(separator: "\n")
    }
}
