/// One scheduled query expected to fall due soon.
public struct DueQuery: Hashable, Sendable {
    /// Time until it is due (negative when overdue but not yet enqueued).
    public var dueIn: Duration
    /// How long it is expected to run (from `query_results.runtime` of its data source).
    public var expectedRuntime: Duration

    /// Creates a due query.
    public init(dueIn: Duration, expectedRuntime: Duration) {
        self.dueIn = dueIn
        self.expectedRuntime = expectedRuntime
    }
}

/// Turns a forecast of scheduled queries into capacity to have running before they fall due.
///
/// A Fargate task takes a minute or more to start, and Redash enqueues due queries in bursts,
/// so capacity asked for when the burst lands arrives late. The forecast asks for it `leadTime`
/// ahead (the observed task start time plus a tick), sized to drain the burst's work within the
/// service's `maxWait`, and no more workers than there are queries.
public enum ScheduledForecast {
    /// Tasks the queries due within `leadTime` need, or `nil` when none are due.
    public static func demand(
        due: [DueQuery], policy: ServicePolicy, leadTime: Duration
    ) -> PredictedDemand? {
        let soon = due.filter { $0.dueIn <= leadTime && $0.dueIn > .seconds(-60) }
        guard !soon.isEmpty else { return nil }
        let work = soon.reduce(0.0) { $0 + $1.expectedRuntime.inSeconds }
        let drain = max(1, policy.target.maxWait.inSeconds)
        let workers = min(Double(soon.count), (work / drain).rounded(.up))
        let tasks = Int((workers / Double(policy.workersPerTask)).rounded(.up))
        guard tasks > 0 else { return nil }
        let earliest = soon.map(\.dueIn).min() ?? .zero
        return PredictedDemand(
            tasks: tasks,
            reason: "\(soon.count) scheduled quer\(soon.count == 1 ? "y" : "ies") due within \(max(.zero, earliest).compactDescription), ~\(Duration.seconds(work).compactDescription) of work")
    }
}
