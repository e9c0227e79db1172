import Foundation
import PolicyFile
import Testing
import IntegrationSupport

/// A fixture file and the diagnostics its `# expect:` lines require.
struct PolicyFixture: CustomTestStringConvertible, Sendable {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    var name: String
    var path: String
    var expected: [String]

    var testDescription: String { name }

    static func all() throws -> [PolicyFixture] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
        return try names.map { name in
            let path = directory.appendingPathComponent(name).path
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let expected = text.split(separator: "\n")
                .filter { $0.hasPrefix("# expect: ") && $0 != "# expect: none" }
                .map { String($0.dropFirst("# expect: ".count)) }
            return PolicyFixture(name: name, path: path, expected: expected)
        }
    }
}

/// The environment the fixtures are checked in: none of their `${VAR}` references is set.
private let fixtureEnvironment: [String: String] = [:]

@Suite("Policy files", .testThreads)
struct PolicyFixtureTests {
    @Test("each fixture gives exactly its expected diagnostics, at their line and column",
          arguments: try PolicyFixture.all())
    func fixture(_ fixture: PolicyFixture) throws {
        let result = PolicyLoader.load(path: fixture.path, environment: fixtureEnvironment)
        let actual = result.diagnostics.map { "\($0.severity.rawValue) \($0.line):\($0.column) \($0.path.isEmpty ? "" : $0.path + ": ")\($0.message)" }
        #expect(actual.count == fixture.expected.count, "got:\n\(actual.joined(separator: "\n"))")
        for (got, wanted) in zip(actual, fixture.expected) {
            #expect(got.hasPrefix(wanted), "got: \(got)\nwanted: \(wanted)")
        }
        let expectsErrors = fixture.expected.contains { $0.hasPrefix("error ") }
        #expect((result.policy == nil) == expectsErrors)
    }

    @Test("there is a fixture for every kind of bad input the issue names")
    func fixturesCoverEveryKind() throws {
        let names = Set(try PolicyFixture.all().map(\.name))
        for kind in ["unknown-key", "wrong-type", "nonsense-numbers", "min-greater-than-max", "shared-queue",
                     "undefined-variable", "duration-without-unit", "periodic-consumer-at-zero",
                     "scheduler-above-one", "tabs", "bad-indentation", "duplicate-key", "valid-with-warnings"] {
            #expect(names.contains("\(kind).yaml"), "missing fixture \(kind).yaml")
        }
    }
}
