import AWSClient
import AWSTestSupport
import Foundation
import IntegrationSupport
import Testing

/// What a Redis writer can store where the controller reads, against the real binary and a real
/// redis-server: a reliability tester grew its memory from 57 to 402 MB with a million-field
/// `unacked`, and by 200 MB with one Celery message or one RQ job id. Each must now cost the
/// controller under 10 MB, make that reading unavailable with its reason, and change no count.
@Suite("Bounded Redis reads", .testThreads, .serialized)
struct BoundedReadsTests {
    /// The controller's resident memory, KiB.
    static func rss(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// The most RSS seen over `seconds`, sampled every 100 ms.
    static func peakRSS(_ pid: Int32, over seconds: Double) async throws -> Int {
        var peak = 0
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            peak = max(peak, rss(pid))
            try await Task.sleep(for: .milliseconds(100))
        }
        return peak
    }

    /// Runs Python with redis-py against `url`: `script` sees `r`, a client.
    static func redis(_ url: String, _ script: String) async throws {
        _ = try await ManagedProcess.run(Repository.python, ["-c", "import redis, sys\nr = redis.Redis.from_url(sys.argv[1])\n" + script, url], timeout: 180)
    }

    static func policy(layout: String) -> String {
        """
        cluster: redash
        interval: 1s
        redis:
          url: ${REDIS_URL}
          layout: \(layout)
        services:
          redash-adhoc-worker:
            queues: [queries]
            minTasks: 1
            maxTasks: 3
            workersPerTask: 1
        """
    }

    /// Starts the controller in dry-run, lets it settle, stores what `poison` writes, and
    /// returns the memory before and after, and `/status` after.
    static func measure(layout: String, poison: String) async throws -> (before: Int, after: Int, status: String, output: String) {
        let world = try await ControllerWorld.make(services: ["redash-adhoc-worker"])
        let controller = try await ControllerProcess.start(policy: policy(layout: layout), environment: world.environment(), arguments: ["--dry-run"])
        #expect(await eventually(timeout: 30) { (try? await controller.get("/readyz").status) == 200 })
        // Settled: a few ticks, the page and /status rendered once.
        _ = try? await controller.get("/")
        _ = try? await controller.get("/status")
        let before = try await peakRSS(controller.process.pid, over: 4)
        try await redis(world.redis.url, poison)
        let after = try await peakRSS(controller.process.pid, over: 10)
        let status = try await controller.get("/status").text
        #expect(controller.process.isRunning)
        return (before, after, status, controller.output)
    }

    @Test("an unacked hash of a million fields: its size is read, never its fields")
    func millionFieldUnacked() async throws {
        let poison = """
            p = r.pipeline(transaction=False)
            for i in range(100):
                p.hset('unacked', mapping={f'tag-{i}-{j}': 'x' for j in range(10000)})
            p.execute()
            """
        let result = try await Self.measure(layout: "celery", poison: poison)
        let grown = result.after - result.before
        print("bounded reads, 1M-field unacked: RSS \(result.before) → \(result.after) KiB (+\(grown))")
        #expect(grown < 10 * 1024, "RSS grew \(grown) KiB")
        #expect(result.status.contains("unacked holds 1000000 messages"), "\(result.status.prefix(2000))")
    }

    @Test("a Celery message of 200 MB: streamed past, the queue's reading unavailable with the reason")
    func hugeCeleryMessage() async throws {
        let result = try await Self.measure(layout: "celery", poison: "r.rpush('queries', b'x' * (200 * 1024 * 1024))")
        let grown = result.after - result.before
        print("bounded reads, 200 MB Celery message: RSS \(result.before) → \(result.after) KiB (+\(grown))")
        #expect(grown < 10 * 1024, "RSS grew \(grown) KiB")
        #expect(result.status.contains("OVERSIZED a value of 209715200 bytes"), "\(result.status.prefix(2000))")
    }

    @Test("an RQ job id of 200 MB: streamed past, the queue's reading unavailable with the reason")
    func hugeJobID() async throws {
        let result = try await Self.measure(layout: "rq", poison: "r.rpush('rq:queue:queries', b'j' * (200 * 1024 * 1024)); r.sadd('rq:queues', 'rq:queue:queries')")
        let grown = result.after - result.before
        print("bounded reads, 200 MB RQ job id: RSS \(result.before) → \(result.after) KiB (+\(grown))")
        #expect(grown < 10 * 1024, "RSS grew \(grown) KiB")
        #expect(result.status.contains("OVERSIZED a value of 209715200 bytes"), "\(result.status.prefix(2000))")
    }
}
