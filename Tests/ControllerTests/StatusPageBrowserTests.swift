@testable import AutoscalerCLI
import AutoscalerCore
import Controller
import Foundation
import IntegrationSupport
import Logging
import ServiceLifecycle
import SystemClock
import Testing
import TestSupport

/// The status page in a real browser: headless Chromium (Debian's) loads `/ui` from the
/// controller's own HTTP listener after half an hour of ticks, and the rendered DOM must hold a
/// chart per service with its series, the decisions with their reasons, and no console errors.
@Suite("Status page in a real browser", .testThreads)
struct StatusPageBrowserTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test("Chromium renders the page: a chart per service, the decisions listed, no console errors; a screenshot is taken")
    func rendered() async throws {
        let browser = try #require(Self.chromium, "Chromium is not installed (scripts/bootstrap.sh installs Debian's chromium)")
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 1, "scheduled": 1])
        let policy = ModeTests.policy(.active)
        let reconciler = ReconcilerTests.reconciler(queues: queues, cluster: cluster, policy: policy)
        // Half an hour of 10 s ticks ending now: a burst on the adhoc queue, then quiet.
        let end = WallClock.now()
        for tick in 0..<180 {
            let minute = tick / 6
            queues.set("queries", pending: (8...14).contains(minute) ? 9 : 0, running: (8...18).contains(minute) ? 3 : 0, oldestAge: .seconds(Double(tick % 6) * 10))
            queues.set("scheduled_queries", pending: minute % 10 == 0 ? 2 : 0)
            _ = await reconciler.reconcile(now: end - .seconds(1800) + .seconds(Double(tick) * 10))
        }
        let history = reconciler.history.snapshot()
        #expect(history.first { $0.service == "adhoc" }?.decisions.count ?? 0 >= 2, "the burst made decisions")

        let bound = HTTPEndpoints.BoundAddress()
        let metrics = MetricsRegistry()
        let routes = ControllerRoutes(reconciler: reconciler, metrics: metrics)
        let endpoints = HTTPEndpoints(host: "127.0.0.1", port: 0, bound: bound, logger: ReconcilerTests.quiet) { path in await routes.answer(path) }
        let group = ServiceGroup(services: [endpoints], logger: ReconcilerTests.quiet)
        let running = Task { try await group.run() }
        defer { running.cancel() }
        let port = try await bound.waitForPort()
        let url = "http://127.0.0.1:\(try #require(port))/ui"

        let profile = NSTemporaryDirectory() + "chromium-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let common = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile)", "--enable-logging=stderr", "--v=0"]
        let dom = try await Self.run(browser, common + ["--dump-dom", url])
        #expect(dom.status == 0, "chromium exited \(dom.status): \(dom.standardError.suffix(2000))")
        let html = dom.standardOutput
        for service in ["adhoc", "scheduled"] {
            #expect(html.contains("<svg class=\"chart\" data-service=\"\(service)\""), "no chart for \(service)")
        }
        for series in ["pending", "running-jobs", "desired", "running-tasks", "oldest-wait"] {
            #expect(html.contains("class=\"series \(series)\""), "no \(series) series drawn")
        }
        let decisionRows = html.components(separatedBy: "<tr class=\"decision ").count - 1
        #expect(decisionRows >= 3, "\(decisionRows) decision rows")
        #expect(html.contains("scaled adhoc 1 → "), "the scale-up and its reason are listed")
        // Console errors: a script error, a resource that failed to load, a blocked request.
        let consoleErrors = dom.standardError.split(separator: "\n").filter {
            $0.contains("CONSOLE") || $0.contains("Failed to load resource") || $0.contains("Uncaught") || $0.contains("Refused to")
        }
        #expect(consoleErrors.isEmpty, "console: \(consoleErrors)")

        let screenshot = ProcessInfo.processInfo.environment["STATUS_PAGE_SCREENSHOT"] ?? NSTemporaryDirectory() + "status-\(UUID().uuidString).png"
        let shot = try await Self.run(browser, common + ["--screenshot=\(screenshot)", "--window-size=1000,1500", "--hide-scrollbars", url])
        #expect(shot.status == 0, "chromium exited \(shot.status): \(shot.standardError.suffix(2000))")
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 10_000, "screenshot: \(png.count) bytes")
        print("status page: \(html.utf8.count) bytes of DOM, \(decisionRows) decisions, screenshot \(png.count) bytes at \(screenshot)")
        await group.triggerGracefulShutdown()
    }

    /// Runs `executable`, its standard output and standard error kept apart.
    static func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, standardOutput: String, standardError: String) {
        let base = NSTemporaryDirectory() + "chromium-run-\(UUID().uuidString)"
        defer { for suffix in [".out", ".err", ".rc"] { try? FileManager.default.removeItem(atPath: base + suffix) } }
        let script = "\"$0\" \"$@\" >'\(base).out' 2>'\(base).err'; echo $? >'\(base).rc'"
        _ = try await ManagedProcess.run("/bin/sh", ["-c", script, executable] + arguments, timeout: 120)
        func read(_ suffix: String) -> String { (try? String(contentsOfFile: base + suffix, encoding: .utf8)) ?? "" }
        return (Int32(read(".rc").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1, read(".out"), read(".err"))
    }
}
