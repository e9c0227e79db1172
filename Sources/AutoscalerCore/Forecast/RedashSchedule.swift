/// A Redash query schedule (`queries.schedule`): `{"interval": 300, "time": "09:30",
/// "day_of_week": "Monday", "until": "2026-12-31", "disabled": false}`. Times are UTC.
public struct RedashSchedule: Hashable, Sendable {
    /// Seconds between runs; for `time` schedules a whole number of days (86400 daily, 604800
    /// weekly), which Redash divides into days.
    public var interval: Int?
    /// `HH:MM` in UTC, as hour and minute.
    public var time: (hour: Int, minute: Int)?
    /// Monday = 0 … Sunday = 6, as Python's `weekday()`.
    public var dayOfWeek: Int?
    /// The schedule ends at 00:00 UTC of this day.
    public var until: Instant?
    public var disabled: Bool

    public init(interval: Int?, time: (hour: Int, minute: Int)? = nil, dayOfWeek: Int? = nil, until: Instant? = nil, disabled: Bool = false) {
        self.interval = interval
        self.time = time
        self.dayOfWeek = dayOfWeek
        self.until = until
        self.disabled = disabled
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.interval == rhs.interval && lhs.time?.hour == rhs.time?.hour && lhs.time?.minute == rhs.time?.minute
            && lhs.dayOfWeek == rhs.dayOfWeek && lhs.until == rhs.until && lhs.disabled == rhs.disabled
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(interval)
        hasher.combine(time?.hour)
        hasher.combine(time?.minute)
        hasher.combine(dayOfWeek)
        hasher.combine(until)
        hasher.combine(disabled)
    }

    /// Day names as Redash writes them (Python's `calendar.day_name`, English).
    public static let dayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
}

/// When Redash runs a scheduled query, in our own implementation of the rule Redash's scheduler
/// applies every 30 seconds (docs/database.md spells it out):
///
/// - the previous run is the time the scheduler last enqueued it (Redis `sq:executed_at`), else
///   the `retrieved_at` of its latest result; a query with neither is never due;
/// - without `time`: next = previous + interval;
/// - with `time` (daily and weekly schedules): the previous run is moved back to the last
///   `time` at or before it, the interval (in days) and, for weekly schedules, the distance to
///   `day_of_week` are added, and the clock set to `time` (keeping the previous run's seconds);
/// - after failures, next is pushed back by 2^failures minutes;
/// - it is due when now is past next, unless disabled or past `until`.
public enum RedashScheduleRule {
    static let day = 86_400.0

    /// The instant after which the query is due, or `nil` when it never will be (no interval,
    /// a backoff past any horizon).
    public static func nextIteration(after previous: Instant, schedule: RedashSchedule, failures: Int) -> Instant? {
        guard let interval = schedule.interval, interval > 0 || schedule.time != nil else { return nil }
        var next: Double
        let p = previous.secondsSinceEpoch
        if let time = schedule.time {
            let clock = Double(time.hour * 3600 + time.minute * 60)
            let normalized = replacingClock(of: p, with: clock)
            let adjusted = normalized > p ? normalized - day : p
            var days = Double(interval) / day
            if let target = schedule.dayOfWeek {
                days += Double(target - mondayBasedWeekday(normalized))
            }
            next = replacingClock(of: adjusted + days * day, with: clock)
        } else {
            next = p + Double(interval)
        }
        if failures > 0 {
            // 2^30 minutes is two thousand years: never, for any forecast.
            guard failures < 30 else { return nil }
            next += Double(1 << failures) * 60
        }
        return Instant(secondsSinceEpoch: next)
    }

    /// Whether the schedule still runs at `time` (not disabled, not past `until`, not empty).
    public static func isActive(_ schedule: RedashSchedule, at time: Instant) -> Bool {
        if schedule.disabled { return false }
        if schedule.interval == nil && schedule.time == nil && schedule.dayOfWeek == nil && schedule.until == nil { return false }
        if let until = schedule.until, until <= time { return false }
        return true
    }

    /// The times the query falls due from `now` to `now + horizon`: the first (overdue ones at
    /// `now`), then each next one counted from the previous, as the scheduler would enqueue them
    /// if each run were enqueued the moment it fell due.
    public static func occurrences(
        previous: Instant?, schedule: RedashSchedule, failures: Int, now: Instant, horizon: Duration, limit: Int = 1_000
    ) -> [Instant] {
        guard let previous, isActive(schedule, at: now) else { return [] }
        let end = now + horizon
        var result: [Instant] = []
        var last = previous
        while result.count < limit, let next = nextIteration(after: last, schedule: schedule, failures: failures) {
            let due = max(next, now)
            guard due < end, isActive(schedule, at: due) else { break }
            // A schedule that does not move forward (interval 0) is due once.
            if let previousDue = result.last, due <= previousDue { break }
            result.append(due)
            last = due
        }
        return result
    }

    /// `t` with its hour and minute set to those of `clock` (seconds of day), keeping its
    /// seconds within the minute, as Python's `datetime.replace(hour=, minute=)` does.
    static func replacingClock(of t: Double, with clock: Double) -> Double {
        let start = (t / day).rounded(.down) * day
        let secondsInMinute = (t - start).truncatingRemainder(dividingBy: 60)
        return start + clock + secondsInMinute
    }

    /// Monday = 0 … Sunday = 6. 1970-01-01 was a Thursday (3).
    static func mondayBasedWeekday(_ t: Double) -> Int {
        let days = Int((t / day).rounded(.down))
        return ((days % 7) + 7 + 3) % 7
    }
}
