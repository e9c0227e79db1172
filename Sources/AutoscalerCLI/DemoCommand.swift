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
        let (policy, origin) = try PolicySource.load(options, environment: environment, allowEmbedded: true)
        let scenario = Scenario.seedOverload
        let run = try SimulationRun.prepare(policy: policy, scenario: scenario.name, trace: nil, seed: seed)
        guard let adhoc = run.adhocService(in: policy) else { throw ValidationError("no service consumes `queries`") }
        print("""
            redash-autoscaler demo: \(scenario.summary).
            Policy: \(origin). Simulated on this machine: no network, no AWS, no Redash.
            Each row is half an hour of \(adhoc.name) under redash-autoscaler: jobs waiting and running,
            tasks desired/running (each task runs \(adhoc.workersPerTask) queries at once), and what the baselines ran.

            """)
        let results = Comparison.run(policy: policy, workload: run.workload, scenario: scenario.name, seed: seed)
        let paced = !fast && isatty(STDOUT_FILENO) == 1
        LiveView.replay(results, service: adhoc.name, start: run.workload.start, utcOffset: scenario.utcOffset, paced: paced)

        print("\nSide by side on the same seeded day (waits in queue; task-hours are what Fargate bills):\n")
        print(Comparison.table(results, routing: run.routing))
        print("")
        print(Verdict.lines(results, routing: run.routing).joined(separator: "\n"))
        let chartPath = chart ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("redash-autoscaler-demo.svg")
        try run.writeChart(results, policy: policy, to: chartPath)
        print("\nChart (one panel per autoscaler): \(chartPath)")
        print("Try: redash-autoscaler simulate --scenario scheduled-burst --compare")
    }
}

/// The half-hourly rows of the demo.
enum LiveView {
    static func replay(_ results: [SimulationResult], service: String, start: Instant, utcOffset: Duration, paced: Bool) {
        guard let ours = results.first else { return }
        let others = results.dropFirst().filter { !$0.autoscaler.hasPrefix("redash-autoscaler") }
        let header = "  time   waiting  running  tasks   " + others.map { short($0.autoscaler) }.joined(separator: "  ")
        print(header)
        for sample in ours.timeline where Int(sample.time) % 1800 == 0 {
            guard let entry = sample.services.first(where: { $0.name == service }) else { continue }
            let local = CivilTime(start + .seconds(sample.time), utcOffset: utcOffset)
            let clock = (local.hour < 10 ? "0" : "") + "\(local.hour):" + (local.minute < 10 ? "0" : "") + "\(local.minute)"
            var row = "  \(clock)  " + "\(entry.pending)".leftPadded(7) + "  " + "\(entry.running)".leftPadded(7)
                + "  " + "\(entry.desired)/\(entry.runningTasks)".leftPadded(5) + "   "
            for other in others {
                let theirs = other.timeline.first { $0.time == sample.time }?.services.first { $0.name == service }
                row += "\(theirs.map { "\($0.desired)" } ?? "-")".leftPadded(short(other.autoscaler).count) + "  "
            }
            row += String(repeating: "█", count: min(40, entry.pending)) + String(repeating: "▒", count: min(40, entry.running))
            print(row)
            if paced { Thread.sleep(forTimeInterval: 0.25) }
        }
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
            lines.append("vs \(other.autoscaler): p95 adhoc wait \(String(format: "%.0f", ourWait))s vs \(String(format: "%.0f", theirWait))s (\(String(format: "%.2f", ratio))×), task-hours \(String(format: "%.1f", ours.totals.taskHours)) vs \(String(format: "%.1f", other.totals.taskHours)), queries killed \(ours.totals.killed) vs \(other.totals.killed)")
        }
        return lines
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        String(repeating: " ", count: max(0, width - count)) + self
    }
}
