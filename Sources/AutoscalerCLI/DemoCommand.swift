import ArgumentParser
import AutoscalerCore
import Foundation
import Simulator

/// `redash-autoscaler demo`: the product in one command, with no AWS account and no Redash.
public struct DemoCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Watch a simulated working day of Redash on ECS, then compare with what teams use instead."
    )

    @OptionGroup public var options: PolicyOptions

    @Option(help: "Seed of the simulated day.")
    public var seed: UInt64 = 1

    @Option(help: ArgumentHelp("Where to write the SVG chart (default: in the temporary directory).", valueName: "file"))
    public var chart: String?

    @Flag(help: "Print the live view at once instead of pacing it (pacing only happens on a terminal).")
    public var fast = false

    public init() {}

    public func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let (policy, origin) = try await PolicySource.load(options, environment: environment, allowEmbedded: true)
        let scenario = Scenario.seedOverload
        let run = try SimulationRun.prepare(policy: policy, scenario: scenario.name, trace: nil, seed: seed)
        guard let adhoc = run.adhocService(in: policy) else { throw ValidationError("no service consumes `queries`") }
        print("""
            redash-autoscaler demo: \(scenario.summary).
            Policy: \(origin). Simulated on this machine: no network, no AWS, no Redash.
            Each row is half an hour of \(adhoc.name) under redash-autoscaler: the most jobs waiting and running,
            the most tasks desired/running (each task runs \(adhoc.workersPerTask) queries at once), and the most tasks
            the baselines asked for.

            """)
        let results = Comparison.run(policy: policy, workload: run.workload, scenario: scenario.name, seed: seed)
        let paced = !fast && isatty(STDOUT_FILENO) == 1
        LiveView.replay(results, service: adhoc.name, start: run.workload.start, utcOffset: scenario.utcOffset, paced: paced)

        print("\nSide by side on the same seeded day (waits in queue; task-hours and their price at each service's Fargate task size are what Fargate bills):\n")
        print(Comparison.table(results, routing: run.routing))
        print("")
        print(Verdict.lines(results, routing: run.routing).joined(separator: "\n"))
        let chartPath = chart ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("redash-autoscaler-demo.svg")
        try run.writeChart(results, policy: policy, to: chartPath)
        print("\nChart (one panel per autoscaler): \(chartPath)")
        print("Try: redash-autoscaler simulate --scenario scheduled-burst --compare")
    }
}

/// The half-hourly rows of the demo. Bursts last minutes, so each row shows the peak of its half
/// hour rather than a point sample that would miss them.
enum LiveView {
    static let rowSpan = 1800.0

    static func replay(_ results: [SimulationResult], service: String, start: Instant, utcOffset: Duration, paced: Bool) {
        guard let ours = results.first else { return }
        let others = results.dropFirst().filter { !$0.autoscaler.hasPrefix("redash-autoscaler") }
        print("  time   waiting  running  tasks   " + others.map { short($0.autoscaler) }.joined(separator: "  ") + "   (peaks of each half hour)")
        let oursRows = peaks(ours, service: service)
        let othersRows = others.map { peaks($0, service: service) }
        for (row, peak) in oursRows.enumerated() {
            let local = CivilTime(start + .seconds(Double(row) * rowSpan), utcOffset: utcOffset)
            let clock = (local.hour < 10 ? "0" : "") + "\(local.hour):" + (local.minute < 10 ? "0" : "") + "\(local.minute)"
            var line = "  \(clock)  " + "\(peak.pending)".leftPadded(to: 7) + "  " + "\(peak.running)".leftPadded(to: 7)
                + "  " + "\(peak.desired)/\(peak.runningTasks)".leftPadded(to: 5) + "   "
            for (index, other) in others.enumerated() {
                let theirs = row < othersRows[index].count ? "\(othersRows[index][row].desired)" : "-"
                line += theirs.leftPadded(to: short(other.autoscaler).count) + "  "
            }
            line += String(repeating: "█", count: min(40, peak.pending)) + String(repeating: "▒", count: min(40, peak.running))
            print(line)
            if paced { Thread.sleep(forTimeInterval: 0.25) }
        }
    }

    /// The largest value of each field per half hour.
    static func peaks(_ result: SimulationResult, service: String) -> [TimelineSample.Service] {
        var rows: [TimelineSample.Service] = []
        for sample in result.timeline {
            guard let entry = sample.services.first(where: { $0.name == service }) else { continue }
            let row = Int(sample.time / rowSpan)
            while rows.count <= row { rows.append(TimelineSample.Service(name: service, pending: 0, running: 0, desired: 0, runningTasks: 0)) }
            rows[row].pending = max(rows[row].pending, entry.pending)
            rows[row].running = max(rows[row].running, entry.running)
            rows[row].desired = max(rows[row].desired, entry.desired)
            rows[row].runningTasks = max(rows[row].runningTasks, entry.runningTasks)
        }
        return rows
    }

    static func short(_ name: String) -> String {
        if name.hasPrefix("target tracking") { return "TT" }
        if name.hasPrefix("KEDA") { return "KEDA" }
        if name.hasPrefix("fixed") { return "fixed" }
        return name
    }
}

/// The demo's closing lines: our figures against the goals, stated plainly either way.
enum Verdict {
    static func lines(_ results: [SimulationResult], routing: QueueRouting) -> [String] {
        guard let ours = results.first(where: { $0.autoscaler == "redash-autoscaler" }),
              let ourWait = ours.queue(routing.adhoc)?.wait.p95 else { return [] }
        var lines: [String] = []
        for other in results where !other.autoscaler.hasPrefix("redash-autoscaler") {
            guard let theirWait = other.queue(routing.adhoc)?.wait.p95 else { continue }
            let ratio = theirWait > 0 ? ourWait / theirWait : 0
            lines.append("vs \(other.autoscaler): p95 adhoc wait \(String(format: "%.0f", ourWait))s vs \(String(format: "%.0f", theirWait))s (\(String(format: "%.2f", ratio))×), task-hours \(String(format: "%.1f", ours.totals.taskHours)) vs \(String(format: "%.1f", other.totals.taskHours)) (\(dollars(ours.totals.cost)) vs \(dollars(other.totals.cost))), queries killed \(ours.totals.killed) vs \(other.totals.killed)")
        }
        return lines
    }
}
