/// How a careful operator picks a baseline's knobs from a grid, given our controller's figures
/// on the same days: the two rules of issue 17, on means over the seeds of the run.
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

    /// (a) The lowest p95 adhoc wait among the settings that cost no more task-hours than ours;
    /// ties go to the lower scheduled p95, then to fewer task-hours, then to the grid's order.
    public static func lowestWait(_ candidates: [Candidate], withinTaskHours budget: Double) -> Candidate? {
        candidates.filter { $0.mean.taskHours <= budget }.min { isBetterForWait($0.mean, than: $1.mean) }
    }

    /// (b) The fewest task-hours among the settings whose p95 adhoc wait is no worse than ours;
    /// ties go to the lower p95, then to the grid's order.
    public static func fewestTaskHours(_ candidates: [Candidate], atWait wait: Double) -> Candidate? {
        candidates.filter { $0.mean.adhocP95 <= wait }.min {
            ($0.mean.taskHours, $0.mean.adhocP95) < ($1.mean.taskHours, $1.mean.adhocP95)
        }
    }

    /// Lower adhoc p95, then lower scheduled p95, then fewer task-hours.
    static func isBetterForWait(_ a: MeanFigures, than b: MeanFigures) -> Bool {
        (a.adhocP95, a.scheduledP95, a.taskHours) < (b.adhocP95, b.scheduledP95, b.taskHours)
    }
}

/// Figures of one autoscaler averaged over seeds (kills summed).
public struct MeanFigures: Codable, Sendable, Equatable {
    /// Mean of the per-seed p95 adhoc waits, seconds.
    public var adhocP95: Double
    /// Mean of the per-seed p95 scheduled waits, seconds.
    public var scheduledP95: Double
    /// Mean task-hours.
    public var taskHours: Double
    /// Queries killed by scale-in, over all seeds.
    public var killed: Int

    /// Figures given directly.
    public init(adhocP95: Double, scheduledP95: Double, taskHours: Double, killed: Int) {
        self.adhocP95 = adhocP95
        self.scheduledP95 = scheduledP95
        self.taskHours = taskHours
        self.killed = killed
    }

    /// The means of `results`.
    public init(_ results: [SimulationResult]) {
        let count = Double(max(1, results.count))
        adhocP95 = results.reduce(0) { $0 + $1.adhocWait.p95 } / count
        scheduledP95 = results.reduce(0) { $0 + $1.scheduledWait.p95 } / count
        taskHours = results.reduce(0) { $0 + $1.totals.taskHours } / count
        killed = results.reduce(0) { $0 + $1.totals.killed }
    }
}
