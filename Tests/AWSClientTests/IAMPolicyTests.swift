import Foundation
import IntegrationSupport
import Testing

/// The IAM policy the deploy module applies must grant exactly the calls the code makes: a new
/// call without its permission fails here, and so does a permission nothing uses.
@Suite("IAM policy matches the code", .testThreads)
struct IAMPolicyTests {
    /// `service:Action` for every `api.call("Action", …)` in the AWS client, by the client type
    /// the call is in.
    static func actionsCalled() throws -> Set<String> {
        let source = try String(contentsOf: Repository.root.appendingPathComponent("Sources/AWSClient/ECS/ECSClient.swift"), encoding: .utf8)
        let pattern = try NSRegularExpression(pattern: #"api\.call\(\s*"([A-Za-z]+)""#)
        let boundary = source.range(of: "public struct ApplicationAutoScalingClient")?.lowerBound
        var actions = Set<String>()
        for match in pattern.matches(in: source, range: NSRange(source.startIndex..., in: source)) {
            guard let range = Range(match.range(at: 1), in: source) else { continue }
            let prefix = boundary.map { range.lowerBound > $0 } == true ? "application-autoscaling" : "ecs"
            actions.insert("\(prefix):\(source[range])")
        }
        return actions
    }

    static func actionsGranted() throws -> Set<String> {
        var text = try String(contentsOf: Repository.root.appendingPathComponent("deploy/iam/controller-policy.json.tftpl"), encoding: .utf8)
        for (name, value) in ["service_arns": "[\"*\"]", "cluster_arn": "c", "task_arns": "t"] {
            text = text.replacingOccurrences(of: "${\(name)}", with: value)
        }
        let document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let statements = try #require(document["Statement"] as? [[String: Any]])
        var actions = Set<String>()
        for statement in statements {
            #expect(statement["Effect"] as? String == "Allow")
            for action in statement["Action"] as? [String] ?? [] {
                #expect(!action.contains("*"), "a wildcard action: \(action)")
                #expect(actions.insert(action).inserted, "granted twice: \(action)")
            }
        }
        return actions
    }

    @Test("the template grants exactly the actions the client calls, none with a wildcard")
    func exactActions() throws {
        let called = try Self.actionsCalled()
        #expect(called.count >= 7, "the scan found too few calls: \(called.sorted())")
        #expect(try Self.actionsGranted() == called)
    }

    @Test("only the read of scaling targets and the cluster-scoped ListTasks use a \"*\" resource")
    func wildcardResources() throws {
        let text = try String(contentsOf: Repository.root.appendingPathComponent("deploy/iam/controller-policy.json.tftpl"), encoding: .utf8)
        let rendered = text.replacingOccurrences(of: "${service_arns}", with: "[\"arn:service\"]")
            .replacingOccurrences(of: "${cluster_arn}", with: "arn:cluster").replacingOccurrences(of: "${task_arns}", with: "arn:task/*")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(rendered.utf8)) as? [String: Any])
        for statement in document["Statement"] as? [[String: Any]] ?? [] where statement["Resource"] as? String == "*" {
            let actions = statement["Action"] as? [String] ?? []
            let scoped = actions == ["ecs:ListTasks"] && statement["Condition"] != nil
            #expect(scoped || actions == ["application-autoscaling:DescribeScalableTargets"], "\(actions) on *")
        }
    }
}
