import ArgumentParser
@testable import AutoscalerCLI
import AutoscalerCore
import Foundation
import Testing
import IntegrationSupport

@Suite("validate command", .testThreads)
struct ValidateCommandTests {
    private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    @Test("a valid file exits 0 with one summary line per service and warnings on stderr")
    func valid() {
        let report = ValidateCommand.report(
            path: fixtures.appendingPathComponent("valid-with-warnings.yaml").path, environment: [:])
        #expect(report.exitCode == 0)
        let lines = report.standardOutput.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("  redash-adhoc-worker: queries; 0–4 tasks × 2 workers") })
        #expect(lines.contains { $0.hasPrefix("  redash-parked: emails; 0–0 tasks") })
        #expect(report.standardError.contains("warning: interval"))
    }

    @Test("an invalid file exits 1 with FILE:LINE:COLUMN errors on stderr and nothing on stdout")
    func invalid() {
        let path = fixtures.appendingPathComponent("min-greater-than-max.yaml").path
        let report = ValidateCommand.report(path: path, environment: [:])
        #expect(report.exitCode == 1)
        #expect(report.standardOutput.isEmpty)
        #expect(report.standardError.contains("\(path):7:15: error: services.redash-adhoc-worker.maxTasks: must be >= minTasks (3)"))
    }

    @Test("a missing file is an error, not a crash")
    func missingFile() {
        let report = ValidateCommand.report(path: "/nonexistent/policies.yaml", environment: [:])
        #expect(report.exitCode == 1)
        #expect(report.standardError.contains("/nonexistent/policies.yaml:1:1: error: cannot read the policy file"))
    }

    @Test("--policies beats REDASH_AUTOSCALER_POLICIES, which beats policies.yaml")
    func policyPath() throws {
        let environment = ["REDASH_AUTOSCALER_POLICIES": "/etc/from-env.yaml"]
        #expect(try ValidateCommand.parse(["--policies", "/a.yaml"]).options.resolvedPath(environment: environment) == "/a.yaml")
        #expect(try ValidateCommand.parse([]).options.resolvedPath(environment: environment) == "/etc/from-env.yaml")
        #expect(try ValidateCommand.parse([]).options.resolvedPath(environment: [:]) == "policies.yaml")
    }
}

@Suite("Embedded policy", .testThreads)
struct EmbeddedPolicyTests {
    @Test("the embedded default is the shipped policies.yaml, byte for byte (run scripts/embed-policy.sh)")
    func matchesShippedFile() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shipped = try String(contentsOf: root.appendingPathComponent("policies.yaml"), encoding: .utf8)
        #expect(EmbeddedPolicy.text + "\n" == shipped)
    }
}

@Suite("Policy from the environment", .testThreads)
struct PolicyFromEnvironmentTests {
    @Test("REDASH_AUTOSCALER_POLICY_YAML holds the policy's text (the Terraform module's way); --policies wins over it")
    func fromEnvironment() async throws {
        let text = """
            cluster: redash
            redis:
              url: ${REDASH_REDIS_URL}
            services:
              redash-adhoc-worker:
                queues: [queries]
                minTasks: 1
                maxTasks: 5
            """
        let environment = [PolicySource.textVariable: text, "REDASH_REDIS_URL": "redis://cache:6379/0"]
        let (policy, origin) = try await PolicySource.load(try PolicyOptions.parse([]), environment: environment, allowEmbedded: false)
        #expect(origin == "$REDASH_AUTOSCALER_POLICY_YAML")
        #expect(policy.services.map(\.maxTasks) == [5])
        #expect(policy.redis.url.unredacted == "redis://cache:6379/0")

        let options = try PolicyOptions.parse(["--policies", Repository.policies])
        let (file, fileOrigin) = try await PolicySource.load(options, environment: environment, allowEmbedded: false)
        #expect(fileOrigin == Repository.policies)
        #expect(file.services.count >= 2)
    }
}

private enum Repository {
    static let policies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("policies.yaml").path
}
