/// Calendar fields of an instant at a fixed UTC offset.
///
/// Schedules in the policy and Redash's own scheduled queries are written as wall-clock times
/// ("09:00", Monday). The core has no time-zone database, so it works with fixed offsets; UTC
/// is offset zero.
public struct CivilTime: Hashable, Sendable {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Double
    public var weekday: Weekday

    /// Breaks `instant` into calendar fields at `utcOffset` (for example `+09:00` for Japan).
    public init(_ instant: Instant, utcOffset: Duration = .zero) {
        let local = instant.secondsSinceEpoch + utcOffset.inSeconds
        let days = Int((local / 86_400).rounded(.down))
        let secondOfDay = local - Double(days) * 86_400
        let (year, month, day) = CivilTime.civilDate(daysSinceEpoch: days)
        self.year = year
        self.month = month
        self.day = day
        let wholeSeconds = Int(secondOfDay.rounded(.down))
        self.hour = wholeSeconds / 3600
        self.minute = (wholeSeconds % 3600) / 60
        self.second = secondOfDay - Double(hour * 3600 + minute * 60)
        // 1970-01-01 was a Thursday.
        self.weekday = Weekday(rawValue: ((days % 7) + 7 + 4) % 7)!
    }

    /// Minutes since local midnight.
    public var minuteOfDay: Int { hour * 60 + minute }

    /// `2026-11-22T09:30:00.000Z` (the offset is not printed; use it for UTC).
    public var iso8601: String {
        let millis = min(999, Int((second - second.rounded(.down)) * 1000))
        return "\(year.zeroPadded(to: 4))-\(month.zeroPadded(to: 2))-\(day.zeroPadded(to: 2))T\(hour.zeroPadded(to: 2)):\(minute.zeroPadded(to: 2)):\(Int(second).zeroPadded(to: 2))."
            + "\(millis.zeroPadded(to: 3))Z"
    }

    /// The instant of a calendar date and time at `utcOffset`.
    public static func instant(
        year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Double = 0,
        utcOffset: Duration = .zero
    ) -> Instant {
        let days = daysSinceEpoch(year: year, month: month, day: day)
        let local = Double(days) * 86_400 + Double(hour * 3600 + minute * 60) + second
        return Instant(secondsSinceEpoch: local - utcOffset.inSeconds)
    }

    // Proleptic Gregorian conversions in the well-known era-based form: exact for every date
    // this program meets, with no table and no Foundation.
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilDate(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// A day of the week; raw values follow the common Sunday = 0 convention.
public enum Weekday: Int, CaseIterable, Hashable, Sendable, Comparable {
    case sunday = 0, monday, tuesday, wednesday, thursday, friday, saturday

    /// The three-letter lowercase name used in `policies.yaml` (`mon`, `tue`, …).
    public var shortName: String {
        ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][rawValue]
    }

    /// Parses `mon`, `monday` or `Monday`.
    public init?(name: String) {
        let lowered = name.lowercased()
        guard let match = Weekday.allCases.first(where: {
            lowered == $0.shortName || lowered == $0.fullName
        }) else { return nil }
        self = match
    }

    /// The full lowercase English name.
    public var fullName: String {
        ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"][rawValue]
    }

    /// The day before this one.
    public var previous: Weekday { Weekday(rawValue: (rawValue + 6) % 7)! }

    public static func < (lhs: Weekday, rhs: Weekday) -> Bool { lhs.rawValue < rhs.rawValue }
}
