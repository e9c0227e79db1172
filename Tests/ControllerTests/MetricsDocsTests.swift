@testable import Controller
import Foundation
import IntegrationSupport
import Testing

@Suite("Metrics documentation")
struct MetricsDocsTests {
    @Test("every metric the controller records is listed in docs/operations.md, and nothing listed is unknown")
    func everyMetricListed() throws {
        let text = try String(contentsOf: Repository.root.appendingPathComponent("docs/operations.md"), encoding: .utf8)
        let section = try #require(text.components(separatedBy: "## Metrics").dropFirst().first?.components(separatedBy: "\n## ").first)
        let listed = Set(section.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `redash_autoscaler_") else { return nil }
            return line.dropFirst(3).split(separator: "`").first.map(String.init)
        })
        let recorded = Set(MetricsRegistry.help.keys)
        #expect(recorded.subtracting(listed).sorted() == [], "recorded but not in docs/operations.md")
        #expect(listed.subtracting(recorded).sorted() == [], "in docs/operations.md but not recorded")
    }
}
