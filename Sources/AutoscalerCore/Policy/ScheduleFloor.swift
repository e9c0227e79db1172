/// A time-of-day floor: at least `minTasks` while the schedule is active.
///
/// Times are wall-clock at a fixed UTC offset (`+09:00` for Japan, `+00:00` for UTC). An `end`
/// earlier than `start` runs past midnight into the next day; `days` name the day it starts.
public struct ScheduleFloor: Hashable, Sendable {
    /// A name for logs and decision reasons (`business-hours`).
    public var name: String
    /// Days on which the window starts; all seven when the file omits `days`.
    public var days: Set<Weekday>
    /// Start of the window, minutes after local midnight (inclusive).
    public var startMinute: Int
    /// End of the window, minutes after local midnight (exclusive; 1440 means midnight).
    public var endMinute: Int
    /// The offset of the wall clock from UTC.
    public var utcOffset: Duration
    /// Tasks to run at least while active.
    public var minTasks: Int

    /// Creates a schedule floor.
    public init(
        name: String, days: Set<Weekday> = Set(Weekday.allCases), startMinute: Int,
        endMinute: Int, utcOffset: Duration = .zero, minTasks: Int
    ) {
        self.name = name
        self.days = days
        self.startMinute = startMinute
        self.endMinute = endMinute
        self.utcOffset = utcOffset
        self.minTasks = minTasks
    }

    /// Whether the window covers `instant`.
    public func isActive(at instant: Instant) -> Bool {
        let local = CivilTime(instant, utcOffset: utcOffset)
        let minute = local.minuteOfDay
        if startMinute < endMinute {
            return days.contains(local.weekday) && minute >= startMinute && minute < endMinute
        }
        // The window wraps past midnight: the evening part belongs to today, the early-morning
        // part to the window that started yesterday.
        return (days.contains(local.weekday) && minute >= startMinute)
            || (days.contains(local.weekday.previous) && minute < endMinute)
    }
}
