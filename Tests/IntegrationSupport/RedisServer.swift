import Foundation

/// A real `redis-server` on 127.0.0.1 for one test, optionally with a password, an ACL user or
/// TLS (certificates made with openssl at test time). Stopped when released.
// Every stored property is set once in init and only read afterwards; the process is stopped in
// deinit. Unchecked because ManagedProcess's lock is not visible to the compiler.
public final class RedisServer: @unchecked Sendable {
    public let port: Int
    public let password: String?
    public let tls: TLSMaterial?
    private let process: ManagedProcess
    private let directory: URL

    /// Certificates for a TLS server: a CA and a server certificate for 127.0.0.1/localhost.
    public struct TLSMaterial: Sendable {
        public var caFile: String
        public var certificateFile: String
        public var keyFile: String

        /// Makes a throwaway CA and server certificate with openssl.
        public static func make(in directory: URL) throws -> TLSMaterial {
            let path = { (name: String) in directory.appendingPathComponent(name).path }
            try ManagedProcess.runBlocking("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-subj", "/CN=redash-autoscaler test CA", "-keyout", path("ca.key"), "-out", path("ca.pem")])
            try ManagedProcess.runBlocking("/usr/bin/openssl", ["req", "-newkey", "rsa:2048", "-nodes",
                "-subj", "/CN=localhost", "-keyout", path("server.key"), "-out", path("server.csr")])
            try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: path("san.ext"), atomically: true, encoding: .utf8)
            try ManagedProcess.runBlocking("/usr/bin/openssl", ["x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"),
                "-CAkey", path("ca.key"), "-CAcreateserial", "-days", "1", "-extfile", path("san.ext"), "-out", path("server.pem")])
            return TLSMaterial(caFile: path("ca.pem"), certificateFile: path("server.pem"), keyFile: path("server.key"))
        }
    }

    /// Starts a server and waits until it accepts connections. A port picked as free can be
    /// taken by another test before redis-server binds it, so a failed bind is retried on a new one.
    public init(password: String? = nil, aclUser: (name: String, password: String)? = nil, tls: Bool = false, port fixedPort: Int? = nil) throws {
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.password = password
        self.tls = tls ? try TLSMaterial.make(in: directory) : nil
        let directory = directory
        (process, port) = try ManagedProcess.listening(timeout: 10, port: fixedPort) { [tls = self.tls] port in
            // protected-mode off: the ECS lab's tasks connect from 127.0.0.x, which protected mode
            // refuses (it trusts 127.0.0.1 only); the server still listens on 127.0.0.1 alone.
            var arguments = ["--bind", "127.0.0.1", "--protected-mode", "no", "--save", "", "--appendonly", "no", "--dir", directory.path, "--databases", "16"]
            if let material = tls {
                arguments += ["--port", "0", "--tls-port", String(port), "--tls-cert-file", material.certificateFile,
                              "--tls-key-file", material.keyFile, "--tls-ca-cert-file", material.caFile, "--tls-auth-clients", "no"]
            } else {
                arguments += ["--port", String(port)]
            }
            if let password { arguments += ["--requirepass", password] }
            if let aclUser { arguments += ["--user", aclUser.name, "on", ">\(aclUser.password)", "~*", "&*", "+@all"] }
            return try ManagedProcess("/usr/bin/redis-server", arguments)
        }
    }

    /// Starts a server off the cooperative pool (see `offCooperativePool`).
    /// `port` restarts a server where a stopped one was (the client under test keeps its URL).
    public static func start(password: String? = nil, aclUser: (name: String, password: String)? = nil, tls: Bool = false, port: Int? = nil) async throws -> RedisServer {
        let acl = aclUser.map { [$0.name, $0.password] }
        return try await offCooperativePool {
            try RedisServer(password: password, aclUser: acl.map { (name: $0[0], password: $0[1]) }, tls: tls, port: port)
        }
    }

    /// A URL for this server (with the password when it has one).
    public var url: String {
        let scheme = tls == nil ? "redis" : "rediss"
        let credentials = password.map { ":\($0)@" } ?? ""
        return "\(scheme)://\(credentials)127.0.0.1:\(port)/0"
    }

    /// Runs `redis-cli` against this server (plain TCP servers only).
    @discardableResult
    public func cli(_ arguments: [String]) async throws -> String {
        var base = ["-h", "127.0.0.1", "-p", String(port)]
        if let password { base += ["--no-auth-warning", "-a", password] }
        return try await ManagedProcess.run("/usr/bin/redis-cli", base + arguments)
    }

    /// Stops the server now, SIGKILL and reaped before it returns (a Redis outage in a test).
    public func stop() {
        process.killNow()
    }

    deinit {
        let directory = self.directory
        process.stopInBackground(grace: 2) { try? FileManager.default.removeItem(at: directory) }
    }
}
