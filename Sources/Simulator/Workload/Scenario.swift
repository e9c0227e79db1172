import AutoscalerCore

/// A named, parameterised day (or week) of Redash load. Generated from a seed, so the same
/// scenario and seed always give the same jobs.
public struct Scenario: Sendable {
    /// The name used on the command line.
    public var name: String
    /// One sentence for `--help` and reports.
    public var summary: String
    /// When the simulation starts.
    public var start: Instant
    /// How long it runs.
    public var duration: Duration
    /// The users' wall clock (office hours and batches are set in it).
    public var utcOffset: Duration
    /// Adhoc queries per hour by local hour, on weekdays; weekends get `weekendFactor` of it.
    public var adhocPerHour: [Double]
    /// Share of the weekday rate on Saturday and Sunday.
    public var weekendFactor: Double
    /// How long adhoc queries run.
    public var adhocRuntime: RuntimeModel
    /// Moments when someone fires many heavy queries at once (a dashboard of slow charts).
    public var bursts: [Burst]
    /// Scheduled refreshes.
    public var scheduled: [ScheduledBatch]
    /// Redash's periodic maintenance jobs (on `celery` or `periodic`), one every this often.
    public var periodicEvery: Duration?

    /// A burst of heavy adhoc queries.
    public struct Burst: Sendable {
        /// When, after the start.
        public var at: Duration
        /// How many queries.
        public var count: Int
        /// Their runtimes, uniform in this range of seconds.
        public var runtime: ClosedRange<Double>
    }

    /// Scheduled queries that fall due together.
    public struct ScheduledBatch: Sendable {
        /// For reports.
        public var name: String
        /// Local hours at which it falls due.
        public var hours: Set<Int>
        /// Minute of those hours.
        public var minute: Int
        /// Queries in the batch.
        public var count: Int
        /// Median runtime in seconds (also what the metadata forecast predicts).
        public var medianRuntime: Double
        /// Spread of the runtimes (log-normal σ).
        public var sigma: Double
    }

    /// The built-in scenarios.
    public static let all: [Scenario] = [seedOverload, scheduledBurst, night]

    /// The scenario with this name.
    public static func named(_ name: String) -> Scenario? {
        all.first { $0.name == name }
    }

    private static let japan: Duration = .seconds(9 * 3600)
    private static let officeHours: [Double] = [
        2, 1, 1, 1, 1, 1, 2, 4, 20, 60, 90, 80, 50, 80, 90, 85, 80, 60, 30, 12, 8, 5, 3, 2,
    ]

    /// A working Monday in Japan with the adhoc overload that took a Redash down several times a
    /// week: steady office-hours use, three colleagues each firing 16 slow queries at once,
    /// hourly scheduled refreshes and the 09:00 daily batch.
    public static let seedOverload = Scenario(
        name: "seed-overload",
        summary: "a working Monday: office-hours adhoc load, three bursts of 16 slow queries, hourly refreshes, a 09:00 batch",
        start: CivilTime.instant(year: 2026, month: 11, day: 23, utcOffset: japan),
        duration: .seconds(24 * 3600), utcOffset: japan,
        adhocPerHour: officeHours, weekendFactor: 0.1,
        adhocRuntime: RuntimeModel(median: 4, sigma: 1.0, heavyFraction: 0.06, heavyMinimum: 60, heavyAlpha: 1.6, cap: 1800),
        bursts: [
            Burst(at: .seconds(10 * 3600 + 30 * 60), count: 16, runtime: 60...300),
            Burst(at: .seconds(14 * 3600 + 5 * 60), count: 16, runtime: 60...300),
            Burst(at: .seconds(16 * 3600 + 40 * 60), count: 16, runtime: 60...300),
        ],
        scheduled: [
            ScheduledBatch(name: "hourly", hours: Set(0..<24), minute: 0, count: 12, medianRuntime: 15, sigma: 0.8),
            ScheduledBatch(name: "daily 09:00", hours: [9], minute: 0, count: 60, medianRuntime: 20, sigma: 0.9),
        ],
        periodicEvery: .seconds(30))

    /// Six hours dominated by scheduled refreshes falling due in bursts on the hour and half hour:
    /// where a forecast lets capacity be running when the burst lands.
    public static let scheduledBurst = Scenario(
        name: "scheduled-burst",
        summary: "six hours of scheduled refreshes: 40 queries due every half hour, light adhoc use",
        start: CivilTime.instant(year: 2026, month: 11, day: 23, hour: 6, utcOffset: japan),
        duration: .seconds(6 * 3600), utcOffset: japan,
        adhocPerHour: Array(repeating: 6, count: 24), weekendFactor: 1,
        adhocRuntime: RuntimeModel(median: 4, sigma: 1.0, heavyFraction: 0.03, heavyMinimum: 60, heavyAlpha: 1.6, cap: 900),
        bursts: [],
        scheduled: [
            ScheduledBatch(name: "half-hourly", hours: Set(0..<24), minute: 0, count: 40, medianRuntime: 20, sigma: 0.7),
            ScheduledBatch(name: "half-hourly", hours: Set(0..<24), minute: 30, count: 40, medianRuntime: 20, sigma: 0.7),
        ],
        periodicEvery: .seconds(30))

    /// A weeknight, 20:00 to 08:00: almost no one at work, a few refreshes. What matters is cost.
    public static let night = Scenario(
        name: "night",
        summary: "a weeknight 20:00–08:00: a handful of adhoc queries, small hourly refreshes",
        start: CivilTime.instant(year: 2026, month: 11, day: 23, hour: 20, utcOffset: japan),
        duration: .seconds(12 * 3600), utcOffset: japan,
        adhocPerHour: officeHours, weekendFactor: 0.1,
        adhocRuntime: RuntimeModel(median: 4, sigma: 1.0, heavyFraction: 0.05, heavyMinimum: 60, heavyAlpha: 1.6, cap: 1200),
        bursts: [],
        scheduled: [
            ScheduledBatch(name: "hourly", hours: Set(0..<24), minute: 0, count: 6, medianRuntime: 15, sigma: 0.8),
        ],
        periodicEvery: .seconds(30))
}

/// Runtimes of adhoc queries: most take seconds (log-normal), a few take minutes (Pareto tail).
public struct RuntimeModel: Sendable {
    /// Median of the ordinary queries, seconds.
    public var median: Double
    /// Log-normal shape.
    public var sigma: Double
    /// Share of heavy queries.
    public var heavyFraction: Double
    /// Shortest heavy query, seconds.
    public var heavyMinimum: Double
    /// Pareto shape of the heavy tail (smaller is heavier).
    public var heavyAlpha: Double
    /// Longest query, seconds (Redash's query time limit).
    public var cap: Double

    func sample(_ random: inout SeededRandom) -> Double {
        if random.unit() < heavyFraction {
            return random.pareto(minimum: heavyMinimum, alpha: heavyAlpha, cap: cap)
        }
        return min(cap, max(0.2, random.logNormal(median: median, sigma: sigma)))
    }
}

/// The queues a scenario's jobs go to, chosen from the policy being simulated.
public struct QueueRouting: Sendable {
    /// Adhoc queries.
    public var adhoc: String
    /// Scheduled refreshes.
    public var scheduled: String
    /// Periodic maintenance jobs; `nil` when no service consumes a periodic queue.
    public var periodic: String?

    /// Redash's defaults, with the periodic queue taken from the policy (`celery` for Celery-era
    /// Redash, `periodic` for RQ-era) when one is consumed.
    public init(policy: Policy) {
        let queues = Set(policy.queueNames)
        adhoc = "queries"
        scheduled = queues.contains("scheduled_queries") ? "scheduled_queries" : "queries"
        periodic = ["celery", "periodic"].first(where: queues.contains)
    }
}

extension Scenario {
    /// The jobs of this scenario for `seed`, routed to `routing`'s queues.
    public func workload(seed: UInt64, routing: QueueRouting) -> Workload {
        var random = SeededRandom(seed: seed, stream: 1)
        var jobs: [SimulatedJob] = []
        let total = duration.inSeconds

        // Adhoc arrivals: a Poisson process whose rate changes on the local hour.
        var hourStart = 0.0
        while hourStart < total {
            let local = CivilTime(start + .seconds(hourStart), utcOffset: utcOffset)
            let isWeekend = local.weekday == .saturday || local.weekday == .sunday
            let rate = adhocPerHour[local.hour] * (isWeekend ? weekendFactor : 1) / 3600
            // End of this local hour.
            let hourEnd = min(total, hourStart + 3600 - Double(local.minute * 60) - local.second)
            if rate > 0 {
                var t = hourStart + random.exponential(rate: rate)
                while t < hourEnd {
                    jobs.append(SimulatedJob(arrival: t, queue: routing.adhoc, runtime: adhocRuntime.sample(&random), kind: .adhoc))
                    t += random.exponential(rate: rate)
                }
            }
            hourStart = hourEnd
        }

        for burst in bursts where burst.at.inSeconds < total {
            for index in 0..<burst.count {
                jobs.append(SimulatedJob(
                    arrival: burst.at.inSeconds + Double(index) * 0.05, queue: routing.adhoc,
                    runtime: random.uniform(burst.runtime), kind: .adhoc))
            }
        }

        // Scheduled batches: Redash's scheduler enqueues due queries on its 30 s cycle.
        var minute = 0.0
        while minute < total {
            let local = CivilTime(start + .seconds(minute), utcOffset: utcOffset)
            for batch in scheduled where batch.hours.contains(local.hour) && batch.minute == local.minute {
                let enqueued = (minute / 30).rounded(.up) * 30 + 30
                for index in 0..<batch.count where enqueued < total {
                    jobs.append(SimulatedJob(
                        arrival: enqueued + Double(index) * 0.01, queue: routing.scheduled,
                        runtime: min(1800, random.logNormal(median: batch.medianRuntime, sigma: batch.sigma)),
                        kind: .scheduled, due: minute, expectedRuntime: batch.medianRuntime))
                }
            }
            minute += 60
        }

        if let every = periodicEvery, let queue = routing.periodic {
            var t = 0.0
            while t < total {
                jobs.append(SimulatedJob(arrival: t, queue: queue, runtime: 0.3, kind: .periodic))
                t += every.inSeconds
            }
        }
        return Workload(start: start, duration: total, jobs: jobs)
    }
}
