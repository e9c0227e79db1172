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
/// - the previous run is when a worker last started it (Redis `sq:executed_at`), else the
///   `retrieved_at` of its latest result; a query with neither is due at once in Redash ≥ v25.1
///   and never in v7–v10;
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

    /// When Redash will enqueue the query from `now` to `now + horizon`: each time at the first
    /// refresh of `grid` after the query falls due, the next one counted from when that run
    /// starts (Redash's `sq:executed_at` is written when a worker starts the query). A projected
    /// run is assumed to succeed, so only the first one carries the failure back-off.
    ///
    /// - Parameters:
    ///   - previous: the last start (`sq:executed_at`, else the latest result's `retrieved_at`);
    ///     `nil` when the query never ran.
    ///   - neverRunIsDue: Redash ≥ v25.1 runs a never-run query at the next refresh; v7–v10
    ///     never runs it.
    ///   - lock: the job the query's lock points at, when it still waits or was abandoned.
    public static func enqueueTimes(
        previous: Instant?, schedule: RedashSchedule, failures: Int, neverRunIsDue: Bool, lock: JobLock? = nil,
        now: Instant, horizon: Duration, grid: RedashRefreshGrid, limit: Int = 1_000
    ) -> [Instant] {
        guard isActive(schedule, at: now) else { return [] }
        var last = previous
        var failures = failures
        var earliest = now
        switch lock {
        case .waiting:
            // The waiting job runs first; the clock restarts when it starts, at the earliest now.
            last = now
            failures = 0
        case .blocked(let until, _):
            // Redash will not enqueue it again while the lock stands.
            earliest = max(now, until)
        case nil:
            break
        }
        if last == nil && !neverRunIsDue { return [] }
        let end = now + horizon
        var result: [Instant] = []
        while result.count < limit {
            let due: Instant
            if let last {
                guard let next = nextIteration(after: last, schedule: schedule, failures: failures) else { break }
                due = next
            } else {
                due = earliest - .milliseconds(1)
            }
            let enqueued = grid.firstRefresh(after: due, notBefore: earliest)
            guard enqueued < end, isActive(schedule, at: enqueued) else { break }
            // A schedule that does not move forward (interval 0) is enqueued once.
            if let previousEnqueue = result.last, enqueued <= previousEnqueue { break }
            result.append(enqueued)
            last = enqueued + grid.startLatency
            failures = 0
        }
        return result
    }

    /// One query of a group that Redash enqueues as one (the same text on the same data source).
    public struct Member: Hashable, Sendable {
        public var id: Int
        public var previous: Instant?
        /// Whether `previous` is the query's own `sq:executed_at`; else it is the latest result's
        /// `retrieved_at`, which a copy's run updates too (Redash points every query of the same
        /// text and data source at the new result).
        public var isOwnExecution: Bool
        public var schedule: RedashSchedule
        public var failures: Int
        /// How long its run takes: a copy's result is stored that long after it starts.
        public var runtime: Duration

        public init(id: Int, previous: Instant?, isOwnExecution: Bool = true, schedule: RedashSchedule, failures: Int, runtime: Duration = .zero) {
            self.id = id
            self.previous = previous
            self.isOwnExecution = isOwnExecution
            self.schedule = schedule
            self.failures = failures
            self.runtime = runtime
        }
    }

    /// `enqueueTimes` for queries Redash deduplicates: at each refresh, if any member is due, the
    /// one with the highest id is enqueued and its clock restarts. A copy whose clock is its own
    /// `sq:executed_at` stays due and is enqueued at a later refresh (Redash alternates between
    /// such copies); a copy that goes by its latest result is moved on by the new result.
    public static func enqueueTimes(
        group members: [Member], neverRunIsDue: Bool, lock: JobLock? = nil, now: Instant, horizon: Duration, grid: RedashRefreshGrid,
        limit: Int = 1_000
    ) -> [(time: Instant, query: Int)] {
        guard members.count > 1 else {
            guard let member = members.first else { return [] }
            return enqueueTimes(
                previous: member.previous, schedule: member.schedule, failures: member.failures, neverRunIsDue: neverRunIsDue, lock: lock,
                now: now, horizon: horizon, grid: grid, limit: limit).map { ($0, member.id) }
        }
        var members = members.sorted { $0.id < $1.id }
        var earliest = now
        switch lock {
        case .waiting:
            for index in members.indices {
                members[index].previous = max(members[index].previous ?? now, now)
                members[index].failures = 0
            }
        case .blocked(let until, _): earliest = max(now, until)
        case nil: break
        }
        let end = now + horizon
        var result: [(time: Instant, query: Int)] = []
        var refresh = grid.firstRefresh(after: earliest - .milliseconds(1), notBefore: earliest)
        while refresh < end, result.count < limit {
            if let chosen = members.indices.last(where: {
                isDue(
                    previous: members[$0].previous, schedule: members[$0].schedule, failures: members[$0].failures, neverRunIsDue: neverRunIsDue,
                    at: refresh + grid.lateness)
            }) {
                result.append((refresh, members[chosen].id))
                let start = refresh + grid.startLatency
                members[chosen].previous = start
                members[chosen].isOwnExecution = true
                members[chosen].failures = 0
                for index in members.indices where index != chosen && !members[index].isOwnExecution {
                    members[index].previous = start + members[chosen].runtime
                }
            }
            refresh = refresh + grid.period
        }
        return result
    }

    /// Whether Redash's refresh at `refresh` finds the query due (it then counts it in
    /// `outdated_queries_count`, whether or not a job of it still waits behind its lock).
    public static func isDue(previous: Instant?, schedule: RedashSchedule, failures: Int, neverRunIsDue: Bool, at refresh: Instant) -> Bool {
        guard isActive(schedule, at: refresh) else { return false }
        guard let previous else { return neverRunIsDue }
        guard let next = nextIteration(after: previous, schedule: schedule, failures: failures) else { return false }
        return refresh > next
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

/// The job a scheduled query's lock (`query_hash_job:<data source>:<query hash>`) points at, when
/// that stops Redash from enqueueing the query again.
public enum JobLock: Hashable, Sendable {
    /// The job waits in a consumed queue: it runs first, and only its start restarts the clock.
    case waiting
    /// The job will not run while the lock stands, so Redash enqueues nothing until `until`
    /// (the lock's expiry, or when kombu gives a stranded message back).
    case blocked(until: Instant, cause: BlockCause)
}

/// Why a lock's job will not run.
public enum BlockCause: Hashable, Sendable, CustomStringConvertible {
    /// It sits in the started registry with no worker running it (RQ 1.5 keeps a SIGKILLed
    /// task's job there for good).
    case abandonedJob(job: String)
    /// It was running on a Celery node that is gone (its result stays `STARTED`).
    case deadNode(task: String, node: String)
    /// It waits in a queue no live worker listens on.
    case unconsumedQueue(job: String, queue: String)
    /// It is a prefetched message stranded in kombu's `unacked`.
    case strandedMessage(task: String)

    public var description: String {
        switch self {
        case .abandonedJob(let job): "job \(job) is in the started registry, but no worker runs it"
        case .deadNode(let task, let node): "task \(task) was running on \(node), which is gone; its result stays STARTED"
        case .unconsumedQueue(let job, let queue): "job \(job) waits in \(queue), which no live worker listens on"
        case .strandedMessage(let task): "task \(task) is stranded in kombu's unacked"
        }
    }
}

/// The rhythm of Redash's `refresh_queries`: every 30 s, anchored at a refresh Redash recorded in
/// `redash:status` (`started_at` in v25+, else `last_refresh_at`). A query falls due between two
/// refreshes and is enqueued at the next one, so a 60 s schedule runs every 90 s.
public struct RedashRefreshGrid: Hashable, Sendable {
    /// Redash's refresh period (its periodic job definition: 30 s, in v8 through v26).
    public static let redashPeriod: Duration = .seconds(30)
    /// How long after a refresh a free worker starts a query it enqueued.
    public static let defaultStartLatency: Duration = .seconds(1)

    public var period: Duration
    /// A refresh seen; `nil` when none was (or it is stale): the phase is then unknown.
    public var anchor: Instant?
    public var startLatency: Duration
    /// How late a refresh may run. A query due within this much after a refresh may be
    /// enqueued by it (when it runs late) or by the next: the earlier is taken, so that capacity
    /// is there either way. v8's scheduler runs beat on one process that Celery recycles about
    /// every 4 minutes, and each recycle delays a refresh by 4–5 s. Redash v10 and v25+ refresh
    /// within about half a second of the grid, less than a worker takes to start a query (about
    /// a second), so the due time of an interval that is a multiple of 30 s stays after its
    /// refresh: the later refresh is the one (a 60 s schedule runs every 90 s), and nothing is
    /// moved.
    public var lateness: Duration

    /// How late a refresh may run: RQ-era Redash (v10, v25+).
    public static let rqLateness: Duration = .zero
    /// How late a refresh may run: Celery-era Redash (v7–v8).
    public static let celeryLateness: Duration = .seconds(5)

    /// Creates a grid.
    public init(
        period: Duration = RedashRefreshGrid.redashPeriod, anchor: Instant?, startLatency: Duration = RedashRefreshGrid.defaultStartLatency,
        lateness: Duration = .zero
    ) {
        self.period = period
        self.anchor = anchor
        self.startLatency = startLatency
        self.lateness = lateness
    }

    /// The first refresh strictly after `time` (or at most `lateness` before it, as a late
    /// refresh would run after it) and not before `earliest`. Without an anchor the phase is
    /// assumed halfway through a period after `earliest`.
    public func firstRefresh(after time: Instant, notBefore earliest: Instant) -> Instant {
        let seconds = max(period.inSeconds, 0.001)
        let anchor = self.anchor ?? earliest + period / 2
        let from = max(time.secondsSinceEpoch - lateness.inSeconds, earliest.secondsSinceEpoch - 1e-6)
        let steps = ((from - anchor.secondsSinceEpoch) / seconds).rounded(.down) + 1
        return Instant(secondsSinceEpoch: anchor.secondsSinceEpoch + steps * seconds)
    }

    /// The next refresh at or after `now`.
    public func nextRefresh(after now: Instant) -> Instant {
        firstRefresh(after: now - .milliseconds(1), notBefore: now)
    }
}
