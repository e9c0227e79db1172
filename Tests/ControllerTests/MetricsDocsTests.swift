import AutoscalerCore
@testable import Controller
import Foundation
import IntegrationSupport
import TestSupport
import Testing

@Suite("Metric catalogue: /metrics, its help texts and docs/operations.md follow it", .testThreads)
struct MetricsDocsTests {
    /// The rows of the metrics table of docs/operations.md: name, type, label names.
    static func documented() throws -> [String: (type: String, labels: [String])] {
        let text = try String(contentsOf: Repository.root.appendingPathComponent("docs/operations.md"), encoding: .utf8)
        let section = try #require(text.components(separatedBy: "## Metrics").dropFirst().first?.components(separatedBy: "\n## ").first)
        var rows: [String: (String, [String])] = [:]
        for line in section.split(separator: "\n") where line.hasPrefix("| `redash_autoscaler_") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let name = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            // `service`, `direction` (`up`, `down`): the names in backticks outside parentheses.
            var labels: [String] = []
            var depth = 0
            for part in cells[3].split(separator: "`", omittingEmptySubsequences: false).enumerated() {
                if part.offset % 2 == 0 {
                    depth += part.element.filter { $0 == "(" }.count - part.element.filter { $0 == ")" }.count
                } else if depth == 0 {
                    labels.append(String(part.element))
                }
            }
            rows[name] = (cells[2], labels.sorted())
        }
        return rows
    }

    @Test("every catalogued metric is in docs/operations.md with its type and labels, and nothing listed is unknown")
    func everyMetricListed() throws {
        let documented = try Self.documented()
        let catalogued = Set(Metric.allCases.map(\.rawValue))
        #expect(catalogued.subtracting(documented.keys).sorted() == [], "catalogued but not in docs/operations.md")
        #expect(Set(documented.keys).subtracting(catalogued).sorted() == [], "in docs/operations.md but not catalogued")
        for metric in Metric.allCases {
            guard let row = documented[metric.rawValue] else { continue }
            #expect(row.type == metric.definition.kind.rawValue, "\(metric.rawValue): documented as \(row.type)")
            #expect(row.labels == metric.definition.labels, "\(metric.rawValue): documented labels \(row.labels)")
        }
    }

    @Test("every metric a reconcile exports is catalogued, with its kind, its labels and its help")
    func exportedMetricsAreCatalogued() async throws {
        let queues = FakeQueues(layout: .rq)
        queues.set("queries", pending: 5, running: 1, oldestAge: .seconds(40))
        let cluster = FakeCluster(["adhoc": 1])
        let metrics = MetricsRegistry()
        let reconciler = ReconcilerTests.reconciler(queues: queues, cluster: cluster, metrics: metrics)
        _ = await reconciler.reconcile(now: Instant(secondsSinceEpoch: 1_764_590_400))
        metrics.observeReconcile(.milliseconds(20))
        var types: [String: String] = [:]
        var labels: [String: Set<String>] = [:]
        for line in metrics.render().split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                types[String(parts[2])] = String(parts[3])
            } else if !line.hasPrefix("#") {
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                let base = ["_bucket", "_count", "_sum"].reduce(name) { $0.hasSuffix($1) && types[$0] == nil ? String($0.dropLast($1.count)) : $0 }
                if let open = line.firstIndex(of: "{"), let close = line.firstIndex(of: "}") {
                    for pair in line[line.index(after: open)..<close].split(separator: ",") {
                        labels[base, default: []].insert(String(pair.prefix { $0 != "=" }))
                    }
                }
            }
        }
        #expect(types.count >= 15, "a reconcile exports most metrics: \(types.keys.sorted())")
        for (name, type) in types {
            guard let metric = Metric(rawValue: name) else {
                Issue.record("\(name) is exported but not catalogued")
                continue
            }
            #expect(type == metric.definition.kind.rawValue, "\(name): exported as \(type)")
            #expect((labels[name] ?? []).subtracting(["le"]).isSubset(of: metric.definition.labels), "\(name): labels \(labels[name] ?? [])")
        }
        #expect(metrics.render().contains("# HELP \(Metric.queuePendingJobs.rawValue) \(Metric.queuePendingJobs.definition.help)"))
    }
}
