import AWSClient
import AWSTestSupport
import Foundation
import IntegrationSupport
import Testing

/// What a reliability tester did to the HTTP port: 1,069 idle connections at the default file
/// limit took the controller to 100 % CPU, `/status` stopped answering, Redis and ECS connections
/// failed with "Too many open files", and no reconcile ran for a minute and a half.
@Suite("HTTP port under a flood", .serialized)
struct HTTPFloodTests {
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
}
