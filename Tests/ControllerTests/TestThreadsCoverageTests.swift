import Foundation
import IntegrationSupport
import Testing

/// Every suite runs on the test threads (`TestThreads`): one left on Swift's shared threads
/// would bring back the stalls that trait exists for, the moment it computes or blocks.
@Suite("Every suite on the test threads", .testThreads)
struct TestThreadsCoverageTests {
    @Test("each @Suite of Tests/ carries .testThreads")
    func everySuite() throws {
        let tests = Repository.root.appendingPathComponent("Tests")
        let files = try #require(FileManager.default.enumerator(at: tests, includingPropertiesForKeys: nil))
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        var suites = 0
        var missing: [String] = []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for line in text.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix("@Suite") {
                suites += 1
                if !line.contains(".testThreads") { missing.append("\(file.lastPathComponent): \(line.trimmingCharacters(in: .whitespaces))") }
            }
        }
        #expect(suites > 90, "only \(suites) suites found under \(tests.path)")
        #expect(missing.isEmpty, "\(missing)")
    }
}
