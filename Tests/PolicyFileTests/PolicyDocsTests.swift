import AutoscalerCore
import Foundation
import IntegrationSupport
@testable import PolicyFile
import Testing

@Suite("docs/policies.md follows the schema", .testThreads)
struct PolicyDocsTests {
    /// The rows of the services table: key, default column.
    static func serviceRows() throws -> [String: String] {
        let text = try String(contentsOf: Repository.root.appendingPathComponent("docs/policies.md"), encoding: .utf8)
        let section = try #require(text.components(separatedBy: "\n## Services").dropFirst().first?.components(separatedBy: "\n## ").first)
        var rows: [String: String] = [:]
        for line in section.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            rows[cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = cells[3]
        }
        return rows
    }

    @Test("every service setting is documented with the default the core gives it, and every documented key exists")
    func settingsDocumented() throws {
        let rows = try Self.serviceRows()
        let defaults = ServicePolicy(name: "x", queues: ["q"], minTasks: 0, maxTasks: 1)
        for setting in ServiceSetting.all {
            let shown = setting.defaultText(defaults)
            guard let column = rows[setting.key] else {
                Issue.record("\(setting.key) is not in the services table of docs/policies.md")
                continue
            }
            #expect(column.hasPrefix("`\(shown)`") || (shown == "none" && column.hasPrefix("none")), "\(setting.key): documented default \(column), the core's \(shown)")
        }
        let known = Set(PolicySchema.serviceOwnKeys + ServiceSetting.all.map(\.key))
        #expect(Set(rows.keys).subtracting(known).sorted() == [], "documented keys that the schema does not know")
        #expect(known.subtracting(rows.keys).sorted() == [], "keys the schema knows that are not documented")
    }

    @Test("a setting given in defaults applies to every service that does not give its own")
    func defaultsApply() throws {
        let text = """
            cluster: redash
            redis: redis://cache:6379/0
            defaults:
              target: {maxWait: 45s}
              scaleDown: {cooldown: 1m}
              taskProtection: 2h
            services:
              a: {queues: [queries], minTasks: 1, maxTasks: 4, target: {maxWait: 10s}}
              b: {queues: [scheduled_queries], minTasks: 1, maxTasks: 4}
            """
        let result = PolicyLoader.parse(text, file: "policies.yaml", environment: [:])
        let policy = try #require(result.policy, "\(result.diagnostics)")
        let a = try #require(policy.service(named: "a")), b = try #require(policy.service(named: "b"))
        #expect(a.target.maxWait == .seconds(10) && b.target.maxWait == .seconds(45))
        #expect(a.scaleDown.cooldown == .seconds(60) && b.scaleDown.cooldown == .seconds(60))
        #expect(a.scaleDown.maxStep == ScalingBehavior.defaultScaleDown.maxStep)
        #expect(a.taskProtection == .seconds(7200) && b.taskProtection == .seconds(7200))
    }
}
