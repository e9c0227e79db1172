import ArgumentParser
import AutoscalerCore
import Foundation
import Logging
import PolicyFile

/// `redash-autoscaler validate`: checks a policy file and summarises what it would do.
public struct ValidateCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a policy file; print a summary per service, or every error with its line and column."
    )

    @OptionGroup public var options: PolicyOptions
    @OptionGroup public var aws: AWSOptions

    public init() {}

    public func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let report = await Self.report(options, aws: aws, environment: environment)
        // The file's own text appears in both: no escape code in it reaches the terminal.
        if !report.standardOutput.isEmpty { print(report.standardOutput.printable) }
        if !report.standardError.isEmpty {
            FileHandle.standardError.write(Data((report.standardError.printable + "\n").utf8))
        }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }

    /// What `validate` prints for the policy at the location of `options` (a file, a parameter,
    /// a secret, the environment's YAML).
    static func report(_ options: PolicyOptions, aws: AWSOptions, environment: [String: String]) async -> CommandReport {
        let silent = Logger(label: "redash-autoscaler.validate", factory: { _ in SwiftLogNoOpLogHandler() })
        switch await PolicySource.read(options, environment: environment, allowEmbedded: false, aws: aws, logger: silent) {
        case .unreadable(let message):
            return CommandReport(exitCode: 1, standardOutput: "", standardError: message)
        case .read(let result, let origin, let source, let read):
            let named = read.flatMap { read in source.map { $0 is FileText ? origin : $0.describe(read) } } ?? origin
            return report(result, origin: named)
        }
    }

    /// What `validate` prints and its exit status, without printing: 0 when the policy is valid
    /// (warnings allowed), 1 when it is not.
    public static func report(path: String, environment: [String: String]) -> CommandReport {
        report(PolicyLoader.load(path: path, environment: environment), origin: path)
    }

    /// The report of a parse; `path` names the policy in the summary.
    static func report(_ result: PolicyLoadResult, origin path: String) -> CommandReport {
        var errorLines = result.diagnostics.map(\.description)
        guard let policy = result.policy else {
            let count = result.errors.count
            errorLines.append("\(path): \(count) error\(count == 1 ? "" : "s"); the policy was not accepted")
            return CommandReport(exitCode: 1, standardOutput: "", standardError: errorLines.joined(separator: "\n"))
        }
        var lines = ["\(path): valid, \(policy.services.count) service\(policy.services.count == 1 ? "" : "s") in cluster \(policy.cluster)"]
        lines += policy.services.map { "  " + PolicySummary.line(for: $0) }
        lines.append("  redis: \(policy.redis.url) (layout \(policy.redis.layout.rawValue))"
            + (policy.redis.redashURL.map { ", Redash's own keys on \($0)" } ?? "") + "; "
            + "database: \(policy.database.map { "\($0.url)" } ?? "none (Redis only: no forecast, no leader lease)"); "
            + "every \(policy.interval.compactDescription)"
            + (policy.reactInterval > .zero && policy.reactInterval < policy.interval
                ? ", the queues watched every \(policy.reactInterval.compactDescription) between" : ""))
        return CommandReport(
            exitCode: 0, standardOutput: lines.joined(separator: "\n"),
            standardError: errorLines.joined(separator: "\n"))
    }
}

/// A command's result as values, so tests can check it without a subprocess.
public struct CommandReport: Sendable {
    /// The process exit status.
    public var exitCode: Int32
    /// What goes to standard output.
    public var standardOutput: String
    /// What goes to standard error.
    public var standardError: String
}
