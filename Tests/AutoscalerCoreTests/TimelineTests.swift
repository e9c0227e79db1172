import AutoscalerCore
import Testing
import TestSupport
import IntegrationSupport

@Suite("Scaling over time", .testThreads)
struct TimelineTests {
    @Test("the adhoc overload: a burst of minute-long queries on 1 task of 2 workers")
    func overloadBurst() {
        // Steps of 2 so that the step-down takes several actions.
        var driver = RuleDriver(policy: Build.service(min: 1, max: 8, scaleDown: ScalingBehavior(
            stabilizationWindow: .seconds(120), maxStep: 2, cooldown: .seconds(30))), desired: 1)
        // A colleague's dashboard fires 16 heavy queries at once.
        let first = driver.tick(["queries": Build.queue(pending: 14, running: 2, oldest: 1, at: driver.now)])
        #expect(first.desired == 8, "reacts on the first tick: \(first.reason)")

        // While the queries run, nothing shrinks even though nothing is pending.
        driver.run(ticks: 24) { now in ["queries": Build.queue(pending: 0, running: 16, at: now)] }
        #expect(driver.desired == 8)

        // Work finishes; the service stays for the scale-down window, then steps down.
        let scaleDown = driver.policy.scaleDown
        let idleStart = driver.now
        driver.run(ticks: 12 * 12) { now in ["queries": Build.queue(at: now)] }
        let downs = driver.decisions.filter { $0.direction == .down }
        #expect(downs.count >= 2)
        #expect(downs.first.map { $0.at - idleStart >= scaleDown.stabilizationWindow } == true, "first scale-down waited the window")
        #expect(downs.allSatisfy { ($0.current ?? 0) - ($0.desired ?? 0) <= scaleDown.maxStep })
        for (earlier, later) in zip(downs, downs.dropFirst()) {
            #expect(later.at - earlier.at >= scaleDown.cooldown, "scale-downs respect the cooldown")
        }
        #expect(driver.desired == 1, "back at minTasks after the burst")
    }

    @Test("a flapping queue does not make the service flap")
    func noFlapping() {
        var driver = RuleDriver(policy: Build.service(min: 1, max: 8), desired: 4)
        driver.run(ticks: 240) { now in
            let busy = Int(now.secondsSinceEpoch / 5) % 2 == 0
            return ["queries": Build.queue(pending: busy ? 6 : 0, running: busy ? 2 : 0, oldest: busy ? 2 : nil, at: now)]
        }
        let changes = driver.decisions.filter(\.isChange)
        #expect(changes.count <= 1, "changes: \(changes.map { "\($0.current!)→\($0.desired!)" })")
    }

    @Test("losing Redis mid-burst holds the count until signals return")
    func redisLossHolds() {
        var driver = RuleDriver(policy: Build.service(min: 1, max: 8), desired: 1)
        driver.tick(["queries": Build.queue(pending: 10, running: 2, oldest: 3, at: driver.now)])
        #expect(driver.desired == 6)
        driver.run(ticks: 200) { _ in ["queries": .unavailable(reason: "connection refused")] }
        #expect(driver.desired == 6)
        #expect(driver.decisions.dropFirst().allSatisfy { $0.code == .signalsMissing })
    }
}

@Suite("Time, schedules, secrets, history", .testThreads)
struct SupportingValueTests {
    @Test("calendar fields", arguments: [
        (0.0, "1970-01-01T00:00:00.000Z", Weekday.thursday),
        (951_782_400, "2000-02-29T00:00:00.000Z", .tuesday),
        (1_795_305_600, "2026-11-22T00:00:00.000Z", .sunday),
        (-86_400, "1969-12-31T00:00:00.000Z", .wednesday),
    ])
    func civilTime(_ seconds: Double, _ iso: String, _ weekday: Weekday) {
        let civil = CivilTime(Instant(secondsSinceEpoch: seconds))
        #expect(civil.iso8601 == iso)
        #expect(civil.weekday == weekday)
        #expect(CivilTime.instant(year: civil.year, month: civil.month, day: civil.day).secondsSinceEpoch == seconds)
    }

    @Test("a UTC offset moves the wall clock and the day")
    func offsets() {
        let instant = CivilTime.instant(year: 2026, month: 11, day: 22, hour: 20)  // Sunday 20:00 UTC
        let tokyo = CivilTime(instant, utcOffset: .seconds(9 * 3600))
        #expect(tokyo.weekday == .monday && tokyo.hour == 5)
    }

    @Test("a schedule past midnight belongs to the day it starts")
    func overnightSchedule() {
        let night = ScheduleFloor(name: "batch", days: [.friday], startMinute: 22 * 60, endMinute: 6 * 60, minTasks: 2)
        let friday = CivilTime.instant(year: 2026, month: 11, day: 27, hour: 23)
        let saturdayMorning = CivilTime.instant(year: 2026, month: 11, day: 28, hour: 5, minute: 59)
        let saturdayLater = CivilTime.instant(year: 2026, month: 11, day: 28, hour: 6)
        let thursday = CivilTime.instant(year: 2026, month: 11, day: 26, hour: 23)
        #expect(night.isActive(at: friday))
        #expect(night.isActive(at: saturdayMorning))
        #expect(!night.isActive(at: saturdayLater))
        #expect(!night.isActive(at: thursday))
    }

    @Test("passwords are redacted", arguments: [
        ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://default:hunter2@cache:6379", "redis://default:***@cache:6379"),
        ("rediss://hunter2@cache:6380", "rediss://***@cache:6380"),
        ("postgresql://redash:hunter2@db:5432/redash?sslmode=require", "postgresql://redash:***@db:5432/redash?sslmode=require"),
        ("postgresql://db/redash?user=redash&password=hunter2", "postgresql://db/redash?user=redash&password=***"),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
        ("postgresql://redash@db/redash", "postgresql://redash@db/redash"),
        ("host=db port=5432 user=redash password=hunter2 dbname=redash", "host=db port=5432 user=redash password=*** dbname=redash"),
        ("host=db password = 'hunter2 with spaces' sslmode=require", "host=db password=*** sslmode=require"),
        ("host=db sslpassword=hunter2", "host=db sslpassword=***"),
    ])
    func redaction(_ url: String, _ shown: String) {
        #expect(SecretURL(url).description == shown)
        #expect(!"\(SecretURL(url))".contains("hunter2"))
    }

    @Test("history forgets what every window has left, and remembers applied actions")
    func historyRetention() {
        let policy = Build.service()  // longest window: scale-down
        var history = ScalingHistory()
        var driverNow = Build.monday
        for value in 0..<120 {  // ten minutes of ticks
            let decision = Decision(
                service: policy.name, at: driverNow, current: 1, desired: value % 2 == 0 ? 2 : 1,
                recommendation: value, code: .backlog, reason: "", figures: DecisionFigures())
            history.record(decision, policy: policy)
            history.recordApplied(decision)
            driverNow = driverNow + .seconds(5)
        }
        let oldest = history.entries.first!.at
        #expect(history.entries.last!.at - oldest <= policy.scaleDown.stabilizationWindow)
        #expect(history.entries.count < 120)
        #expect(history.observingSince == Build.monday)
        #expect(history.lastScaleUp == Build.monday + .seconds(5 * 118))
        #expect(history.lastScaleDown == nil)
    }
}

@Suite("Timestamp parsing", .testThreads)
struct TimestampParsingTests {
    private static let nineUTC = CivilTime.instant(year: 2026, month: 11, day: 23, hour: 9)

    @Test("the forms RQ, PostgreSQL and exported traces write", arguments: [
        ("2026-11-23T09:00:00Z", 0.0), ("2026-11-23T09:00:00.345678Z", 0.345678), ("2026-11-23 09:00:00.5+00", 0.5),
        ("2026-11-23 18:00:00+09", 0.0), ("2026-11-23T18:00:00+09:00", 0.0), ("2026-11-23T04:00:00-0500", 0.0),
        ("2026-11-23 09:00", 0.0), ("2026-11-23 09:00:00 UTC", 0.0), ("2026-11-23T09:00:00", 0.0),
    ])
    func parses(_ text: String, _ fraction: Double) throws {
        let parsed = try #require(CivilTime.parseTimestamp(text))
        #expect(abs(parsed.secondsSinceEpoch - (Self.nineUTC.secondsSinceEpoch + fraction)) < 1e-6)
    }

    @Test("not timestamps", arguments: ["", "yesterday", "2026-13-01T00:00:00Z", "2026-11-23T09:00:00 PST", "2026/11/23 09:00", "2026-11-23T25:00"])
    func rejects(_ text: String) {
        #expect(CivilTime.parseTimestamp(text) == nil)
    }
}
