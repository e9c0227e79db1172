import Foundation

/// A Python HTTP server on 127.0.0.1 for one test: moto's server mode, or the AWS stand-ins of
/// `Tests/AWSClientTests/Python/aws_lab.py`. Stopped when released.
// Every stored property is set once in init; the process is stopped in deinit.
public final class LocalHTTPServer: @unchecked Sendable {
    public let port: Int
    private let process: ManagedProcess

    /// Starts `executable arguments…` with `{port}` in the arguments replaced by a free port, and
    /// waits until it accepts connections (retrying on a new port when the chosen one was taken).
    /// 60 s: moto's server took over 30 s to listen once in a loaded clean-clone parallel pass;
    /// the wait ends as soon as it listens.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], startTimeout: Double = 60, port fixedPort: Int? = nil) throws {
        (process, port) = try ManagedProcess.listening(timeout: startTimeout, port: fixedPort) { port in
            try ManagedProcess(executable, arguments.map { $0.replacingOccurrences(of: "{port}", with: String(port)) }, environment: environment)
        }
    }

    /// moto's server mode with IAM authentication on after the first `freeActions` requests.
    /// Services are created with their deployment COMPLETED (`MOTO_ECS_SERVICE_RUNNING`):
    /// otherwise moto leaves every rollout IN_PROGRESS forever, and the controller rightly never
    /// scales in during a deployment.
    /// `port` starts it where a stopped one was (an endpoint that comes back, in a test).
    public static func moto(freeActions: Int = 4, port: Int? = nil) async throws -> LocalHTTPServer {
        let binary = try Repository.venvBinary("moto_server")
        return try await offCooperativePool {
            try LocalHTTPServer(binary, ["-H", "127.0.0.1", "-p", "{port}"], environment: [
                "INITIAL_NO_AUTH_ACTION_COUNT": String(freeActions), "MOTO_ECS_SERVICE_RUNNING": "100",
            ], port: port)
        }
    }

    /// Stops the server now, SIGKILL and reaped before it returns (an outage in a test).
    public func stop() {
        process.killNow()
    }

    /// A Python script serving on `--port {port}`.
    public static func python(_ script: String, _ arguments: [String]) async throws -> LocalHTTPServer {
        let python = Repository.python
        return try await offCooperativePool {
            try LocalHTTPServer(python, [script] + arguments + ["--port", "{port}"])
        }
    }

    public var url: String { "http://127.0.0.1:\(port)" }

    public var output: String { process.output }

    deinit { process.stopInBackground(grace: 1) }
}

extension ManagedProcess {
    /// Starts a server with `start(port)` on a free port and waits until it accepts connections.
    /// A port picked as free can be taken by another test before the server binds it, so a
    /// failed bind ("in use") is retried on a new port.
    /// With `port`, only that port is tried.
    public static func listening(timeout: Double, port fixedPort: Int? = nil, _ start: (Int) throws -> ManagedProcess) throws -> (ManagedProcess, Int) {
        var attempt = 0
        while true {
            attempt += 1
            let port = try fixedPort ?? Ports.free()
            let process = try start(port)
            let deadline = Date().addingTimeInterval(timeout)
            while !Ports.isOpen(port) && process.isRunning && Date() < deadline { usleep(20_000) }
            if Ports.isOpen(port) && process.isRunning { return (process, port) }
            process.stop()
            if attempt >= 5 || fixedPort != nil || !process.output.contains("in use") {
                throw HarnessError("\(process.commandLine) did not start on \(port):\n\(process.output)")
            }
        }
    }
}
