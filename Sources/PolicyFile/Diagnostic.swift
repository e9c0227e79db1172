/// One problem found in a policy file, with where it is and, when it is obvious, the fix.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    /// How serious a problem is.
    public enum Severity: String, Hashable, Sendable {
        /// The file is rejected.
        case error
        /// The file is accepted, but the setting is probably not what was meant.
        case warning
    }

    /// Error or warning.
    public var severity: Severity
    /// The file as the operator named it.
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column.
    public var column: Int
    /// The setting's path (`services.redash-adhoc-worker.maxTasks`); empty for syntax errors.
    public var path: String
    /// What is wrong and, where possible, what to write instead.
    public var message: String

    /// Creates a diagnostic.
    public init(
        severity: Severity, file: String, line: Int, column: Int, path: String, message: String
    ) {
        self.severity = severity
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    /// `FILE:LINE:COLUMN: error: PATH: message`, the form compilers use, so editors can jump to it.
    public var description: String {
        let location = "\(file):\(line):\(column): \(severity.rawValue): "
        return path.isEmpty ? location + message : location + "\(path): \(message)"
    }
}

/// A policy file that cannot be used, with every problem found in it.
public struct PolicyError: Error, Hashable, Sendable, CustomStringConvertible {
    /// All diagnostics, errors and warnings, in file order.
    public var diagnostics: [Diagnostic]

    /// Creates an error from diagnostics.
    public init(diagnostics: [Diagnostic]) {
        self.diagnostics = diagnostics
    }

    /// Only the errors.
    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }

    /// One diagnostic per line, then a count.
    public var description: String {
        let count = errors.count
        return (diagnostics.map(\.description) + ["\(count) error\(count == 1 ? "" : "s")"])
            .joined(separator: "\n")
    }
}
