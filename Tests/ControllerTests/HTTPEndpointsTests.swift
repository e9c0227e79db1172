@testable import AutoscalerCLI
import AutoscalerCore
import Controller
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IntegrationSupport
import Logging
import NIOCore
import ServiceLifecycle
import Testing
import TestSupport

/// The endpoints on Hummingbird: the routes through its testing layer, then what a misbehaving
/// client gets from the guarded HTTP/1.1 channel on a real socket (`Python/http_clients.py`).
@Suite("HTTP endpoints", .testThreads)
struct HTTPEndpointsTests {
    static let clients = Repository.root.appendingPathComponent("Tests/ControllerTests/Python/http_clients.py").path

    static func endpoints(limits: HTTPEndpoints.Limits = .init(), bound: HTTPEndpoints.BoundAddress = .init()) -> HTTPEndpoints {
        HTTPEndpoints(host: "127.0.0.1", port: 0, limits: limits, bound: bound, logger: ReconcilerTests.quiet) { path in
            switch path {
            case "/healthz": .init(body: "ok\n")
            case "/": .init(contentType: "text/html; charset=utf-8", body: "<p>page</p>")
            default: .init(status: .notFound, body: "not found\n")
            }
        }
    }

    @Test("routes: GET answers, HEAD answers without a body, POST is refused with Allow, an unknown path is 404")
    func routes() async throws {
        try await Self.endpoints().application().test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "ok\n")
                #expect(response.headers[.cacheControl] == "no-store")
            }
            try await client.execute(uri: "/?refresh=1", method: .get) { response in
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                #expect(String(buffer: response.body) == "<p>page</p>")
            }
            try await client.execute(uri: "/healthz", method: .head) { response in
                #expect(response.status == .ok)
                #expect(response.body.readableBytes == 0)
                #expect(response.headers[.contentLength] == "3")
            }
            try await client.execute(uri: "/healthz", method: .post) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, HEAD")
            }
            try await client.execute(uri: "/elsewhere", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    /// Runs the endpoints on a free port for `body`.
    static func serving(limits: HTTPEndpoints.Limits = .init(), _ body: (Int) async throws -> Void) async throws {
        let bound = HTTPEndpoints.BoundAddress()
        let group = ServiceGroup(services: [endpoints(limits: limits, bound: bound)], logger: ReconcilerTests.quiet)
        let running = Task { try await group.run() }
        defer { running.cancel() }
        let port = try await bound.waitForPort()
        try await body(try #require(port, "the endpoints did not bind"))
        await group.triggerGracefulShutdown()
    }

    static func client(_ arguments: [String]) async throws -> [String: Any] {
        let output = try await ManagedProcess.run(Repository.python, [clients] + arguments, timeout: 60)
        let line = try #require(output.split(separator: "\n").last, "no output")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(output)")
    }

    @Test("two pipelined requests get two answers, in order")
    func pipelined() async throws {
        try await Self.serving { port in
            let result = try await Self.client(["pipeline", "\(port)"])
            let answers = try #require(result["answers"] as? [[String: Any]])
            #expect(answers.count == 2)
            #expect(answers.first?["status"] as? Int == 200 && answers.first?["body"] as? String == "ok\n", "\(answers)")
            #expect(answers.last?["status"] as? Int == 404, "\(answers)")
        }
    }

    @Test("a request announcing a body is answered 413 and the connection closed at once, before the body arrives")
    func bodyRefused() async throws {
        try await Self.serving { port in
            let result = try await Self.client(["body", "\(port)"])
            #expect(result["status"] as? Int == 413, "\(result)")
            let closed = try #require(result["closedAfter"] as? Double, "the connection stayed open: \(result)")
            #expect(closed < 6)
        }
    }

    @Test("a head trickled a byte at a time is cut at the request timeout: the bytes do not move the deadline")
    func slowHead() async throws {
        var limits = HTTPEndpoints.Limits()
        limits.requestTimeout = .seconds(1)
        try await Self.serving(limits: limits) { port in
            // Half a byte a second would take 40 s to finish the head; the deadline is 1 s.
            let result = try await Self.client(["slowhead", "\(port)", "8"])
            let closed = try #require(result["closedAfter"] as? Double, "a slow head kept the connection for 8 s: \(result)")
            #expect(closed < 6, "closed after \(closed) s")
        }
    }

    @Test("a kept-alive connection that asks nothing more is closed at the request timeout after its answer")
    func idleClosed() async throws {
        var limits = HTTPEndpoints.Limits()
        limits.requestTimeout = .seconds(1)
        try await Self.serving(limits: limits) { port in
            let result = try await Self.client(["idle", "\(port)", "8"])
            #expect(result["status"] as? Int == 200)
            let closed = try #require(result["closedAfter"] as? Double, "an idle connection stayed open 8 s: \(result)")
            #expect(closed < 6)
        }
    }

    @Test("when clients hold every general slot, another client gets 503 for the page and 200 for /healthz")
    func healthReserved() async throws {
        var limits = HTTPEndpoints.Limits()
        limits.generalConnections = 3
        limits.requestTimeout = .seconds(30)
        try await Self.serving(limits: limits) { port in
            let result = try await Self.client(["hold", "\(port)", "3", "/"])
            #expect(result["held"] as? [Int] == [200, 200, 200], "\(result)")
            let after = try #require(result["after"] as? [String: Any])
            #expect(after["/healthz"] as? Int == 200, "\(result)")
            #expect(after["/"] as? Int == 503, "\(result)")
        }
    }
}

extension HTTPEndpoints.BoundAddress {
    /// The port the endpoints bound, once they have (nil after 5 s).
    func waitForPort() async throws -> Int? {
        for _ in 0..<500 {
            if let port { return port }
            try await Task.sleep(for: .milliseconds(10))
        }
        return port
    }
}
