import AutoscalerCore

/// Durations as operators write them: `500ms`, `30s`, `5m`, `1h`, `1m30s` (in the policy and in
/// `run --policy-poll`).
public enum DurationSyntax {
    /// The units, longest first so that `ms` is tried before `m`.
    private static let units: [(String, Double)] = [("ms", 0.001), ("h", 3600), ("m", 60), ("s", 1)]

    /// Parses `text`; `nil` when it is not a duration with units.
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingWhitespace)
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.0.count)
            total += value * unit.1
        }
        return .milliseconds(Int64((total * 1000).rounded()))
    }
}
