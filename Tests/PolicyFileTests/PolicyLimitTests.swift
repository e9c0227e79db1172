import AutoscalerCore
import Foundation
@testable import PolicyFile
import Testing
import IntegrationSupport

/// Files a fault injector fed the loader: nesting thousands deep overflowed the YAML parser's
/// stack (a crash, also over hot reload), and a list of a million queues took minutes. Each is now
/// a clear error, found before the parser recurses.
@Suite("Policy limits", .testThreads)
struct PolicyLimitTests {
    static func error(_ text: String) -> Diagnostic? {
        PolicyLoader.parse(text, file: "bad.yaml", environment: [:]).errors.first
    }

    @Test("nesting 7,000 deep is refused before the parser recurses", arguments: [
        ("flow", "cluster: c\nredis: redis://r\nservices: " + String(repeating: "[", count: 7000) + String(repeating: "]", count: 7000) + "\n"),
        ("block sequences on one line", "services:\n" + String(repeating: "- ", count: 7000) + "x\n"),
        ("indented mappings", "services:\n" + (1..<1200).map { String(repeating: " ", count: $0) + "k\($0):\n" }.joined()),
    ])
    func deepNesting(_ name: String, _ text: String) throws {
        let error = try #require(Self.error(text), "\(name) was accepted")
        #expect(error.message.contains("nested more than 64 levels"), "\(error)")
        #expect(error.line < 100, "found early, at line \(error.line)")
    }

    @Test("a file over 1 MiB is refused whole")
    func tooLarge() throws {
        let text = "cluster: c\nredis: redis://r\nservices:\n  s:\n    queues:\n" + String(repeating: "      - q\n", count: 150_000)
        let error = try #require(Self.error(text))
        #expect(error.message.contains("a policy is at most 1048576"), "\(error)")
    }

    @Test("a service with thousands of queues is refused at once, not checked pair by pair")
    func manyQueues() throws {
        let queues = (0..<20_000).map { "q\($0)" }.joined(separator: ", ")
        let text = "cluster: c\nredis: redis://r\nservices:\n  s:\n    queues: [\(queues)]\n    minTasks: 1\n    maxTasks: 2\n"
        let error = try #require(Self.error(text))
        #expect(error.path == "services.s.queues" && error.message.contains("at most 64"), "\(error)")
    }

    @Test("aliases that multiply a small file are refused")
    func aliasBomb() throws {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for level in 1..<30 { lines.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]") }
        let error = try #require(Self.error(lines.joined(separator: "\n") + "\n"))
        #expect(error.message.contains("aliases"), "\(error)")
    }

    @Test("the shipped policies are far inside every limit")
    func shippedFilesPass() {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for file in ["policies.yaml", "examples/policies-rq.yaml"] {
            let text = (try? String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)) ?? ""
            #expect(PolicyLimits.check(text) == nil, "\(file)")
        }
    }
}
