import AutoscalerCore
import Testing

/// Redash's rule, case by case, with due times worked out by hand in each test.
@Suite("Redash schedule rule")
struct RedashScheduleRuleTests {
    static func at(_ day: Int, _ hour: Int, _ minute: Int, _ second: Double = 0) -> Instant {
        CivilTime.instant(year: 2026, month: 11, day: day, hour: hour, minute: minute, second: second)
    }

    @Test("interval: previous + interval, then every interval after")
    func interval() {
        let schedule = RedashSchedule(interval: 300)
        #expect(RedashScheduleRule.nextIteration(after: Self.at(23, 9, 58, 10), schedule: schedule, failures: 0) == Self.at(23, 10, 3, 10))
        let times = RedashScheduleRule.occurrences(previous: Self.at(23, 9, 58, 10), schedule: schedule, failures: 0, now: Self.at(23, 10, 0, 20), horizon: .seconds(900))
        #expect(times == [Self.at(23, 10, 3, 10), Self.at(23, 10, 8, 10), Self.at(23, 10, 13, 10)])
    }

    @Test("daily at a time: keeps the seconds of the previous run; a run before the time counts for the day before")
    func daily() {
        let daily = RedashSchedule(interval: 86_400, time: (hour: 10, minute: 15))
        // Ran yesterday at 10:15:05: due today 10:15:05.
        #expect(RedashScheduleRule.nextIteration(after: Self.at(22, 10, 15, 5), schedule: daily, failures: 0) == Self.at(23, 10, 15, 5))
        // Ran (by hand) today at 08:00:30, before 10:15: the run counts for yesterday's slot, so due today 10:15:30.
        #expect(RedashScheduleRule.nextIteration(after: Self.at(23, 8, 0, 30), schedule: daily, failures: 0) == Self.at(23, 10, 15, 30))
        // 23:59 run, scheduler wakes after midnight: still due the next day at 23:59.
        let late = RedashSchedule(interval: 86_400, time: (hour: 23, minute: 59))
        #expect(RedashScheduleRule.nextIteration(after: Self.at(22, 23, 59, 10), schedule: late, failures: 0) == Self.at(23, 23, 59, 10))
    }

    @Test("weekly on a day: the distance to that day is added to the week")
    func weekly() {
        // 2026-11-16 and 2026-11-23 are Mondays.
        let monday = RedashSchedule(interval: 604_800, time: (hour: 10, minute: 20), dayOfWeek: 0)
        #expect(RedashScheduleRule.nextIteration(after: Self.at(16, 10, 20, 30), schedule: monday, failures: 0) == Self.at(23, 10, 20, 30))
        // Run on Wednesday 18th at 12:00 for a Friday schedule: week + 2 days = Friday 27th.
        let friday = RedashSchedule(interval: 604_800, time: (hour: 6, minute: 0), dayOfWeek: 4)
        #expect(RedashScheduleRule.nextIteration(after: Self.at(18, 12, 0), schedule: friday, failures: 0) == Self.at(27, 6, 0))
    }

    @Test("failures push the next run back by 2^failures minutes; absurd counts mean never")
    func failures() {
        let schedule = RedashSchedule(interval: 600)
        #expect(RedashScheduleRule.nextIteration(after: Self.at(23, 9, 52, 0), schedule: schedule, failures: 3) == Self.at(23, 10, 10, 0))
        #expect(RedashScheduleRule.nextIteration(after: Self.at(23, 9, 52, 0), schedule: schedule, failures: 40) == nil)
    }

    @Test("disabled, past until, empty schedules and never-run queries are never due; overdue ones are due now")
    func inactive() {
        let now = Self.at(23, 10, 0, 20)
        let previous = Self.at(23, 9, 0)
        #expect(RedashScheduleRule.occurrences(previous: previous, schedule: RedashSchedule(interval: 60, disabled: true), failures: 0, now: now, horizon: .seconds(600)).isEmpty)
        let ended = RedashSchedule(interval: 60, until: CivilTime.instant(year: 2026, month: 11, day: 1))
        #expect(RedashScheduleRule.occurrences(previous: previous, schedule: ended, failures: 0, now: now, horizon: .seconds(600)).isEmpty)
        #expect(RedashScheduleRule.occurrences(previous: previous, schedule: RedashSchedule(interval: nil), failures: 0, now: now, horizon: .seconds(600)).isEmpty)
        #expect(RedashScheduleRule.occurrences(previous: nil, schedule: RedashSchedule(interval: 60), failures: 0, now: now, horizon: .seconds(600)).isEmpty)
        // Until tomorrow: still runs today.
        let endsTomorrow = RedashSchedule(interval: 3600, until: CivilTime.instant(year: 2026, month: 11, day: 24))
        #expect(RedashScheduleRule.occurrences(previous: previous, schedule: endsTomorrow, failures: 0, now: now, horizon: .seconds(600)) == [now])
    }
}
