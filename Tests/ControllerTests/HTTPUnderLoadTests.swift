import AWSClient
import AWSTestSupport
@testable import AutoscalerCLI
import AutoscalerCore
import Controller
import Foundation
import IntegrationSupport
import ServiceLifecycle
import Synchronization
import SystemClock
import TestSupport
import Testing

/// What a reliability tester did to the endpoints, at 200 services ticking every second with a
/// full three-hour history: one `GET /` cost 3.5 CPU-seconds and four clients fetching it stopped
/// reconciling for 8 minutes; 64 sockets trickling a body or a keep-alive GET every 10 s failed
/// every health check. Here the same clients run for 30 s against the controller's own routes
/// and loop, and the loop must stay on time while every health probe answers.
///
/// And before that (the flood test below): 1,069 idle connections at the default file limit
/// took the controller to 100 % CPU, `/status` stopped answering, Redis and ECS connections
/// failed with "Too many open files", and no reconcile ran for a minute and a half.
///
/// Needs real time (the loop's interval, the clients' pace) and the machine to itself: in the
/// serial pass (scripts/test.sh says why).
@Suite("HTTP under load", .testThreads, .serialized)
struct HTTPUnderLoadTests {
    /// Opens a TCP connection to 127.0.0.1:`port` and returns its descriptor, or -1.
    static func connect(_ port: Int) -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return -1 }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result != 0 {
            close(socket)
            return -1
        }
        return socket
    }

    static func reconciles(_ metrics: String) -> Double {
        metrics.split(separator: "\n").filter { $0.hasPrefix("redash_autoscaler_reconciles_total{") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
    }

    @Test("1,000 idle connections and a slowloris: the controller keeps reconciling, its descriptors stay few, and it answers afterwards")
    func flood() async throws {
        // This test opens a thousand sockets itself.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = min(limit.rlim_max, 8192)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)

        let world = try await ControllerWorld.make(services: ["redash-adhoc-worker", "redash-scheduled-worker"])
        let controller = try await ControllerProcess.start(policy: testPolicy(), environment: world.environment())
        #expect(await eventually(timeout: 15) { (try? await controller.get("/readyz").status) == 200 })
        let before = Self.reconciles(try await controller.get("/metrics").text)
        let started = Date()

        // A thousand connections that never send a byte, and twenty that send a byte a second.
        var idle: [Int32] = []
        for _ in 0..<1000 { idle.append(Self.connect(controller.port)) }
        var slow: [Int32] = []
        for _ in 0..<20 { slow.append(Self.connect(controller.port)) }
        for second in 0..<10 {
            for socket in slow where socket >= 0 { _ = "G".withCString { write(socket, $0, 1) } }
            if second == 5 {
                let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(controller.process.pid)/fd").count) ?? -1
                #expect(descriptors > 0 && descriptors < 300, "the controller holds \(descriptors) descriptors")
            }
            try await Task.sleep(for: .seconds(1))
        }
        #expect(controller.process.isRunning)
        // Every idle and slow connection has been closed by the controller (the head timeout).
        let stillOpen = idle.filter { socket in
            guard socket >= 0 else { return false }
            var byte: UInt8 = 0
            return recv(socket, &byte, 1, Int32(MSG_DONTWAIT)) < 0 && errno == EAGAIN
        }.count
        #expect(stillOpen == 0, "\(stillOpen) idle connections were never closed")
        for socket in idle + slow where socket >= 0 { close(socket) }

        // It answers, and it kept reconciling all along (interval 1 s).
        let metrics = try await controller.get("/metrics").text
        let elapsed = Date().timeIntervalSince(started)
        let ticks = Self.reconciles(metrics) - before
        #expect(ticks >= elapsed * 0.6, "\(ticks) reconciles in \(elapsed) s")
        #expect(!controller.process.output.contains("Too many open files"))
    }

    static let services = 200

    static func policy() -> Policy {
        Policy(
            cluster: "redash", interval: .seconds(1), redis: RedisSettings(url: SecretURL("redis://127.0.0.1:1/0"), layout: .rq),
            services: (0..<services).map { index in
                ServicePolicy(name: "worker-\(index)", queues: ["queue-\(index)"], minTasks: 1, maxTasks: 20, workersPerTask: 2)
            })
    }

    @Test("a flood of / and 64 slow sockets at 200 services: every tick on time, every /healthz probe answered, the page rendered at most once a tick")
    func pageFlood() async throws {
        let queues = FakeQueues()
        let cluster = FakeCluster(Dictionary(uniqueKeysWithValues: (0..<Self.services).map { ("worker-\($0)", 1) }))
        let metrics = MetricsRegistry()
        let reconciler = ReconcilerTests.reconciler(queues: queues, cluster: cluster, policy: Self.policy(), metrics: metrics)

        // Three hours of history, one tick a minute (each fills one of the page's samples), with
        // bursts that make decisions.
        let end = WallClock.now()
        for minute in 0..<180 {
            for index in 0..<Self.services {
                let busy = (minute + index) % 30 < 6
                queues.set("queue-\(index)", pending: busy ? 12 + index % 7 : 0, running: busy ? 4 : 0, oldestAge: busy ? .seconds(40) : nil)
            }
            _ = await reconciler.reconcile(now: end - .seconds(Double(180 - minute) * 60))
        }
        let history = reconciler.history.snapshot()
        #expect(history.count == Self.services)
        #expect(history.allSatisfy { $0.samples.count <= SignalHistory.points + 1 })
        #expect(history.contains { $0.decisions.count >= 5 }, "the bursts made decisions")

        let routes = ControllerRoutes(reconciler: reconciler, metrics: metrics)
        let bound = HTTPEndpoints.BoundAddress()
        let endpoints = HTTPEndpoints(host: "127.0.0.1", port: 0, bound: bound, logger: ReconcilerTests.quiet) { path in await routes.answer(path) }
        let loop = ControllerLoop(
            reconciler: reconciler, policySource: nil, initialText: nil, environment: [:], metrics: metrics, logger: ReconcilerTests.quiet)
        let group = ServiceGroup(services: [loop, endpoints], logger: ReconcilerTests.quiet)
        let loopStarted = WallClock.now()
        let running = Task { try await group.run() }
        defer { running.cancel() }
        let port = try await bound.waitForPort()
        let listening = try #require(port)

        // The ticks, as the loop makes them: the time of each report.
        let ticks = Mutex<[Instant]>([])
        let watching = Task {
            while !Task.isCancelled {
                if let at = await reconciler.lastReport?.at {
                    ticks.withLock { if $0.last != at { $0.append(at) } }
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        defer { watching.cancel() }

        // Quiet first, to know the loop's own pace on this machine.
        try await Task.sleep(for: .seconds(8))
        let quiet = ticks.withLock { $0 }.filter { $0 >= loopStarted }
        let rendersBefore = await routes.page.renders
        let attackStarted = WallClock.now()
        let output = try await ManagedProcess.run(Repository.python, [HTTPEndpointsTests.clients, "attack", "\(listening)", "30"], timeout: 120)
        let attackEnded = WallClock.now()
        let rendersDuring = await routes.page.renders - rendersBefore
        let all = ticks.withLock { $0 }
        await group.triggerGracefulShutdown()

        let result = try #require(try JSONSerialization.jsonObject(with: Data((output.split(separator: "\n").last ?? "").utf8)) as? [String: Any])
        let probes = try #require(result["probes"] as? [[String: Any]])
        let failed = probes.filter { $0["outcome"] as? Int != 200 }
        let flood = try #require(result["flood"] as? [String: Any])
        #expect(probes.count >= 20, "\(probes.count) probes")
        #expect(failed.isEmpty, "\(failed.count) of \(probes.count) /healthz probes failed: \(failed.prefix(5))")
        let pages = flood["answers"] as? Int ?? 0
        #expect(pages >= 30, "the flood got \(pages) pages: the page must still be served")
        #expect((flood["bytes"] as? Int ?? 0) > 200_000, "a page of 200 services with their history: \(flood["bytes"] ?? 0) bytes")
        #expect((flood["bytes"] as? Int ?? 0) <= StatusPage.sizeLimit + 64 * 1024)

        // Ticks: as many during the attack as the quiet pace gives, none late.
        func gaps(_ ticks: [Instant]) -> [Double] { zip(ticks.dropFirst(), ticks).map { ($0 - $1).inSeconds } }
        let quietGap = gaps(quiet).max() ?? 1
        let during = all.filter { $0 >= attackStarted && $0 <= attackEnded }
        let attackGaps = gaps(during)
        let seconds = (attackEnded - attackStarted).inSeconds
        let quietPace = Double(quiet.count - 1) / max(1, ((quiet.last ?? attackStarted) - (quiet.first ?? attackStarted)).inSeconds)
        print("endpoints under attack: \(during.count) ticks in \(Int(seconds)) s (quiet pace \(String(format: "%.2f", quietPace))/s), largest gap \(String(format: "%.2f", attackGaps.max() ?? 0)) s (quiet \(String(format: "%.2f", quietGap)) s); \(probes.count) probes, \(failed.count) failed; \(pages) pages of \(flood["bytes"] ?? 0) bytes, \(rendersDuring) renders; \(result["slowConnections"] ?? 0) slow connections")
        #expect(Double(during.count) >= seconds * quietPace * 0.8, "\(during.count) ticks in \(seconds) s under attack (quiet pace \(quietPace)/s)")
        #expect((attackGaps.max() ?? 99) <= quietGap + 1.0, "a tick came \(attackGaps.max() ?? 99) s after the one before (quiet: \(quietGap) s)")
        // The page: rendered at most once a tick, however many were served.
        #expect(rendersDuring <= during.count + 1, "\(rendersDuring) renders for \(during.count) ticks and \(pages) pages served")
    }
}
