import AutoscalerCore
import Foundation
import Yams

/// Walks the YAML tree with a path, turning each node into a typed value or a diagnostic.
///
/// Readers never stop at the first problem: each returns `nil` for a bad value after recording
/// why, and the caller carries on, so one run reports everything wrong with the file.
final class NodeReader {
    let file: String
    let environment: [String: String]
    private(set) var diagnostics: [Diagnostic] = []
    /// Values interpolated from the environment, with the reference written in the file: a
    /// diagnostic shows the reference, never the value.
    private var interpolated: [(value: String, reference: String)] = []

    init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
    }

    // MARK: Reporting

    func error(_ mark: Mark?, _ path: String, _ message: String) {
        report(.error, mark, path, message)
    }

    func warning(_ mark: Mark?, _ path: String, _ message: String) {
        report(.warning, mark, path, message)
    }

    private func report(_ severity: Diagnostic.Severity, _ mark: Mark?, _ path: String, _ message: String) {
        var message = message
        // Longest first, so that a value inside another is not half replaced.
        for (value, reference) in interpolated.sorted(by: { $0.value.count > $1.value.count }) where value.count >= 3 {
            message = message.replacingOccurrences(of: value, with: reference)
        }
        let diagnostic = Diagnostic(
            severity: severity, file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, path: path, message: message)
        // One value inherited by many services is one diagnostic, where it is written.
        guard !diagnostics.contains(diagnostic) else { return }
        diagnostics.append(diagnostic)
    }

    var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    // MARK: Structure

    /// A mapping's entries by key, after reporting keys that are unknown (with a suggestion),
    /// duplicated or not scalars, and required keys that are missing.
    func mapping(
        _ node: Node, _ path: String, known: [String], required: [String] = []
    ) -> Entries? {
        guard case .mapping(let mapping) = node else {
            error(node.mark, path, "expected a mapping of keys to values, found \(kind(of: node))")
            return nil
        }
        var entries = Entries(mark: mapping.mark)
        var suggested: Set<String> = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                error(key.mark, path, "keys must be plain names, found \(kind(of: key))")
                continue
            }
            let name = scalar.string
            let keyPath = join(path, name)
            if let first = entries.keyMarks[name] {
                error(key.mark, keyPath, "duplicate key `\(name)` (first given on line \(first?.line ?? 0))")
                continue
            }
            entries.keyMarks[name] = key.mark
            guard known.contains(name) else {
                var message = "unknown key `\(name)`"
                if let guess = Suggestion.closest(to: name, among: known) {
                    message += ", did you mean `\(guess)`?"
                    suggested.insert(guess)
                } else {
                    message += " (known keys: \(known.joined(separator: ", ")))"
                }
                error(key.mark, keyPath, message)
                continue
            }
            entries.values[name] = value
            entries.order.append(name)
        }
        // A misspelt required key is reported once, as the misspelling with its suggestion.
        for name in required where entries.keyMarks[name] == nil && !suggested.contains(name) {
            error(mapping.mark, join(path, name), "required key `\(name)` is missing")
        }
        return entries
    }

    /// A map whose keys are names the operator chooses (service names).
    func namedMapping(_ node: Node, _ path: String) -> [(name: String, mark: Mark?, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            error(node.mark, path, "expected a mapping keyed by name, found \(kind(of: node))")
            return nil
        }
        var seen: [String: Mark?] = [:]
        var result: [(name: String, mark: Mark?, value: Node)] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key, !scalar.string.isEmpty else {
                error(key.mark, path, "names must be non-empty strings")
                continue
            }
            if let first = seen[scalar.string] {
                error(key.mark, join(path, scalar.string),
                      "duplicate key `\(scalar.string)` (first given on line \(first?.line ?? 0))")
                continue
            }
            seen[scalar.string] = key.mark
            result.append((scalar.string, key.mark, value))
        }
        return result
    }

    func sequence(_ node: Node, _ path: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            error(node.mark, path, "expected a list, found \(kind(of: node))")
            return nil
        }
        return Array(sequence)
    }

    // MARK: Scalars

    /// True for an explicit YAML null (`~`, `null` or nothing).
    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// A scalar's text after `${VAR}` interpolation, as far as `use` allows (by default names
    /// and numbers: no secret-looking variable).
    func string(_ node: Node, _ path: String, use: Interpolation.Use = .names) -> String? {
        guard case .scalar(let scalar) = node else {
            error(node.mark, path, "expected a single value, found \(kind(of: node))")
            return nil
        }
        guard use != .none else { return scalar.string }
        do {
            var used: [String] = []
            let text = try Interpolation.expand(scalar.string, environment: environment, use: use, used: &used)
            for value in used { interpolated.append((value, scalar.string)) }
            if !used.isEmpty { interpolated.append((text, scalar.string)) }
            return text
        } catch let failure {
            switch failure {
            case .undefined(let name):
                error(node.mark, path,
                      "environment variable \(name) is not set and has no default (write ${\(name):-value} to give one)")
            case .unterminated:
                error(node.mark, path, "`${` without a closing `}`")
            case .badName(let name):
                error(node.mark, path, "`\(name)` is not a valid environment variable name")
            case .secret(let name):
                error(node.mark, path,
                      "${\(name)} looks like a secret's variable, and this field is shown in logs, metrics and /status: only URL fields (redis.url, redis.redashUrl, database.url) may take one")
            }
        }
        return nil
    }

    func nonEmptyString(_ node: Node, _ path: String, use: Interpolation.Use = .names) -> String? {
        guard let text = string(node, path, use: use) else { return nil }
        guard !text.trimmingWhitespace.isEmpty else {
            error(node.mark, path, "must not be empty")
            return nil
        }
        return text.trimmingWhitespace
    }

    func integer(_ node: Node, _ path: String, atLeast minimum: Int) -> Int? {
        guard let text = string(node, path) else { return nil }
        guard let value = Int(text.trimmingWhitespace) else {
            error(node.mark, path, "expected a whole number, found `\(text)`")
            return nil
        }
        guard value >= minimum else {
            error(node.mark, path, "must be >= \(minimum), found \(value)")
            return nil
        }
        return value
    }

    func positiveNumber(_ node: Node, _ path: String) -> Double? {
        guard let text = string(node, path) else { return nil }
        guard let value = Double(text.trimmingWhitespace), value.isFinite else {
            error(node.mark, path, "expected a number, found `\(text)`")
            return nil
        }
        guard value > 0 else {
            error(node.mark, path, "must be > 0, found \(text)")
            return nil
        }
        return value
    }

    func boolean(_ node: Node, _ path: String) -> Bool? {
        guard let text = string(node, path) else { return nil }
        switch text.trimmingWhitespace.lowercased() {
        case "true": return true
        case "false": return false
        default:
            error(node.mark, path, "expected true or false, found `\(text)`")
            return nil
        }
    }

    func duration(_ node: Node, _ path: String, allowZero: Bool) -> Duration? {
        guard let text = string(node, path) else { return nil }
        let value: Duration
        switch DurationSyntax.read(text) {
        case .success(let read):
            value = read
        case .failure(.tooLong):
            error(node.mark, path, "`\(text.trimmingWhitespace)` is longer than any duration a policy needs (at most 87600h, ten years)")
            return nil
        case .failure(.malformed):
            let trimmed = text.trimmingWhitespace
            if Double(trimmed) != nil {
                error(node.mark, path, "durations need a unit: write `\(trimmed)s` or `\(trimmed)m`")
            } else {
                error(node.mark, path, "expected a duration such as `30s`, `5m` or `1h`, found `\(text)`")
            }
            return nil
        }
        if !allowZero && value <= .zero {
            error(node.mark, path, "must be longer than 0s")
            return nil
        }
        return value
    }

    // MARK: Helpers

    func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    private func kind(of node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar(let scalar): "`\(scalar.string)`"
        }
    }
}

/// The recognised entries of one YAML mapping.
struct Entries {
    var mark: Mark?
    var values: [String: Node] = [:]
    var keyMarks: [String: Mark?] = [:]
    var order: [String] = []

    subscript(key: String) -> Node? { values[key] }
}
