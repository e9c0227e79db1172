import AWSClient
import AWSTestSupport
import AutoscalerCore
import Foundation
import IntegrationSupport
import PostgresClient
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The failover tests' tools: a recording, fault-injecting proxy between each controller and
/// moto, a TCP proxy that cuts one controller off PostgreSQL, the leader gauges of both
/// controllers sampled together, and the PostgreSQL backends that serve one process.

let faultProxyScript = Repository.root.appendingPathComponent("Tests/ControllerTests/Python/fault_proxy.py").path

/// One request a moto proxy saw. Times are Unix seconds, comparable with `Date()` here.
struct ProxyRecord: Decodable, Sendable, CustomStringConvertible {
    var label: String
    var target: String
    var service: String?
    var desiredCount: Int?
    var received: Double
    var held: Bool
    /// When it was sent on to moto; `nil` while held, or when it never was.
    var forwarded: Double?
    var answered: Double?
    var status: Int?
    /// When its client hung up while it was held (it was then never forwarded).
    var dropped: Double?

    var description: String {
        let fate = forwarded.map { "forwarded at \(Self.clock($0)), status \(status.map(String.init) ?? "none")" }
            ?? dropped.map { "dropped at \(Self.clock($0)) (client gone)" } ?? "held"
        return "\(label) \(target) \(service ?? "") → \(desiredCount.map(String.init) ?? "?") received at \(Self.clock(received)), \(fate)"
    }

    static func clock(_ time: Double) -> String { String(format: "%.2f", time.truncatingRemainder(dividingBy: 1000)) }
}

/// fault_proxy.py's HTTP mode in front of moto, for one controller (`label`).
final class MotoProxy: Sendable {
    let label: String
    private let server: LocalHTTPServer

    static func start(upstream: String, label: String) async throws -> MotoProxy {
        MotoProxy(label: label, server: try await LocalHTTPServer.python(faultProxyScript, ["http", "--upstream", upstream, "--label", label]))
    }

    private init(label: String, server: LocalHTTPServer) {
        self.label = label
        self.server = server
    }

    var url: String { server.url }

    /// The requests for `target` (every request with `nil`) so far.
    func records(_ target: String? = "UpdateService") async throws -> [ProxyRecord] {
        let query = target.map { "?target=\($0)" } ?? ""
        let reply = try await AsyncHTTPTransport().send(method: "GET", url: url + "/_proxy/records" + query, headers: [], body: [], timeout: .seconds(5))
        return try JSONDecoder().decode([ProxyRecord].self, from: Data(reply.body))
    }

    /// Holds every request for `target` `seconds` before forwarding it (until `release()` with `nil`).
    func hold(_ target: String = "UpdateService", seconds: Double?) async throws {
        let json = "{\"target\": \"\(target)\", \"seconds\": \(seconds.map { String($0) } ?? "null")}"
        try await control("/_proxy/hold", json)
    }

    /// Forwards what is held now and holds nothing more.
    func release() async throws {
        try await control("/_proxy/release", "{}")
    }

    private func control(_ path: String, _ json: String) async throws {
        let reply = try await AsyncHTTPTransport().send(
            method: "POST", url: url + path, headers: [("Content-Type", "application/json")], body: Array(json.utf8), timeout: .seconds(5))
        guard reply.status == 200 else { throw HarnessError("\(path) answered \(reply.status)") }
    }
}

/// fault_proxy.py's TCP mode in front of PostgreSQL: `cut()` stops every byte, both ways, on
/// open and new connections alike, without closing anything; `restore()` lets them flow.
final class PostgresCut: Sendable {
    let port: Int
    private let process: ManagedProcess

    static func start(upstream: PostgresServer) async throws -> PostgresCut {
        let python = Repository.python
        let upstreamPort = upstream.port
        let (process, port) = try await offCooperativePool {
            try ManagedProcess.listening(timeout: 15) { port in
                try ManagedProcess(python, [faultProxyScript, "tcp", "--upstream", "127.0.0.1:\(upstreamPort)", "--port", String(port)])
            }
        }
        return PostgresCut(process: process, port: port)
    }

    private init(process: ManagedProcess, port: Int) {
        self.process = process
        self.port = port
    }

    /// `database`'s URL through this proxy.
    func url(of database: PostgresServer) -> String {
        "postgresql://postgres:\(database.password)@127.0.0.1:\(port)/postgres"
    }

    func cut() { process.signal(SIGUSR1) }
    func restore() { process.signal(SIGUSR2) }

    deinit { process.stopInBackground(grace: 1) }
}

/// moto, Redis and PostgreSQL, with a moto proxy for each of two controllers (A and B).
struct FailoverWorld {
    let world: ControllerWorld
    let database: PostgresServer
    let proxyA: MotoProxy
    let proxyB: MotoProxy
    /// The test's own connection, opened before any fault (a cut or a stopped server must not
    /// keep the test from reading the leader row).
    let admin: PostgresConnection

    static let services = ["redash-adhoc-worker", "redash-scheduled-worker"]

    static func make() async throws -> FailoverWorld {
        async let world = ControllerWorld.make(services: services)
        async let database = PostgresServer.start()
        let (started, server) = try await (world, database)
        async let proxyA = MotoProxy.start(upstream: started.moto.url, label: "A")
        async let proxyB = MotoProxy.start(upstream: started.moto.url, label: "B")
        let admin = try await PostgresConnection.connect(url: SecretURL(server.url))
        return FailoverWorld(world: started, database: server, proxyA: try await proxyA, proxyB: try await proxyB, admin: admin)
    }

    /// The policy of both controllers, with the database at `databaseURL` (the server itself
    /// unless given). The scheduled service is pinned at the count moto starts it with, so that
    /// every write in a test is the queries service's, caused by the jobs the test enqueues.
    func policy(databaseURL: String? = nil) -> String {
        """
        cluster: redash
        interval: 1s
        redis:
          url: ${REDIS_URL}
          layout: rq
        defaults:
          scaleDown:
            stabilizationWindow: 4s
            maxStep: 4
            cooldown: 0s
          staleAfter: 10s
        services:
          redash-adhoc-worker:
            queues: [queries]
            minTasks: 1
            maxTasks: 4
            workersPerTask: 1
          redash-scheduled-worker:
            queues: [scheduled_queries]
            minTasks: 2
            maxTasks: 2
            workersPerTask: 1
        database: \(databaseURL ?? database.url)
        """
    }

    /// The cluster's lease row: when it was taken (Unix time) and its generation. Leases are
    /// per cluster since schema 4 (`scope`); the row of scope '' is the old single lease.
    static let leaseSQL = """
        SELECT extract(epoch FROM acquired_at)::float8 AS at, generation FROM redash_autoscaler.leader
        WHERE scope <> '' ORDER BY acquired_at DESC LIMIT 1
        """

    /// Starts controller A, which takes the lease, and controller B, which stands by, each
    /// talking to moto through its own proxy; returns once A is past its takeover guard, a
    /// leader that may write.
    func startPair(databaseURLOfA: String? = nil) async throws -> (a: ControllerProcess, b: ControllerProcess) {
        let a = try await ControllerProcess.start(
            policy: policy(databaseURL: databaseURLOfA), environment: world.environment(extra: ["AWS_ENDPOINT_URL": proxyA.url]))
        guard await eventually(timeout: 20, { await a.leaderGauge() == 1 }) else {
            throw HarnessError("controller A did not take the lease:\n\(a.process.output.suffix(3000))")
        }
        let taken = try await admin.query(Self.leaseSQL)
        let b = try await ControllerProcess.start(policy: policy(), environment: world.environment(extra: ["AWS_ENDPOINT_URL": proxyB.url]))
        guard await eventually(timeout: 20, { await b.leaderGauge() == 0 }) else {
            throw HarnessError("controller B did not stand by:\n\(b.process.output.suffix(3000))")
        }
        // The guard (6 s from taking the lease) is a timer inside A that nothing shows.
        let guardEnds = (taken[0, "at"]?.double ?? 0) + 6.5
        let rest = guardEnds - Date().timeIntervalSince1970
        if rest > 0 { try await Task.sleep(for: .milliseconds(Int(rest * 1000))) }
        return (a, b)
    }

    /// The UpdateService requests of both controllers.
    func writes() async throws -> (a: [ProxyRecord], b: [ProxyRecord]) {
        (try await proxyA.records(), try await proxyB.records())
    }

    /// Empties a queue with RQ itself (the jobs were never run).
    func emptyQueue(_ queue: String) async throws {
        try await ManagedProcess.run(Repository.python, ["-c", """
            import sys
            from redis import Redis
            from rq import Queue
            Queue(sys.argv[2], connection=Redis.from_url(sys.argv[1])).empty()
            """, world.redis.url, queue])
    }
}

extension ControllerProcess {
    /// `/metrics`, or `nil` when no answer came within `timeout` (a stopped process).
    func metricsText(timeout: Double = 1) async -> String? {
        guard let reply = try? await AsyncHTTPTransport().send(
            method: "GET", url: "http://127.0.0.1:\(port)/metrics", headers: [], body: [], timeout: .milliseconds(Int(timeout * 1000))),
            reply.status == 200 else { return nil }
        return reply.text
    }

    /// The sum of every series of `name` in `/metrics`, or `nil` when it has none or no answer came.
    func metric(_ name: String, timeout: Double = 1) async -> Double? {
        guard let text = await metricsText(timeout: timeout) else { return nil }
        return metricValue(name, in: text)
    }

    /// `redash_autoscaler_leader`, or `nil` without an answer.
    func leaderGauge(timeout: Double = 1) async -> Double? {
        await metric("redash_autoscaler_leader", timeout: timeout)
    }

    /// Reconciles so far, whatever their outcome.
    func reconciles(timeout: Double = 2) async -> Double? {
        await metric("redash_autoscaler_reconciles_total", timeout: timeout)
    }

    /// Whether a log line's message starts with `prefix`.
    func logged(_ prefix: String) -> Bool {
        logLines.contains { $0["message"]?.hasPrefix(prefix) == true }
    }

    /// SIGTERM, then how long the process took to exit (`nil` when it had not within `limit`).
    func terminate(limit: Double = 40) async -> Double? {
        let start = Date()
        process.signal(SIGTERM)
        guard await eventually(timeout: limit, interval: 0.05, { !process.isRunning }) else { return nil }
        return Date().timeIntervalSince(start)
    }
}

/// The leader gauges and reconcile counts of several controllers, read together every ~200 ms.
final class LeaderSamples: Sendable {
    struct Round: Sendable {
        /// When the round's answers were in.
        var at: Date
        /// Each controller's `redash_autoscaler_leader`; `nil` without an answer within a
        /// second (stopped, dead).
        var leader: [Double?]
        /// Each controller's reconciles so far (any outcome).
        var ticks: [Double?]
    }

    private let rounds = Mutex<[Round]>([])

    fileprivate func append(_ round: Round) { rounds.withLock { $0.append(round) } }

    var all: [Round] { rounds.withLock { $0 } }

    /// Rounds in which more than one controller said it leads.
    var overlaps: [Round] { all.filter { $0.leader.filter { $0 == 1 }.count > 1 } }

    /// When controller `index` was first seen leading after `start`.
    func firstLead(_ index: Int, after start: Date) -> Date? {
        all.first { $0.at > start && $0.leader[index] == 1 }?.at
    }

    /// The longest time controller `index` went without finishing a reconcile, between `start`
    /// and `end`: from its last count before a new one to the round that showed the new one.
    func longestStall(_ index: Int, from start: Date, to end: Date) -> Double {
        var last: (count: Double, at: Date)?
        var longest = 0.0
        for round in all where round.at >= start && round.at <= end {
            guard let count = round.ticks[index] else { continue }
            if let previous = last, count > previous.count {
                longest = max(longest, round.at.timeIntervalSince(previous.at))
                last = (count, round.at)
            } else if last == nil {
                last = (count, round.at)
            }
        }
        if let previous = last { longest = max(longest, end.timeIntervalSince(previous.at)) }
        return longest
    }

    /// A readable account of the overlaps, for a failure message.
    func describeOverlaps(since start: Date) -> String {
        let overlaps = self.overlaps
        guard let first = overlaps.first, let last = overlaps.last else { return "none" }
        return "\(overlaps.count) of \(all.count) rounds, from \(String(format: "%.1f", first.at.timeIntervalSince(start))) s "
            + "to \(String(format: "%.1f", last.at.timeIntervalSince(start))) s after the fault"
    }
}

/// Runs `body` while the leader gauges and reconcile counts of `controllers` are sampled
/// together, every ~200 ms.
func withLeaderSampling<T: Sendable>(
    _ controllers: [ControllerProcess], _ body: (LeaderSamples) async throws -> T
) async throws -> T {
    let samples = LeaderSamples()
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            while !Task.isCancelled {
                let texts = await withTaskGroup(of: (Int, String?).self) { round in
                    for (index, controller) in controllers.enumerated() {
                        round.addTask { (index, await controller.metricsText(timeout: 1)) }
                    }
                    var texts = [String?](repeating: nil, count: controllers.count)
                    for await (index, text) in round { texts[index] = text }
                    return texts
                }
                samples.append(.init(
                    at: Date(), leader: texts.map { $0.flatMap { metricValue("redash_autoscaler_leader", in: $0) } },
                    ticks: texts.map { $0.flatMap { metricValue("redash_autoscaler_reconciles_total", in: $0) } }))
                try? await Task.sleep(for: .milliseconds(200))
            }
            return nil
        }
        let result = try await body(samples)
        group.cancelAll()
        return result
    }
}

/// The sum of every series of `name` in a Prometheus text exposition; `nil` when it has none.
func metricValue(_ name: String, in text: String) -> Double? {
    let values = text.split(separator: "\n").filter { $0.hasPrefix(name + " ") || $0.hasPrefix(name + "{") }
        .compactMap { Double($0.split(separator: " ").last ?? "") }
    return values.isEmpty ? nil : values.reduce(0, +)
}

/// The PostgreSQL backends that serve connections of one local process.
enum PostgresBackends {
    /// The backend pids serving `process`'s connections named `applicationName`: the
    /// backends' client ports (pg_stat_activity) matched with the process's own sockets
    /// (/proc/PID/fd and /proc/net/tcp).
    static func serving(_ process: pid_t, applicationName: String, admin: PostgresConnection) async throws -> [Int] {
        let rows = try await admin.query(
            "SELECT pid, client_port FROM pg_stat_activity WHERE application_name = $1", [applicationName])
        let ports = Set(try localPorts(of: process))
        return (0..<rows.rows.count).compactMap { index in
            guard let pid = rows[index, "pid"]?.int, let port = rows[index, "client_port"]?.int, ports.contains(port) else { return nil }
            return pid
        }
    }

    /// The local TCP ports of `process`'s sockets.
    static func localPorts(of process: pid_t) throws -> [Int] {
        let directory = "/proc/\(process)/fd"
        let inodes = Set(try FileManager.default.contentsOfDirectory(atPath: directory).compactMap { entry -> String? in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(entry)"),
                  target.hasPrefix("socket:[") else { return nil }
            return String(target.dropFirst("socket:[".count).dropLast())
        })
        // Read to the end: procfs reports a size of 0, and a read by size stops at the first page.
        guard let file = FileHandle(forReadingAtPath: "/proc/net/tcp") else { throw HarnessError("cannot read /proc/net/tcp") }
        defer { try? file.close() }
        let table = String(decoding: try file.readToEnd() ?? Data(), as: UTF8.self)
        return table.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 9, inodes.contains(String(fields[9])),
                  let port = fields[1].split(separator: ":").last.flatMap({ Int($0, radix: 16) }) else { return nil }
            return port
        }
    }
}

/// Seconds from `start` to a Unix time, for the printed figures.
func seconds(from start: Date, to time: Double) -> Double {
    time - start.timeIntervalSince1970
}

func figure(_ value: Double) -> String { String(format: "%.1f s", value) }
