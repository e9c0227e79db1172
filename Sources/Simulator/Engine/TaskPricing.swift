/// A Fargate task's size: what ECS bills for, whatever the task does with it.
public struct TaskSize: Sendable, Hashable, Codable {
    /// vCPUs (Fargate's task `cpu` ÷ 1024).
    public var vCPU: Double
    /// Memory in GB (Fargate's task `memory` ÷ 1024).
    public var memoryGB: Double

    /// Creates a size.
    public init(vCPU: Double, memoryGB: Double) {
        self.vCPU = vCPU
        self.memoryGB = memoryGB
    }

    /// The smallest size Fargate accepts that holds `self`: the lowest valid `cpu` at or above
    /// the vCPUs asked for, then the lowest memory that `cpu` allows at or above the memory asked
    /// for (taking the next `cpu` when the memory does not fit). `nil` past 16 vCPU / 120 GB.
    ///
    /// Fargate's combinations (Linux): 0.25 vCPU with 0.5, 1 or 2 GB; 0.5 vCPU with 1–4 GB;
    /// 1 vCPU with 2–8 GB; 2 vCPU with 4–16 GB; 4 vCPU with 8–30 GB (all in 1 GB steps);
    /// 8 vCPU with 16–60 GB in 4 GB steps; 16 vCPU with 32–120 GB in 8 GB steps.
    public var fargate: TaskSize? {
        for (cpu, memories) in Self.fargateCombinations where cpu >= vCPU - 1e-9 {
            if let memory = memories.first(where: { $0 >= memoryGB - 1e-9 }) { return TaskSize(vCPU: cpu, memoryGB: memory) }
        }
        return nil
    }

    static let fargateCombinations: [(Double, [Double])] = [
        (0.25, [0.5, 1, 2]),
        (0.5, Array(stride(from: 1.0, through: 4, by: 1))),
        (1, Array(stride(from: 2.0, through: 8, by: 1))),
        (2, Array(stride(from: 4.0, through: 16, by: 1))),
        (4, Array(stride(from: 8.0, through: 30, by: 1))),
        (8, Array(stride(from: 16.0, through: 60, by: 4))),
        (16, Array(stride(from: 32.0, through: 120, by: 8))),
    ]

    /// "1 vCPU, 2 GB".
    public var summary: String {
        func number(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : String(value) }
        return "\(number(vCPU)) vCPU, \(number(memoryGB)) GB"
    }
}

/// How big a worker task must be for its `workersPerTask`: a fixed share for the task (the
/// container's supervisor, the log router, the operating system's page cache) plus one share
/// per worker process, rounded up to a size Fargate accepts.
public struct TaskSizing: Sendable, Hashable {
    /// The share every task needs whatever its workers.
    public var base: TaskSize
    /// The share of one worker.
    public var perWorker: TaskSize

    /// Creates a sizing.
    public init(base: TaskSize, perWorker: TaskSize) {
        self.base = base
        self.perWorker = perWorker
    }

    /// A Redash worker: 0.25 vCPU and 0.5 GB per worker process, plus 0.25 vCPU and 0.5 GB for
    /// the task. A Redash RQ worker process holds the imported application (about 150–250 MB
    /// resident) and forks a work horse per job that holds the query's result while it is
    /// serialised, so 0.5 GB per worker leaves room for results of some tens of MB; one Python
    /// process uses at most one core, and a quarter of one is what a worker waiting on its data
    /// source needs between serialisations. Teams whose results are larger give more memory; the
    /// prices then scale with it (`ECSModel.sizing`).
    public static let redashWorker = TaskSizing(
        base: TaskSize(vCPU: 0.25, memoryGB: 0.5), perWorker: TaskSize(vCPU: 0.25, memoryGB: 0.5))

    /// The Fargate size of a task of `workers` workers (the largest Fargate size when even that
    /// is too small, which no Redash worker task comes near).
    public func size(workers: Int) -> TaskSize {
        let asked = TaskSize(
            vCPU: base.vCPU + perWorker.vCPU * Double(max(0, workers)),
            memoryGB: base.memoryGB + perWorker.memoryGB * Double(max(0, workers)))
        return asked.fargate ?? TaskSize(vCPU: 16, memoryGB: 120)
    }
}

/// Fargate's on-demand prices, billed per second on the task's size from the start of its image
/// download to its stop.
public struct FargatePrices: Sendable, Hashable {
    /// Dollars per vCPU-hour.
    public var perVCPUHour: Double
    /// Dollars per GB-hour.
    public var perGBHour: Double

    /// Creates prices.
    public init(perVCPUHour: Double, perGBHour: Double) {
        self.perVCPUHour = perVCPUHour
        self.perGBHour = perGBHour
    }

    /// Linux on x86 in us-east-1 (AWS's price list: $0.000011244 per vCPU-second and
    /// $0.000001235 per GB-second).
    public static let usEast1LinuxX86 = FargatePrices(perVCPUHour: 0.04048, perGBHour: 0.004445)

    /// Dollars per hour for one task of `size`.
    public func hourly(_ size: TaskSize) -> Double {
        size.vCPU * perVCPUHour + size.memoryGB * perGBHour
    }
}
