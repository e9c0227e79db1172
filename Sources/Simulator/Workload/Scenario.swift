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
    /// Bursts at seeded random moments: dashboards opened, or single very slow queries.
    public var randomBursts: [RandomBursts] = []
    /// Other data sources with their own adhoc queue (`data_sources.queue_name`), each served by
    /// its own ECS service.
    public var dataSources: [DataSource] = []
    /// A `query_results` export to replay instead of generating jobs (CSV, as `--trace` reads).
    public var trace: String?

    /// A burst of heavy adhoc queries.
    public struct Burst: Sendable {
        /// When, after the start.
        public var at: Duration
        /// How many queries.
        public var count: Int
        /// Their runtimes, uniform in this range of seconds.
        public var runtime: ClosedRange<Double>
    }

    /// `count` bursts at seeded random moments between two local hours.
    public struct RandomBursts: Sendable {
        /// How many bursts.
        public var count: Int
        /// Queries in each, uniform in this range.
        public var size: ClosedRange<Int>
        /// Their runtimes, uniform in this range of seconds.
        public var runtime: ClosedRange<Double>
        /// Local hours in which they fall (on the scenario's first day).
        public var hours: Range<Int>
    }

    /// An extra data source: its adhoc queue, how busy it is, how slow its queries are.
    public struct DataSource: Sendable {
        /// Its queue (`data_sources.queue_name`).
        public var queue: String
        /// The ECS service the scenario adds for it, unless the policy already consumes the queue.
        public var service: String
        /// Its adhoc rate as a share of the scenario's `adhocPerHour`.
        public var rateFactor: Double
        /// Its queries' runtimes.
        public var runtime: RuntimeModel
        /// Bursts on its queue.
        public var bursts: [RandomBursts]
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
    public static let all: [Scenario] = [seedOverload, scheduledBurst, night, heavyTail, dataSourcesDay, mondayRamp, queryResultsExport]

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

extension Scenario {
    /// A working Monday where most queries take seconds and a few take 20–40 minutes (month-end
    /// reports, a join without an index): the case that kills queries on scale-in.
    public static let heavyTail = Scenario(
        name: "heavy-tail",
        summary: "a working Monday of short queries with eight 20–40 minute ones among them, hourly refreshes",
        start: CivilTime.instant(year: 2026, month: 11, day: 23, utcOffset: japan),
        duration: .seconds(24 * 3600), utcOffset: japan,
        adhocPerHour: officeHours, weekendFactor: 0.1,
        // Ordinary queries stop at a 20-minute limit; the eight slow ones are the exceptions.
        adhocRuntime: RuntimeModel(median: 3, sigma: 1.0, heavyFraction: 0.02, heavyMinimum: 60, heavyAlpha: 1.6, cap: 1200),
        bursts: [],
        scheduled: [
            ScheduledBatch(name: "hourly", hours: Set(0..<24), minute: 0, count: 12, medianRuntime: 15, sigma: 0.8),
        ],
        periodicEvery: .seconds(30),
        randomBursts: [RandomBursts(count: 8, size: 1...1, runtime: 1200...2400, hours: 9..<18)])

    /// Two data sources with their own queues and services: the main PostgreSQL one on `queries`
    /// and a BigQuery one on `bq_queries`, whose queries are slower and come in dashboard bursts.
    public static let dataSourcesDay = Scenario(
        name: "data-sources",
        summary: "a working Monday on two data sources: `queries` and a slower BigQuery `bq_queries`, each with its own service",
        start: CivilTime.instant(year: 2026, month: 11, day: 23, utcOffset: japan),
        duration: .seconds(24 * 3600), utcOffset: japan,
        adhocPerHour: officeHours, weekendFactor: 0.1,
        adhocRuntime: RuntimeModel(median: 4, sigma: 1.0, heavyFraction: 0.05, heavyMinimum: 60, heavyAlpha: 1.6, cap: 1800),
        bursts: [Burst(at: .seconds(11 * 3600), count: 12, runtime: 60...240)],
        scheduled: [
            ScheduledBatch(name: "hourly", hours: Set(0..<24), minute: 0, count: 12, medianRuntime: 15, sigma: 0.8),
            ScheduledBatch(name: "daily 09:00", hours: [9], minute: 0, count: 40, medianRuntime: 20, sigma: 0.9),
        ],
        periodicEvery: .seconds(30),
        dataSources: [
            DataSource(
                queue: "bq_queries", service: "redash-bq-adhoc-worker", rateFactor: 0.4,
                runtime: RuntimeModel(median: 12, sigma: 0.9, heavyFraction: 0.08, heavyMinimum: 90, heavyAlpha: 1.5, cap: 1800),
                bursts: [RandomBursts(count: 4, size: 6...10, runtime: 30...180, hours: 10..<17)]),
        ])

    /// A Monday morning: almost nobody at 07:00, everyone at 09:00 catching up on the weekend's
    /// dashboards, the daily batch on top.
    public static let mondayRamp = Scenario(
        name: "monday-ramp",
        summary: "Monday 06:00–14:00: load ramps from 5 to 160 queries an hour by 09:00, dashboards opened all at once, the 09:00 batch",
        start: CivilTime.instant(year: 2026, month: 11, day: 23, hour: 6, utcOffset: japan),
        duration: .seconds(8 * 3600), utcOffset: japan,
        adhocPerHour: [2, 1, 1, 1, 1, 1, 2, 5, 40, 160, 140, 100, 50, 90, 90, 85, 80, 60, 30, 12, 8, 5, 3, 2],
        weekendFactor: 0.1,
        adhocRuntime: RuntimeModel(median: 4, sigma: 1.0, heavyFraction: 0.05, heavyMinimum: 60, heavyAlpha: 1.6, cap: 1800),
        bursts: [],
        scheduled: [
            ScheduledBatch(name: "hourly", hours: Set(0..<24), minute: 0, count: 12, medianRuntime: 15, sigma: 0.8),
            ScheduledBatch(name: "daily 09:00", hours: [9], minute: 0, count: 60, medianRuntime: 20, sigma: 0.9),
        ],
        periodicEvery: .seconds(30),
        randomBursts: [RandomBursts(count: 10, size: 4...8, runtime: 5...60, hours: 9..<11)])

    /// A replay of a synthetic `query_results` export (docs/simulator.md has the SQL that makes a
    /// real one): the jobs are the file's, the seed only changes ECS's choices.
    public static let queryResultsExport = Scenario(
        name: "query-results-export",
        summary: "replay of a synthetic query_results export (a Tuesday, 08:00–20:00 JST; scripts/traces/query-results-sample.csv)",
        start: CivilTime.instant(year: 2026, month: 11, day: 24, hour: 8, utcOffset: japan),
        duration: .seconds(13 * 3600), utcOffset: japan,
        adhocPerHour: Array(repeating: 0, count: 24), weekendFactor: 1,
        adhocRuntime: RuntimeModel(median: 4, sigma: 1, heavyFraction: 0, heavyMinimum: 60, heavyAlpha: 1.6, cap: 1800),
        bursts: [], scheduled: [], periodicEvery: .seconds(30),
        trace: SampleTrace.csv)

    /// `base` with a service for each of this scenario's extra data sources that no service of
    /// `base` consumes, copied from the service consuming `queries` (or the first one).
    public func policy(for base: Policy) -> Policy {
        let consumed = Set(base.queueNames)
        let missing = dataSources.filter { !consumed.contains($0.queue) }
        guard !missing.isEmpty, let template = base.services.first(where: { $0.queues.contains("queries") }) ?? base.services.first else {
            return base
        }
        var services = base.services
        for source in missing {
            var service = template
            service.name = source.service
            service.queues = [source.queue]
            service.schedules = []
            services.append(service)
        }
        return Policy(cluster: base.cluster, region: base.region, interval: base.interval, redis: base.redis, database: base.database, services: services)
    }
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
        if let trace {
            // The embedded export is checked by a test; a broken one replays as an empty day.
            var workload = (try? TraceReader.parse(trace)) ?? Workload(start: start, duration: duration.inSeconds, jobs: [])
            if let every = periodicEvery, let queue = routing.periodic {
                var jobs = workload.jobs
                var t = 0.0
                while t < workload.duration {
                    jobs.append(SimulatedJob(arrival: t, queue: queue, runtime: 0.3, kind: .periodic))
                    t += every.inSeconds
                }
                workload = Workload(start: workload.start, duration: workload.duration, jobs: jobs)
            }
            return workload
        }
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

        // Added last, from streams of their own, so that the scenarios above keep their jobs.
        var extra = SeededRandom(seed: seed, stream: 3)
        jobs += randomBurstJobs(randomBursts, queue: routing.adhoc, &extra)
        for source in dataSources {
            var hourStart = 0.0
            while hourStart < total {
                let local = CivilTime(start + .seconds(hourStart), utcOffset: utcOffset)
                let isWeekend = local.weekday == .saturday || local.weekday == .sunday
                let rate = adhocPerHour[local.hour] * source.rateFactor * (isWeekend ? weekendFactor : 1) / 3600
                let hourEnd = min(total, hourStart + 3600 - Double(local.minute * 60) - local.second)
                if rate > 0 {
                    var t = hourStart + extra.exponential(rate: rate)
                    while t < hourEnd {
                        jobs.append(SimulatedJob(arrival: t, queue: source.queue, runtime: source.runtime.sample(&extra), kind: .adhoc))
                        t += extra.exponential(rate: rate)
                    }
                }
                hourStart = hourEnd
            }
            jobs += randomBurstJobs(source.bursts, queue: source.queue, &extra)
        }
        return Workload(start: start, duration: total, jobs: jobs)
    }

    private func randomBurstJobs(_ list: [RandomBursts], queue: String, _ random: inout SeededRandom) -> [SimulatedJob] {
        var jobs: [SimulatedJob] = []
        let midnight = CivilTime(start, utcOffset: utcOffset)
        let startOfDay = -Double(midnight.hour * 3600 + midnight.minute * 60) - midnight.second
        for bursts in list {
            for _ in 0..<bursts.count {
                let from = startOfDay + Double(bursts.hours.lowerBound * 3600)
                let to = startOfDay + Double(bursts.hours.upperBound * 3600)
                let at = random.uniform(max(0, from)...max(0, to))
                let size = bursts.size.lowerBound + Int(random.next() % UInt64(bursts.size.count))
                for index in 0..<size where at < duration.inSeconds {
                    jobs.append(SimulatedJob(
                        arrival: at + Double(index) * 0.05, queue: queue, runtime: random.uniform(bursts.runtime), kind: .adhoc))
                }
            }
        }
        return jobs
    }
}
