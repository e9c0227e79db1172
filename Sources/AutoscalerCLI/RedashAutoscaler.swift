import ArgumentParser

/// The `redash-autoscaler` command: a queue-driven autoscaler for Redash on ECS.
public struct RedashAutoscaler: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "redash-autoscaler",
        abstract: "Sizes Redash's ECS services from the depth and age of its queues.",
        version: BuildVersion.description,
        subcommands: [RunCommand.self, PlanCommand.self, HealthcheckCommand.self, HoldCommand.self, HistoryCommand.self, DemoCommand.self, ForecastCommand.self, QueuesCommand.self, ServicesCommand.self, SimulateCommand.self, ValidateCommand.self]
    )

    public init() {}
}

/// Where the policy is, shared by every subcommand that reads it.
public struct PolicyOptions: ParsableArguments {
    /// The policy location given on the command line, if any.
    @Option(name: .long, help: ArgumentHelp(
        "Where the policy is: a file (a path, or file:PATH), an SSM parameter (ssm:/NAME, or its ARN; a SecureString is decrypted), or a Secrets Manager secret (secretsmanager:NAME, or its ARN). Default: the YAML itself in $REDASH_AUTOSCALER_POLICY_YAML (never reloaded), else the location in $REDASH_AUTOSCALER_POLICIES, else policies.yaml. `run` reads a file or a parameter again while it runs.",
        valueName: "location"))
    public var policies: String?

    public init() {}

    /// `--policies`, else the environment variable, else `policies.yaml`: as written, a path or
    /// a `TextLocation`.
    public func resolvedPath(environment: [String: String]) -> String {
        PolicyPath.resolve(flag: policies, environment: environment)
    }
}
