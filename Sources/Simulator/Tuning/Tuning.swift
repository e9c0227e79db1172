/// How a careful operator picks a baseline's knobs from a grid, given our controller's figures
/// on the same days: its two picks, on means over the seeds of the run, budgeted in dollars.
public enum Tuning {
    /// One setting's figures, averaged over the seeds.
    public struct Candidate: Sendable {
        /// The setting tried.
        public var setting: BaselineSetting
        /// Its figures over the seeds.
        public var mean: MeanFigures

        /// Creates a candidate.
        public init(setting: BaselineSetting, mean: MeanFigures) {
            self.setting = setting
            self.mean = mean
        }
    }

    /// (a) The lowest p95 adhoc wait among the settings that cost no more dollars than ours;
    /// ties go to the lower scheduled p95, then to the lower cost, then to the grid's order.
    public static func lowestWait(_ candidates: [Candidate], withinCost budget: Double) -> Candidate? {
        candidates.filter { $0.mean.cost <= budget }.min { isBetterForWait($0.mean, than: $1.mean) }
    }

    /// (b) The lowest cost among the settings whose p95 adhoc wait is no worse than ours; ties
    /// go to the lower p95, then to the grid's order.
    public static func cheapest(_ candidates: [Candidate], atWait wait: Double) -> Candidate? {
        candidates.filter { $0.mean.adhocP95 <= wait }.min {
            ($0.mean.cost, $0.mean.adhocP95) < ($1.mean.cost, $1.mean.adhocP95)
        }
    }

    /// Lower adhoc p95, then lower scheduled p95, then lower cost.
    static func isBetterForWait(_ a: MeanFigures, than b: MeanFigures) -> Bool {
        (a.adhocP95, a.scheduledP95, a.cost) < (b.adhocP95, b.scheduledP95, b.cost)
    }
}

/// Figures of one autoscaler averaged over seeds (kills summed).
public struct MeanFigures: Codable, Sendable, Equatable {
    /// Mean of the per-seed p95 adhoc waits, seconds.
    public var adhocP95: Double
    /// Mean of the per-seed p95 scheduled waits, seconds.
    public var scheduledP95: Double
    /// Mean of the per-seed p99 adhoc waits, seconds.
    public var adhocP99: Double
    /// Mean task-hours.
    public var taskHours: Double
    /// Mean dollars billed.
    public var cost: Double
    /// Queries killed by scale-in, over all seeds.
    public var killed: Int

    /// Figures given directly.
    public init(adhocP95: Double, scheduledP95: Double, adhocP99: Double = 0, taskHours: Double, cost: Double, killed: Int) {
        self.adhocP95 = adhocP95
        self.scheduledP95 = scheduledP95
        self.adhocP99 = adhocP99
        self.taskHours = taskHours
        self.cost = cost
        self.killed = killed
    }

    /// The means of `results`.
    public init(_ results: [SimulationResult]) {
        let count = Double(max(1, results.count))
        adhocP95 = results.reduce(0) { $0 + $1.adhocWait.p95 } / count
        scheduledP95 = results.reduce(0) { $0 + $1.scheduledWait.p95 } / count
        adhocP99 = results.reduce(0) { $0 + $1.adhocWait.p99 } / count
        taskHours = results.reduce(0) { $0 + $1.totals.taskHours } / count
        cost = results.reduce(0) { $0 + $1.totals.cost } / count
        killed = results.reduce(0) { $0 + $1.totals.killed }
    }
}
