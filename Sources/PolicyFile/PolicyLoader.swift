import AutoscalerCore
import Foundation
import Yams

/// The outcome of reading a policy file: the policy when it is valid, and every diagnostic.
public struct PolicyLoadResult: Sendable {
    /// The validated policy, or `nil` when any error was found.
    public var policy: Policy?
    /// Errors and warnings, in file order.
    public var diagnostics: [Diagnostic]

    /// A result with these diagnostics; `policy` must be `nil` when any is an error.
    public init(policy: Policy?, diagnostics: [Diagnostic]) {
        self.policy = policy
        self.diagnostics = diagnostics
    }

    /// Only the warnings.
    public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }
    /// Only the errors.
    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
}

/// Reads `policies.yaml`: parse the YAML, interpolate `${VAR}`, check every setting, and build an
/// immutable `Policy`. All problems are reported at once, each with its line, column and path.
public enum PolicyLoader {
    /// The policy path used when neither `--policies` nor the variable is given.
    public static let defaultPath = "policies.yaml"
    /// The environment variable naming the policy file.
    public static let pathVariable = "REDASH_AUTOSCALER_POLICIES"

    /// Reads and validates the file at `path`.
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> PolicyLoadResult {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = (error as NSError).localizedFailureReason
                ?? (FileManager.default.fileExists(atPath: path) ? "cannot be read as UTF-8 text" : "no such file")
            return PolicyLoadResult(policy: nil, diagnostics: [Diagnostic(
                severity: .error, file: path, line: 1, column: 1, path: "",
                message: "cannot read the policy file: \(reason)")])
        }
        return parse(text, file: path, environment: environment)
    }

    /// Reads `path` and returns the policy, or throws every diagnostic when it is invalid.
    public static func loadValid(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(PolicyError) -> (policy: Policy, warnings: [Diagnostic]) {
        let result = load(path: path, environment: environment)
        guard let policy = result.policy else { throw PolicyError(diagnostics: result.diagnostics) }
        return (policy, result.warnings)
    }

    /// Validates policy text; `file` is used in diagnostics only.
    public static func parse(
        _ text: String, file: String, environment: [String: String]
    ) -> PolicyLoadResult {
        let reader = NodeReader(file: file, environment: environment)
        if let problem = PolicyLimits.check(text) {
            return PolicyLoadResult(policy: nil, diagnostics: [Diagnostic(
                severity: .error, file: file, line: problem.line, column: problem.column, path: "", message: problem.message)])
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            return PolicyLoadResult(policy: nil, diagnostics: [syntaxDiagnostic(error, text: text, file: file)])
        }
        guard let root else {
            reader.error(nil, "", "the file is empty; see docs/policies.md for the settings")
            return PolicyLoadResult(policy: nil, diagnostics: reader.diagnostics)
        }
        let policy = PolicySchema(reader: reader).readPolicy(root)
        let diagnostics = reader.diagnostics.sorted {
            ($0.line, $0.column, $0.severity == .error ? 0 : 1) < ($1.line, $1.column, $1.severity == .error ? 0 : 1)
        }
        return PolicyLoadResult(policy: reader.hasErrors ? nil : policy, diagnostics: diagnostics)
    }

    /// Turns a libyaml error into a diagnostic at its position, with a hint for the usual causes.
    static func syntaxDiagnostic(_ error: any Error, text: String, file: String) -> Diagnostic {
        var line = 1, column = 1
        var message = "the file is not valid YAML"
        if let yamlError = error as? YamlError {
            switch yamlError {
            case let .scanner(context, problem, mark, _),
                 let .parser(context, problem, mark, _),
                 let .composer(context, problem, mark, _):
                (line, column) = (mark.line, mark.column)
                message = "YAML: " + problem
                if let context { message += " (\(context.text) on line \(context.mark.line))" }
            case let .reader(problem, _, _, _):
                message = "YAML: " + problem
            default:
                message = "YAML: \(yamlError)"
            }
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if line - 1 < lines.count, lines[line - 1].contains("\t") {
            message += "; tabs cannot indent YAML, use spaces"
        } else if message.contains("mapping values are not allowed") || message.contains("did not find expected") {
            message += "; check the indentation of this line, or quote a value that contains `: `"
        }
        return Diagnostic(severity: .error, file: file, line: line, column: column, path: "", message: message)
    }
}
