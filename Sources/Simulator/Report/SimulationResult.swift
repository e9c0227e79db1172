/// The figures of one simulated run.
public struct SimulationResult: Codable, Sendable, Equatable {
    /// Which autoscaler sized the services.
    public var autoscaler: String
    /// Which scenario (or trace) ran.
    public var scenario: String
    /// The seed of the workload and of ECS's choices.
    public var seed: UInt64
    /// Hours simulated.
    public var hours: Double
    /// Per queue: jobs and their waits.
    public var queues: [QueueResult]
    /// Per service: cost and actions.
    public var services: [ServiceResult]
    /// Waits of every adhoc query, whichever queue (data source) it went to.
    public var adhocWait = WaitStatistics([])
    /// Waits of every scheduled refresh, whichever queue it went to.
    public var scheduledWait = WaitStatistics([])
    /// Samples for charts; not part of the JSON report.
    public var timeline: [TimelineSample] = []

    enum CodingKeys: String, CodingKey {
        case autoscaler, scenario, seed, hours, queues, services, totals, adhocWait, scheduledWait
    }

    public init(
        autoscaler: String, scenario: String, seed: UInt64, hours: Double, queues: [QueueResult],
        services: [ServiceResult], timeline: [TimelineSample]
    ) {
        self.autoscaler = autoscaler
        self.scenario = scenario
        self.seed = seed
        self.hours = hours
        self.queues = queues
        self.services = services
        self.timeline = timeline
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        autoscaler = try container.decode(String.self, forKey: .autoscaler)
        scenario = try container.decode(String.self, forKey: .scenario)
        seed = try container.decode(UInt64.self, forKey: .seed)
        hours = try container.decode(Double.self, forKey: .hours)
        queues = try container.decode([QueueResult].self, forKey: .queues)
        services = try container.decode([ServiceResult].self, forKey: .services)
        adhocWait = try container.decodeIfPresent(WaitStatistics.self, forKey: .adhocWait) ?? WaitStatistics([])
        scheduledWait = try container.decodeIfPresent(WaitStatistics.self, forKey: .scheduledWait) ?? WaitStatistics([])
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(autoscaler, forKey: .autoscaler)
        try container.encode(scenario, forKey: .scenario)
        try container.encode(seed, forKey: .seed)
        try container.encode(hours, forKey: .hours)
        try container.encode(queues, forKey: .queues)
        try container.encode(services, forKey: .services)
        try container.encode(totals, forKey: .totals)
        try container.encode(adhocWait, forKey: .adhocWait)
        try container.encode(scheduledWait, forKey: .scheduledWait)
    }

    /// Sums over queues and services.
    public var totals: Totals {
        Totals(
            enqueued: queues.reduce(0) { $0 + $1.enqueued },
            rerun: queues.reduce(0) { $0 + $1.rerun },
            completed: queues.reduce(0) { $0 + $1.completed },
            killed: queues.reduce(0) { $0 + $1.killed },
            runningAtEnd: queues.reduce(0) { $0 + $1.running },
            waitingAtEnd: queues.reduce(0) { $0 + $1.waiting },
            taskHours: services.reduce(0) { $0 + $1.taskHours },
            cost: services.reduce(0) { $0 + $1.cost },
            scalingActions: services.reduce(0) { $0 + $1.scaleUps + $1.scaleDowns })
    }

    /// The queue with this name.
    public func queue(_ name: String) -> QueueResult? {
        queues.first { $0.name == name }
    }
}

/// Totals of a run.
public struct Totals: Codable, Sendable, Equatable {
    public var enqueued: Int
    public var rerun: Int
    public var completed: Int
    public var killed: Int
    public var runningAtEnd: Int
    public var waitingAtEnd: Int
    public var taskHours: Double
    /// Dollars billed, all services (`ServiceResult.cost`).
    public var cost: Double
    public var scalingActions: Int
}

/// One queue's jobs and waits.
public struct QueueResult: Codable, Sendable, Equatable {
    public var name: String
    /// Jobs enqueued, re-runs included.
    public var enqueued: Int
    /// Re-runs of killed adhoc queries among them (`Simulation.rerunKilledAdhocAfter`).
    public var rerun: Int
    /// Jobs that ran to the end.
    public var completed: Int
    /// Jobs lost because their task was stopped under them.
    public var killed: Int
    /// Jobs still running when the simulation ended.
    public var running: Int
    /// Jobs still waiting when the simulation ended.
    public var waiting: Int
    /// Time from the user's first ask to start, over the attempts that started and were not
    /// killed and run again.
    public var wait: WaitStatistics
}

/// Wait-in-queue percentiles (nearest rank), seconds.
public struct WaitStatistics: Codable, Sendable, Equatable {
    public var count: Int
    public var p50: Double
    public var p95: Double
    public var p99: Double
    public var max: Double
    /// The mean wait. Unlike a percentile it moves with every query's wait, so it is the figure
    /// to compare two runs by when the tail is decided by a few queries (which task start draw
    /// a scale-up happened to get).
    public var mean: Double

    enum CodingKeys: String, CodingKey {
        case count, p50, p95, p99, max, mean
    }

    /// Percentiles of `sorted` (ascending).
    public init(_ sorted: [Double]) {
        count = sorted.count
        mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)
        func rank(_ fraction: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let index = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, index))]
        }
        p50 = rank(0.50)
        p95 = rank(0.95)
        p99 = rank(0.99)
        max = sorted.last ?? 0
    }

    /// Reports written before the mean was added read with a mean of 0.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        count = try container.decode(Int.self, forKey: .count)
        p50 = try container.decode(Double.self, forKey: .p50)
        p95 = try container.decode(Double.self, forKey: .p95)
        p99 = try container.decode(Double.self, forKey: .p99)
        max = try container.decode(Double.self, forKey: .max)
        mean = try container.decodeIfPresent(Double.self, forKey: .mean) ?? 0
    }
}

/// One service's cost and scaling.
public struct ServiceResult: Codable, Sendable, Equatable {
    public var name: String
    /// Task-hours billed (from launch to stop).
    public var taskHours: Double
    /// The Fargate size of one of its tasks.
    public var taskSize: TaskSize
    /// Dollars billed: task-hours at the hourly price of `taskSize`.
    public var cost: Double
    public var scaleUps: Int
    public var scaleDowns: Int
    /// Most tasks alive at once.
    public var peakTasks: Int

    public init(
        name: String, taskHours: Double, taskSize: TaskSize, cost: Double, scaleUps: Int, scaleDowns: Int, peakTasks: Int
    ) {
        self.name = name
        self.taskHours = taskHours
        self.taskSize = taskSize
        self.cost = cost
        self.scaleUps = scaleUps
        self.scaleDowns = scaleDowns
        self.peakTasks = peakTasks
    }
}

/// The state at one sample time, for charts.
public struct TimelineSample: Sendable, Equatable {
    /// Seconds after the start.
    public var time: Double
    public var services: [Service]

    /// One service at the sample time.
    public struct Service: Sendable, Equatable {
        public var name: String
        /// Jobs waiting on its queues.
        public var pending: Int
        /// Jobs running on its queues.
        public var running: Int
        /// Its desiredCount.
        public var desired: Int
        /// Tasks running.
        public var runningTasks: Int

        public init(name: String, pending: Int, running: Int, desired: Int, runningTasks: Int) {
            self.name = name
            self.pending = pending
            self.running = running
            self.desired = desired
            self.runningTasks = runningTasks
        }
    }
}
