/// A point in wall-clock time, as seconds since the Unix epoch (UTC).
///
/// The core never reads a clock: every function that needs "now" takes an `Instant`, so that
/// stabilization windows, cooldowns and the simulator are deterministic and testable.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Seconds since 1970-01-01T00:00:00Z, with sub-second precision.
    public var secondsSinceEpoch: Double

    /// Creates an instant from seconds since the Unix epoch.
    public init(secondsSinceEpoch: Double) {
        self.secondsSinceEpoch = secondsSinceEpoch
    }

    public static func < (lhs: Instant, rhs: Instant) -> Bool {
        lhs.secondsSinceEpoch < rhs.secondsSinceEpoch
    }

    /// The instant `duration` after this one (before it when negative).
    public static func + (lhs: Instant, rhs: Duration) -> Instant {
        Instant(secondsSinceEpoch: lhs.secondsSinceEpoch + rhs.inSeconds)
    }

    /// The instant `duration` before this one.
    public static func - (lhs: Instant, rhs: Duration) -> Instant {
        Instant(secondsSinceEpoch: lhs.secondsSinceEpoch - rhs.inSeconds)
    }

    /// The time elapsed from `rhs` to `lhs` (negative when `rhs` is later). Saturates at about
    /// ±31,700 years, and is zero when either side is not a number: instants come from outside
    /// (Redis, PostgreSQL, ECS), and `Duration` traps on a value it cannot hold. The adapters
    /// reject such values before they get here; this keeps a miss from being a crash.
    public static func - (lhs: Instant, rhs: Instant) -> Duration {
        .seconds(Duration.saturatingSeconds(lhs.secondsSinceEpoch - rhs.secondsSinceEpoch))
    }

    /// Whether this is a plausible wall-clock time: finite, from 2000 to 2200.
    public var isPlausible: Bool {
        secondsSinceEpoch.isFinite && secondsSinceEpoch >= 946_684_800 && secondsSinceEpoch < 7_258_118_400
    }

    /// ISO 8601 in UTC with millisecond precision, for logs and reports.
    public var description: String {
        CivilTime(self).iso8601
    }
}

extension Duration {
    /// The largest magnitude, in seconds, that durations made from outside values are clamped to.
    public static let saturationSeconds = 1e12

    /// `seconds` clamped to what a `Duration` holds safely; 0 for NaN.
    public static func saturatingSeconds(_ seconds: Double) -> Double {
        guard !seconds.isNaN else { return 0 }
        return min(max(seconds, -saturationSeconds), saturationSeconds)
    }

    /// The duration as fractional seconds; precise to well below a microsecond for any
    /// duration this program handles.
    public var inSeconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }

    /// A compact human form: `45s`, `5m`, `1m30s`, `2h`, `1.5s`.
    public var compactDescription: String {
        let total = inSeconds
        if total < 0 { return "-" + (Duration.seconds(-total)).compactDescription }
        if total < 60, total != total.rounded() {
            return "\(Double(Int((total * 10).rounded())) / 10)s"
        }
        let whole = Int(total.rounded())
        let hours = whole / 3600, minutes = (whole % 3600) / 60, seconds = whole % 60
        var text = ""
        if hours > 0 { text += "\(hours)h" }
        if minutes > 0 { text += "\(minutes)m" }
        if seconds > 0 || text.isEmpty { text += "\(seconds)s" }
        return text
    }
}
