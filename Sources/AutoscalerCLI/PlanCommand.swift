import ArgumentParser
import AutoscalerCore
import Controller
import Foundation
import Logging
import RedashMetadata
import SystemClock

/// `redash-autoscaler plan`: one reconcile in dry-run, as a table or JSON.
public struct PlanCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Read every signal once and show what the controller would do, changing nothing.",
        discussion: "Reads Redis, ECS and (when the policy has one) the database, exactly as `run` does. Exits 1 when Redis or ECS could not be read."
    )

    @OptionGroup public var options: PolicyOptions
    @OptionGroup public var aws: AWSOptions

    @Flag(help: "Print one JSON object instead of a table.")
    public var json = false

    @OptionGroup public var logging: LoggingOptions

    public init() {}

    public func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let (policy, _) = try await PolicySource.load(options, environment: environment, allowEmbedded: false, aws: aws)
        let logger = logging.logger("redash-autoscaler.plan")
        let setup: ControllerSetup
        do {
            setup = try await ControllerSetup.make(policy: policy, mode: .dryRun, aws: aws, environment: environment, metrics: MetricsRegistry(), logger: logger)
        } catch {
            throw ValidationError("\(error)")
        }
        // The forecast first (bounded), as `run` does before its first tick: both then decide
        // from the same inputs.
        var forecastNote: String?
        if let metadata = setup.metadata, await !metadata.waitForFirstLoad(limit: ControllerSetup.firstForecastWait) {
            let problem = await metadata.problem
            forecastNote = "the scheduled-query forecast is not loaded (\(problem ?? "Redash's database did not answer within \(ControllerSetup.firstForecastWait)")): this plan has no predicted demand"
        }
        let report = await setup.reconciler.reconcile(now: WallClock.now())
        await setup.close()
        if json {
            var object = PlanRendering.object(report)
            if let forecastNote { object["forecastNotLoaded"] = forecastNote }
            print(JSONOutput.render(object))
        } else {
            print(PlanRendering.text(report) + (forecastNote.map { "\nnote: \($0)" } ?? ""))
        }
        if !report.succeeded { throw ExitCode(1) }
    }
}
