import Foundation

/// A real PostgreSQL 15 on 127.0.0.1 for one test: initdb into a temporary directory with a
/// password (scram-sha-256), started with pg_ctl, stopped when released. As root it runs as the
/// `postgres` user (PostgreSQL refuses to run as root).
// Stored properties are set once in init; the server is stopped in deinit.
public final class PostgresServer: @unchecked Sendable {
    public let port: Int
    public let password = "pg-test-Pa55"
    private let directory: URL
    private static let binaries = "/usr/lib/postgresql/15/bin"

    public init() throws {
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let passwordFile = directory.appendingPathComponent("password").path
        try password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        if getuid() == 0 {
            try ManagedProcess.runBlocking("/bin/chown", ["-R", "postgres:postgres", directory.path])
        }
        try Self.run("initdb", ["-D", directory.appendingPathComponent("data").path, "-U", "postgres",
                                "-A", "scram-sha-256", "--pwfile", passwordFile, "--no-sync", "-E", "UTF8"])
        var attempt = 0
        while true {
            attempt += 1
            let candidate = try Ports.free()
            do {
                try Self.run("pg_ctl", Self.startArguments(directory, port: candidate))
                port = candidate
                return
            } catch {
                let log = (try? String(contentsOf: directory.appendingPathComponent("log"), encoding: .utf8)) ?? ""
                if attempt >= 5 || !log.contains("Address already in use") { throw error }
            }
        }
    }

    private static func startArguments(_ directory: URL, port: Int) -> [String] {
        ["-D", directory.appendingPathComponent("data").path, "-w", "-t", "30", "-l", directory.appendingPathComponent("log").path,
         "-o", "-p \(port) -k \(directory.path) -c listen_addresses=127.0.0.1 -c fsync=off", "start"]
    }

    /// Stops the server at once (an outage in a test); `startAgain` brings it back on its port.
    public func stop() async throws {
        let data = directory.appendingPathComponent("data").path
        try await offCooperativePool { try Self.run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]) }
    }

    /// Starts the stopped server again, on the same port and with the same data.
    public func startAgain() async throws {
        let (directory, port) = (directory, port)
        try await offCooperativePool { try Self.run("pg_ctl", Self.startArguments(directory, port: port)) }
    }

    /// Starts a server off the cooperative pool (initdb and pg_ctl block for seconds).
    public static func start() async throws -> PostgresServer {
        try await offCooperativePool { try PostgresServer() }
    }

    /// `postgresql://postgres:PASSWORD@127.0.0.1:PORT/postgres`.
    public var url: String { "postgresql://postgres:\(password)@127.0.0.1:\(port)/postgres" }

    private static func run(_ tool: String, _ arguments: [String]) throws {
        if getuid() == 0 {
            try ManagedProcess.runBlocking("/usr/sbin/runuser", ["-u", "postgres", "--", "\(binaries)/\(tool)"] + arguments, timeout: 120)
        } else {
            try ManagedProcess.runBlocking("\(binaries)/\(tool)", arguments, timeout: 120)
        }
    }

    deinit {
        // Off the cooperative pool: pg_ctl waits for the server to go (see ManagedProcess).
        let directory = self.directory
        Thread.detachNewThread {
            try? Self.run("pg_ctl", ["-D", directory.appendingPathComponent("data").path, "-m", "immediate", "stop"])
            try? FileManager.default.removeItem(at: directory)
        }
    }
}
