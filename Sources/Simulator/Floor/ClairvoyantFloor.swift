import AutoscalerCore

/// The clairvoyant lower bound: what capacity could do for waits if it knew every job in
/// advance. It is a floor to measure against, not a controller: no production code can know the
/// future, and it acts on the simulation directly (`Simulation.run(plan:)`) instead of through a
/// view of the cluster.
///
/// Per service, it replays the service's jobs in arrival order on at most `maxTasks` tasks of
/// `workersPerTask` slots. A job starts on arrival if any slot could be free then (a stopped task
/// can always be started in time, since the oracle knows when it will be needed); it waits only
/// when every slot of every allowed task is busy, in Redash's FIFO order. Jobs are packed onto
/// tasks already running before another is started. A task runs from the start of its first job
/// to the end of its last; gaps shorter than the mean task start are bridged, since stopping and
/// starting again would bill the start time anyway. The `minTasks` first tasks run throughout.
/// Each task is launched exactly one start time (drawn as for every task) before it must run,
/// and billed from launch; it is never stopped under a running job.
///
/// Under a budget (our controller's cost in dollars), the caps are lowered one task at a time,
/// across the services that can scale, until the run costs no more than the budget.
public enum ClairvoyantFloor {
    /// The name in reports.
    public static let name = "clairvoyant floor"

    /// Runs the floor on `simulation`'s workload; with a budget, the highest caps whose run costs
    /// at most `budget` dollars (or the lowest caps when none does).
    public static func run(_ simulation: Simulation, budget: Double?, scenario: String = "") -> SimulationResult {
        let services = simulation.policy.services
        let reducible = services.map { $0.maxTasks - $0.minTasks }.max() ?? 0
        var result = simulation.run(plan: plan(simulation, capReduction: 0), name: name, scenario: scenario)
        guard let budget else { return result }
        var reduction = 0
        while result.totals.cost > budget, reduction < reducible {
            reduction += 1
            result = simulation.run(plan: plan(simulation, capReduction: reduction), name: name, scenario: scenario)
        }
        return result
    }

    /// Task lifetimes for every service, each capped at `maxTasks - capReduction` (never below
    /// `minTasks`).
    public static func plan(_ simulation: Simulation, capReduction: Int = 0) -> CapacityPlan {
        let services = simulation.policy.services
        var consumer: [String: Int] = [:]
        for (index, service) in services.enumerated() {
            for queue in service.queues where consumer[queue] == nil { consumer[queue] = index }
        }
        var jobsByService = Array(repeating: [SimulatedJob](), count: services.count)
        for job in simulation.workload.jobs where job.arrival < simulation.workload.duration {
            if let index = consumer[job.queue] { jobsByService[index].append(job) }
        }
        let bridge = (simulation.ecs.taskStart.lowerBound + simulation.ecs.taskStart.upperBound) / 2
        var tasks: [String: [CapacityPlan.Lifetime]] = [:]
        for (index, service) in services.enumerated() {
            let cap = max(service.minTasks, service.maxTasks - capReduction)
            tasks[service.name] = lifetimes(
                jobs: jobsByService[index], cap: cap, alwaysRunning: service.minTasks, slots: service.workersPerTask,
                bridge: bridge, end: simulation.workload.duration)
        }
        return CapacityPlan(tasks: tasks)
    }

    /// One service's tasks, from its jobs in arrival order.
    static func lifetimes(
        jobs: [SimulatedJob], cap: Int, alwaysRunning: Int, slots: Int, bridge: Double, end: Double
    ) -> [CapacityPlan.Lifetime] {
        guard cap > 0, slots > 0 else { return [] }
        // When each slot of each task is next free, and each task's busy spans.
        var freeAt = Array(repeating: Array(repeating: 0.0, count: slots), count: cap)
        var busy = Array(repeating: [(start: Double, end: Double)](), count: cap)
        var lastEnd = Array(repeating: -Double.infinity, count: cap)
        for job in jobs {
            let arrival = job.arrival
            var best: (rank: Int, task: Int, slot: Int)?
            for task in 0..<cap {
                guard let slot = freeAt[task].firstIndex(where: { $0 <= arrival }) else { continue }
                // Prefer tasks that run anyway: the always-running ones, then the busy ones, then
                // those a bridged gap keeps up; start another only when none has a free slot.
                let rank = task < alwaysRunning ? 0
                    : freeAt[task].contains(where: { $0 > arrival }) ? 1
                    : lastEnd[task] >= arrival - bridge ? 2 : 3
                if best == nil || rank < best!.rank { best = (rank, task, slot) }
            }
            let (task, slot, start): (Int, Int, Double)
            if let best {
                (task, slot, start) = (best.task, best.slot, arrival)
            } else {
                // Every slot is busy: the job waits for the first to free up (FIFO).
                var earliest = (task: 0, slot: 0, time: Double.infinity)
                for candidate in 0..<cap {
                    for (index, time) in freeAt[candidate].enumerated() where time < earliest.time {
                        earliest = (candidate, index, time)
                    }
                }
                (task, slot, start) = (earliest.task, earliest.slot, earliest.time)
            }
            let finish = start + job.runtime
            freeAt[task][slot] = finish
            busy[task].append((start, finish))
            lastEnd[task] = max(lastEnd[task], finish)
        }
        var lifetimes: [CapacityPlan.Lifetime] = []
        for task in 0..<cap {
            if task < alwaysRunning {
                lifetimes.append(CapacityPlan.Lifetime(ready: 0, stop: .infinity))
                continue
            }
            var current: (start: Double, end: Double)?
            for span in busy[task].sorted(by: { $0.start < $1.start }) {
                if let open = current, span.start - open.end <= bridge {
                    current = (open.start, max(open.end, span.end))
                } else {
                    if let open = current { lifetimes.append(CapacityPlan.Lifetime(ready: open.start, stop: open.end)) }
                    current = span
                }
            }
            if let open = current { lifetimes.append(CapacityPlan.Lifetime(ready: open.start, stop: min(open.end, end + 1))) }
        }
        return lifetimes
    }
}
