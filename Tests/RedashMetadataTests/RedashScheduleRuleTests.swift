import AutoscalerCore
import RedashMetadata
import Testing
import IntegrationSupport

/// Redash's rule, case by case, with due times worked out by hand in each test.
@Suite("Redash schedule rule", .testThreads)
struct RedashScheduleRuleTests {
    static func at(_ day: Int, _ hour: Int, _ minute: Int, _ second: Double = 0) -> Instant {
        CivilTime.instant(year: 2026, month: 11, day: day, hour: hour, minute: minute, second: second)
    }

    @Test("interval: previous + interval")
    func interval() {
        let schedule = RedashSchedule(interval: 300)
        #expect(RedashScheduleRule.nextIteration(after: Self.at(23, 9, 58, 10), schedule: schedule, failures: 0) == Self.at(23, 10, 3, 10))
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

    /// Redash's refreshes at :00 and :30 of every minute.
    static let grid = RedashRefreshGrid(anchor: at(23, 10, 0))
    static let now = at(23, 10, 0, 5)

    struct Cadence: CustomTestStringConvertible, Sendable {
        var name: String
        var schedule: RedashSchedule
        var previous: Instant?
        var failures = 0
        var neverRunIsDue = true
        var lock: JobLock?
        var grid = RedashScheduleRuleTests.grid
        var expected: [Instant]
        var testDescription: String { name }
    }

    static let cadences: [Cadence] = [
        Cadence(
            name: "every 60 s runs every 90 s: due 30 s after a refresh, enqueued at the next (7 runs in 10 minutes)",
            schedule: RedashSchedule(interval: 60), previous: at(23, 9, 59, 0.5),
            expected: [at(23, 10, 0, 30), at(23, 10, 2), at(23, 10, 3, 30), at(23, 10, 5), at(23, 10, 6, 30), at(23, 10, 8), at(23, 10, 9, 30)]),
        Cadence(
            name: "every 120 s runs every 150 s",
            schedule: RedashSchedule(interval: 120), previous: at(23, 9, 58, 30.5),
            expected: [at(23, 10, 1), at(23, 10, 3, 30), at(23, 10, 6), at(23, 10, 8, 30)]),
        Cadence(
            name: "every 300 s runs every 330 s",
            schedule: RedashSchedule(interval: 300), previous: at(23, 9, 57, 30.5),
            expected: [at(23, 10, 3), at(23, 10, 8, 30)]),
        Cadence(
            name: "every 240 s, last started 10 s after a refresh: every 270 s",
            schedule: RedashSchedule(interval: 240), previous: at(23, 9, 56, 10),
            expected: [at(23, 10, 0, 30), at(23, 10, 5), at(23, 10, 9, 30)]),
        Cadence(
            name: "never ran, Redash v25.1+: at the next refresh, then on its schedule",
            schedule: RedashSchedule(interval: 180), previous: nil,
            expected: [at(23, 10, 0, 30), at(23, 10, 4), at(23, 10, 7, 30)]),
        Cadence(
            name: "never ran, Redash v7–v10: never",
            schedule: RedashSchedule(interval: 180), previous: nil, neverRunIsDue: false, expected: []),
        Cadence(
            name: "2 failures: 2^2 minutes on the next run only; the run succeeds and the back-off resets",
            schedule: RedashSchedule(interval: 300), previous: at(23, 9, 53), failures: 2,
            expected: [at(23, 10, 2, 30), at(23, 10, 8)]),
        Cadence(
            name: "overdue with its job waiting behind the lock: no second copy; next one interval after it can start",
            schedule: RedashSchedule(interval: 300), previous: at(23, 9, 50), lock: .waiting,
            expected: [at(23, 10, 5, 30)]),
        Cadence(
            name: "overdue without a lock: at the next refresh",
            schedule: RedashSchedule(interval: 300), previous: at(23, 9, 50),
            expected: [at(23, 10, 0, 30), at(23, 10, 6)]),
        Cadence(
            name: "held by an abandoned job's lock until 10:04:10: at the first refresh after",
            schedule: RedashSchedule(interval: 300), previous: at(23, 9, 50), lock: .blocked(until: at(23, 10, 4, 10), cause: .abandonedJob(job: "j1")),
            expected: [at(23, 10, 4, 30), at(23, 10, 10)]),
        Cadence(
            name: "no refresh recorded: the phase is assumed halfway, 15 s from now",
            schedule: RedashSchedule(interval: 300), previous: at(23, 9, 50), grid: RedashRefreshGrid(anchor: nil),
            expected: [at(23, 10, 0, 20), at(23, 10, 5, 50)]),
        Cadence(
            name: "daily at 10:05, ran yesterday at 10:05:05: at the first refresh after 10:05:05",
            schedule: RedashSchedule(interval: 86_400, time: (hour: 10, minute: 5)), previous: at(22, 10, 5, 5),
            expected: [at(23, 10, 5, 30)]),
        Cadence(
            name: "disabled: never", schedule: RedashSchedule(interval: 60, disabled: true), previous: at(23, 9, 0), expected: []),
        Cadence(
            name: "past until: never", schedule: RedashSchedule(interval: 60, until: CivilTime.instant(year: 2026, month: 11, day: 1)),
            previous: at(23, 9, 0), expected: []),
        Cadence(name: "no interval: never", schedule: RedashSchedule(interval: nil), previous: at(23, 9, 0), expected: []),
    ]

    @Test("when Redash enqueues, over the next 10 minutes", arguments: cadences)
    func cadence(_ case: Cadence) {
        let times = RedashScheduleRule.enqueueTimes(
            previous: `case`.previous, schedule: `case`.schedule, failures: `case`.failures, neverRunIsDue: `case`.neverRunIsDue,
            lock: `case`.lock, now: Self.now, horizon: .seconds(600), grid: `case`.grid)
        #expect(times == `case`.expected, "\(times)")
    }

    @Test("what the next refresh finds due, as Redash counts it (outdated_queries_count)")
    func dueAtRefresh() {
        let refresh = Self.at(23, 10, 0, 30)
        #expect(RedashScheduleRule.isDue(previous: Self.at(23, 9, 59, 0.5), schedule: RedashSchedule(interval: 60), failures: 0, neverRunIsDue: true, at: refresh))
        #expect(!RedashScheduleRule.isDue(previous: Self.at(23, 9, 59, 30.5), schedule: RedashSchedule(interval: 60), failures: 0, neverRunIsDue: true, at: refresh))
        #expect(RedashScheduleRule.isDue(previous: nil, schedule: RedashSchedule(interval: 60), failures: 0, neverRunIsDue: true, at: refresh))
        #expect(!RedashScheduleRule.isDue(previous: nil, schedule: RedashSchedule(interval: 60), failures: 0, neverRunIsDue: false, at: refresh))
        #expect(!RedashScheduleRule.isDue(previous: Self.at(23, 9, 0), schedule: RedashSchedule(interval: 60, disabled: true), failures: 0, neverRunIsDue: true, at: refresh))
    }
}

/// A lock whose job will not run holds its query back in the forecast until the lock expires:
/// the case that had the scheduled worker scaled 1 → 4 for a refresh that enqueued 1 s of work.
@Suite("Forecast: blocked locks", .testThreads)
struct BlockedLockForecastTests {
    static let now = Instant(secondsSinceEpoch: 1_764_590_400)

    static func forecast(lock: JobLock?) -> ScheduledWorkForecast {
        let queries = (1...6).map { id in
            ScheduledQuery(
                id: id, dataSourceID: 1, queryHash: "h\(id)", schedule: RedashSchedule(interval: 60), failures: 0,
                lastRetrievedAt: now - .seconds(600), lastRuntime: 900)
        }
        var locks: [String: JobLock] = [:]
        if let lock { for id in 1...6 { locks[ScheduledWorkForecast.lockKey(dataSource: 1, queryHash: "h\(id)")] = lock } }
        return ScheduledWorkForecast.build(
            queries: queries, routes: [DataSourceRoute(id: 1, name: "Production")],
            scheduler: RedashSchedulerState(locks: locks, refreshAnchor: now - .seconds(10)), neverRunIsDue: true, stats: [:], now: now,
            horizonMinutes: 10)
    }

    @Test("six overdue queries locked by a dead node's task: no run within the lock's life, each named with its cause and expiry")
    func noRunsWhileBlocked() {
        let free = Self.forecast(lock: nil)
        #expect(free.queues.flatMap(\.due).count >= 6, "overdue queries run at the next refresh when their locks are free")
        let until = Self.now + .seconds(11 * 3600)
        let blocked = Self.forecast(lock: .blocked(until: until, cause: .deadNode(task: "t1", node: "celery@ip-10-0-1-23")))
        #expect(blocked.queues.flatMap(\.due).isEmpty, "\(blocked.queues.flatMap(\.due))")
        #expect(blocked.blockedByLock == 6)
        #expect(blocked.blockedLocks.values.allSatisfy { $0.until == until })
        let stranded = Self.forecast(lock: .blocked(until: Self.now + .seconds(120), cause: .strandedMessage(task: "t2")))
        #expect(!stranded.queues.flatMap(\.due).isEmpty, "a stranded message comes back within the horizon, and its query runs again after it")
    }
}

@Suite("Refresh lateness and the forecast's self-check", .testThreads)
struct RefreshLatenessTests {
    static let anchor = Instant(secondsSinceEpoch: 1_764_590_400)

    @Test("v8: a 60 s schedule started 1 s after a refresh is due 1 s after the refresh two periods on, which a 5 s late refresh takes; v25+ takes the one after")
    func earlierRefreshUnderLateness() {
        let start = Self.anchor + .seconds(1)
        let schedule = RedashSchedule(interval: 60)
        let v8 = RedashRefreshGrid(anchor: Self.anchor, lateness: RedashRefreshGrid.celeryLateness)
        let v25 = RedashRefreshGrid(anchor: Self.anchor, lateness: RedashRefreshGrid.rqLateness)
        let early = RedashScheduleRule.enqueueTimes(
            previous: start, schedule: schedule, failures: 0, neverRunIsDue: true, now: Self.anchor + .seconds(2), horizon: .seconds(100), grid: v8)
        let late = RedashScheduleRule.enqueueTimes(
            previous: start, schedule: schedule, failures: 0, neverRunIsDue: true, now: Self.anchor + .seconds(2), horizon: .seconds(100), grid: v25)
        #expect(early.first == Self.anchor + .seconds(60), "\(early)")
        #expect(late.first == Self.anchor + .seconds(90), "\(late)")
    }

    @Test("the self-check compares jobs enqueued: a forecast that projects runs for lock-blocked queries disagrees with Redash's due count less the held locks")
    func enqueuesAreCompared() {
        var check = ForecastCheck()
        // The forecast (before blocked locks were read) projected 6 enqueues at the refresh;
        // Redash found 6 due, all held by their locks: nothing was enqueued.
        check.predict(RefreshPrediction(at: Self.anchor, dueQueries: 6, enqueues: 6))
        let wrong = check.observe(refreshAt: Self.anchor, outdatedQueries: 6, heldBefore: 6)
        #expect(wrong?.predicted == 6 && wrong?.observed == 0 && wrong?.error == -6)
        // Reading the locks, it projects none: agreement.
        check.predict(RefreshPrediction(at: Self.anchor + .seconds(30), dueQueries: 6, enqueues: 0))
        let right = check.observe(refreshAt: Self.anchor + .seconds(30), outdatedQueries: 6, heldBefore: 6)
        #expect(right?.error == 0)
    }
}
