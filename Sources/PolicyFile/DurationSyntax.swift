import AutoscalerCore

/// Durations as operators write them: `500ms`, `30s`, `5m`, `1h`, `1m30s`, `7d` (in the policy,
/// `run --policy-poll` and `hold --for`).
public enum DurationSyntax {
    /// The units, longest first so that `ms` is tried before `m`.
    private static let units: [(String, Double)] = [("ms", 0.001), ("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)]

    /// The longest duration a policy may give: ten years, far past any window, cooldown or
    /// protection, and well inside the milliseconds that an `Int64` holds.
    static let longest: Duration = .seconds(10 * 365 * 86_400)

    /// Why a text is not a duration.
    enum Failure: Error, Equatable {
        /// Not numbers with units.
        case malformed
        /// Numbers with units that add up to more than `longest` (`99999999999999999999s`).
        case tooLong
    }

    /// Parses `text`.
    static func read(_ text: String) -> Result<Duration, Failure> {
        var rest = Substring(text.trimmingWhitespace)
        guard !rest.isEmpty else { return .failure(.malformed) }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return .failure(.malformed) }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return .failure(.malformed) }
            rest = rest.dropFirst(unit.0.count)
            total += value * unit.1
        }
        // Checked before the conversion, which traps on a number past Int64 (the policy-text
        // fuzzer found `cooldown: 3099999999999999999999s` crashing the loader).
        guard total.isFinite, total <= longest.inSeconds else { return .failure(.tooLong) }
        return .success(.milliseconds(Int64((total * 1000).rounded())))
    }

    /// Parses `text`; `nil` when it is not a duration with units, or is longer than `longest`.
    public static func parse(_ text: String) -> Duration? {
        try? read(text).get()
    }
}
