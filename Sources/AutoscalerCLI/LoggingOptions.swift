import ArgumentParser
import Logging

/// How much a one-shot command logs (to standard error, so that standard output stays a table or
/// JSON). `run` has its own options: it logs to standard output, as JSON in a container.
public struct LoggingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error (default: warning).", valueName: "level"))
    public var logLevel = "warning"

    public init() {}

    public mutating func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError(Self.levelHelp) }
    }

    static let levelHelp = "--log-level must be one of trace, debug, info, notice, warning, error"

    /// A logger for `label` at the chosen level, to standard error.
    func logger(_ label: String) -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        return Logger(label: label, factory: { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        })
    }
}
