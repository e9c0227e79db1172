import AutoscalerCore

/// Runs one workload through our controller and every baseline, for a side-by-side table.
public enum Comparison {
    /// The autoscalers of a comparison, in table order.
    public enum Contender: String, CaseIterable, Sendable {
        case ours = "redash-autoscaler"
        case oursWithoutForecast = "redash-autoscaler, no forecast"
        case oursWithoutBusyAwareness = "redash-autoscaler, no busy-aware scale-in"
        case targetTracking = "target-tracking"
        case keda = "keda"
        case fixed = "fixed"
        case reactiveOracle = "reactive oracle"
    }

    /// Runs `contenders` on the same workload and ECS seed. The fixed baseline gets, per service,
    /// the average task count our controller used (to the nearest task): about the same budget,
    /// spent evenly.
    public static func run(
        policy: Policy, workload: Workload, scenario: String, seed: UInt64, ecs: ECSModel = ECSModel(),
        contenders: [Contender] = [.ours, .oursWithoutForecast, .targetTracking, .keda, .fixed]
    ) -> [SimulationResult] {
        let simulation = Simulation(policy: policy, workload: workload, ecs: ecs, seed: seed)
        let forecast = SimulatedScheduleForecast(workload: workload)
        let lead = Duration.seconds(ecs.taskStart.upperBound)
        var results: [SimulationResult] = []
        var oursResult: SimulationResult?
        for contender in contenders {
            let result: SimulationResult
            switch contender {
            case .ours:
                var autoscaler = QueueDrivenAutoscaler(policy: policy, forecast: forecast, name: contender.rawValue, taskStartLead: lead)
                result = simulation.run(&autoscaler, scenario: scenario)
                oursResult = result
            case .oursWithoutForecast:
                var autoscaler = QueueDrivenAutoscaler(policy: policy, forecast: nil, name: contender.rawValue, taskStartLead: lead)
                result = simulation.run(&autoscaler, scenario: scenario)
            case .oursWithoutBusyAwareness:
                var autoscaler = QueueDrivenAutoscaler(policy: policy, busyAware: false, forecast: forecast, name: contender.rawValue, taskStartLead: lead)
                result = simulation.run(&autoscaler, scenario: scenario)
            case .targetTracking:
                var autoscaler = TargetTrackingAutoscaler(policy: policy, target: 0.7)
                result = simulation.run(&autoscaler, scenario: scenario)
            case .keda:
                var autoscaler = ListLengthAutoscaler(policy: policy, listLength: 5)
                result = simulation.run(&autoscaler, scenario: scenario)
            case .fixed:
                let reference = oursResult ?? {
                    var autoscaler = QueueDrivenAutoscaler(policy: policy, forecast: forecast, taskStartLead: lead)
                    return simulation.run(&autoscaler, scenario: scenario)
                }()
                var tasks: [String: Int] = [:]
                for service in reference.services {
                    tasks[service.name] = max(1, Int((service.taskHours / max(reference.hours, 1e-9)).rounded()))
                }
                var autoscaler = FixedAutoscaler(tasks: tasks, name: "fixed (about the same budget)")
                var fixedSimulation = simulation
                fixedSimulation.initialTasks = tasks
                result = fixedSimulation.run(&autoscaler, scenario: scenario)
            case .reactiveOracle:
                result = simulation.runReactiveOracle(scenario: scenario)
            }
            results.append(result)
        }
        return results
    }

    /// A plain-text table: waits on the adhoc (mean and percentiles) and scheduled queues, task-hours and dollars, kills,
    /// actions.
    public static func table(_ results: [SimulationResult], routing: QueueRouting) -> String {
        func seconds(_ value: Double) -> String {
            value >= 600 ? "\(Int((value / 60).rounded()))m" : value >= 10 ? "\(Int(value.rounded()))s"
                : "\(Double(Int(value * 10)) / 10)s"
        }
        let header = ["autoscaler", "adhoc wait mean", "p50", "p95", "p99", "max", "scheduled p95", "task-hours", "cost", "killed", "actions"]
        var rows = [header]
        for result in results {
            let adhoc = result.queue(routing.adhoc)?.wait
            let scheduled = routing.scheduled == routing.adhoc ? nil : result.queue(routing.scheduled)?.wait
            let totals = result.totals
            rows.append([
                result.autoscaler,
                adhoc.map { seconds($0.mean) } ?? "-", adhoc.map { seconds($0.p50) } ?? "-", adhoc.map { seconds($0.p95) } ?? "-",
                adhoc.map { seconds($0.p99) } ?? "-", adhoc.map { seconds($0.max) } ?? "-",
                scheduled.map { seconds($0.p95) } ?? "-",
                String((totals.taskHours * 10).rounded() / 10), dollars(totals.cost), String(totals.killed),
                String(totals.scalingActions),
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.enumerated().map { index, row in
            let line = row.enumerated().map { column, cell in
                column == 0 ? cell.rightPadded(to: widths[column]) : cell.leftPadded(to: widths[column])
            }.joined(separator: "  ")
            return index == 0 ? line + "\n" + String(repeating: "-", count: line.count) : line
        }.joined(separator: "\n")
    }
}

