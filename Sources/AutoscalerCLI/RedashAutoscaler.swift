import ArgumentParser

/// The `redash-autoscaler` command: a queue-driven autoscaler for Redash on ECS.
public struct RedashAutoscaler: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "redash-autoscaler",
        abstract: "Sizes Redash's ECS services from the depth and age of its queues.",
        version: BuildVersion.description,
        subcommands: [RunCommand.self, PlanCommand.self, HealthcheckCommand.self, HoldCommand.self, DemoCommand.self, ForecastCommand.self, QueuesCommand.self, ServicesCommand.self, SimulateCommand.self, ValidateCommand.self]
    )

    public init() {}
}

/// Where the policy file is, shared by every subcommand that reads it.
public struct PolicyOptions: ParsableArguments {
    /// The policy path given on the command line, if any.
    @Option(name: .long, help: ArgumentHelp(
        "The policy file (default: $REDASH_AUTOSCALER_POLICIES, else policies.yaml).",
        valueName: "file"))
    public var policies: String?

    public init() {}

    /// `--policies`, else the environment variable, else `policies.yaml`.
    public func resolvedPath(environment: [String: String]) -> String {
        PolicyPath.resolve(flag: policies, environment: environment)
    }
}
