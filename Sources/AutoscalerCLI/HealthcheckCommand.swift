import AWSClient
import ArgumentParser
import AutoscalerCore

/// `redash-autoscaler healthcheck`: the container health check, without curl in the image. It asks
/// the liveness endpoint by default: a restart cannot bring back Redis or ECS, so readiness
/// (`/readyz`) is for people and dashboards, not for ECS to act on.
public struct HealthcheckCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "healthcheck",
        abstract: "Exit 0 when the running controller's endpoint (default /healthz) answers 200, else 1 (for ECS container health checks)."
    )

    @Option(help: ArgumentHelp("The endpoint to ask.", valueName: "url"))
    public var url = "http://127.0.0.1:8080/healthz"

    public init() {}

    public func run() async throws {
        do {
            let reply = try await AsyncHTTPTransport().send(method: "GET", url: url, headers: [], body: [], timeout: .seconds(4))
            print("\(reply.status) \(reply.text.trimmingWhitespace)")
            if reply.status != 200 { throw ExitCode(1) }
        } catch let error as TransportError {
            print("unreachable: \(error)")
            throw ExitCode(1)
        }
    }
}
