import AutoscalerCore
import Foundation
import Logging

/// The ECS calls the controller needs, for one cluster.
public struct ECSClient: Sendable {
    public let cluster: String
    let api: AWSJSONClient

    /// ECS's limits per call.
    static let describeServicesBatch = 10
    static let describeTasksBatch = 100
    static let protectionBatch = 10

    public init(cluster: String, api: AWSJSONClient) {
        self.cluster = cluster
        self.api = api
    }

    public var region: String { api.region }
    public var endpoint: AWSEndpoint { api.endpoint }

    /// What `describeServices` found: the services, and the names ECS does not know (or knows as
    /// deleted), with its reason.
    public struct ServicesReport: Sendable, Equatable {
        public var services: [ECSService]
        public var missing: [(name: String, reason: String)]

        public init(services: [ECSService], missing: [(name: String, reason: String)]) {
            self.services = services
            self.missing = missing
        }

        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.services == rhs.services && lhs.missing.map { [$0.name, $0.reason] } == rhs.missing.map { [$0.name, $0.reason] }
        }
    }

    struct DescribeServicesInput: Encodable, Sendable { var cluster: String; var services: [String] }
    struct DescribeServicesOutput: Decodable { var services: [ECSService]?; var failures: [ECSFailure]? }

    /// Desired, running and pending counts, deployments and recent events of `names`, in batches
    /// of ten (ECS's limit), the batches in parallel. Results keep the order of `names`.
    public func describeServices(_ names: [String]) async throws -> ServicesReport {
        let batches = names.chunked(into: Self.describeServicesBatch).map(Array.init)
        let outputs = try await withThrowingTaskGroup(of: (Int, DescribeServicesOutput).self) { group in
            for (index, batch) in batches.enumerated() {
                group.addTask {
                    let output = try await api.call(
                        "DescribeServices", DescribeServicesInput(cluster: cluster, services: batch),
                        context: "cluster \(cluster)", as: DescribeServicesOutput.self)
                    return (index, output)
                }
            }
            var results = [DescribeServicesOutput?](repeating: nil, count: batches.count)
            for try await (index, output) in group { results[index] = output }
            return results.compactMap { $0 }
        }
        var byName: [String: ECSService] = [:]
        var failures: [String: String] = [:]
        for output in outputs {
            for service in output.services ?? [] where service.status != "INACTIVE" { byName[service.serviceName] = service }
            for service in output.services ?? [] where service.status == "INACTIVE" { failures[service.serviceName] = "INACTIVE (deleted)" }
            for failure in output.failures ?? [] {
                let name = failure.arn.map(ARN.lastPart) ?? "?"
                failures[name] = failure.reason ?? "unknown"
            }
        }
        var report = ServicesReport(services: [], missing: [])
        for name in names {
            if let service = byName[name] {
                report.services.append(service)
            } else {
                report.missing.append((name, failures[name] ?? "MISSING"))
            }
        }
        return report
    }

    struct UpdateServiceInput: Encodable, Sendable { var cluster: String; var service: String; var desiredCount: Int }
    struct UpdateServiceOutput: Decodable { var service: ECSService }

    /// Sets the desired count, and nothing else about the service; with `deadline`, no attempt
    /// is made or waited for after it.
    @discardableResult
    public func setDesiredCount(service: String, to count: Int, deadline: Duration? = nil) async throws -> ECSService {
        try await api.call(
            "UpdateService", UpdateServiceInput(cluster: cluster, service: service, desiredCount: count),
            context: "cluster \(cluster), service \(service)", deadline: deadline, as: UpdateServiceOutput.self).service
    }

    struct ListTasksInput: Encodable, Sendable {
        var cluster: String; var serviceName: String?; var desiredStatus: String; var maxResults: Int; var nextToken: String?
    }
    struct ListTasksOutput: Decodable { var taskArns: [String]?; var nextToken: String? }

    /// The ARNs of the tasks ECS means to keep running, of one service or (`service` nil) of the
    /// whole cluster, every page (100 a page, ECS's most).
    public func listTasks(service: String?) async throws -> [String] {
        var arns: [String] = []
        var token: String?
        var pages = 0
        repeat {
            let page = try await api.call(
                "ListTasks", ListTasksInput(cluster: cluster, serviceName: service, desiredStatus: "RUNNING", maxResults: 100, nextToken: token),
                context: service.map { "cluster \(cluster), service \($0)" } ?? "cluster \(cluster)", as: ListTasksOutput.self)
            arns += page.taskArns ?? []
            token = page.nextToken.flatMap { $0.isEmpty ? nil : $0 }
            pages += 1
            // A token that never ends is a broken answer, not a cluster of a million tasks.
            if pages >= Self.listTasksPageLimit, token != nil {
                throw AWSError(
                    kind: .unexpectedResponse, action: "ecs:ListTasks", code: "pagination",
                    message: "more than \(Self.listTasksPageLimit) pages of tasks; refusing to read further", status: 200,
                    context: "cluster \(cluster)")
            }
        } while token != nil
        return arns
    }

    /// 20,000 tasks: far beyond any Redash cluster.
    static let listTasksPageLimit = 200

    struct DescribeTasksInput: Encodable, Sendable { var cluster: String; var tasks: [String] }
    struct DescribeTasksOutput: Decodable { var tasks: [ECSTask]?; var failures: [ECSFailure]? }

    /// Status, private IP and start time of tasks, in batches of 100.
    public func describeTasks(_ arns: [String]) async throws -> [ECSTask] {
        var tasks: [ECSTask] = []
        for batch in arns.chunked(into: Self.describeTasksBatch) {
            tasks += try await api.call(
                "DescribeTasks", DescribeTasksInput(cluster: cluster, tasks: Array(batch)), context: "cluster \(cluster)",
                as: DescribeTasksOutput.self).tasks ?? []
        }
        return tasks
    }

    /// Protection results: tasks whose state is now known, and per-task failures.
    public struct ProtectionReport: Sendable, Equatable {
        public var tasks: [ECSTaskProtection]
        public var failures: [ECSFailure]

        public init(tasks: [ECSTaskProtection] = [], failures: [ECSFailure] = []) {
            self.tasks = tasks
            self.failures = failures
        }
    }

    struct UpdateTaskProtectionInput: Encodable, Sendable {
        var cluster: String; var tasks: [String]; var protectionEnabled: Bool; var expiresInMinutes: Int?
    }
    struct TaskProtectionOutput: Decodable { var protectedTasks: [ECSTaskProtection]?; var failures: [ECSFailure]? }

    /// Turns scale-in protection on (for `expiresInMinutes`, 1–2880) or off, in one call: at most
    /// `protectionBatch` (ten, ECS's limit) tasks. The caller batches, since a batch that fails
    /// fails only its own tasks' services (`ECSClusterView.setProtection`).
    public func updateTaskProtection(_ arns: [String], enabled: Bool, expiresInMinutes: Int? = nil, deadline: Duration? = nil) async throws -> ProtectionReport {
        guard arns.count <= Self.protectionBatch else {
            throw AWSError(
                kind: .invalidRequest, action: "ecs:UpdateTaskProtection", code: "TooManyTasks",
                message: "at most \(Self.protectionBatch) tasks a call, not \(arns.count)", status: 0, context: "cluster \(cluster)")
        }
        let output = try await api.call(
            "UpdateTaskProtection",
            UpdateTaskProtectionInput(cluster: cluster, tasks: arns, protectionEnabled: enabled, expiresInMinutes: enabled ? expiresInMinutes : nil),
            context: "cluster \(cluster)", deadline: deadline, as: TaskProtectionOutput.self)
        return ProtectionReport(tasks: output.protectedTasks ?? [], failures: output.failures ?? [])
    }

    struct GetTaskProtectionInput: Encodable, Sendable { var cluster: String; var tasks: [String] }

    /// Protection state of tasks, 100 per call (ECS's limit).
    public func taskProtection(_ arns: [String]) async throws -> ProtectionReport {
        var report = ProtectionReport()
        for batch in arns.chunked(into: 100) {
            let output = try await api.call(
                "GetTaskProtection", GetTaskProtectionInput(cluster: cluster, tasks: Array(batch)), context: "cluster \(cluster)",
                as: TaskProtectionOutput.self)
            report.tasks += output.protectedTasks ?? []
            report.failures += output.failures ?? []
        }
        return report
    }
}

/// Application Auto Scaling, read only: is a target tracking or step policy also driving a
/// service's desired count? Two controllers on one number fight.
public struct ApplicationAutoScalingClient: Sendable {
    let api: AWSJSONClient

    public init(api: AWSJSONClient) {
        self.api = api
    }

    struct DescribeScalableTargetsInput: Encodable, Sendable {
        var ServiceNamespace = "ecs"
        var ResourceIds: [String]
        var ScalableDimension = "ecs:service:DesiredCount"
        var NextToken: String?
    }
    struct DescribeScalableTargetsOutput: Decodable { var ScalableTargets: [ScalableTarget]?; var NextToken: String? }

    /// The targets registered for `services` of `cluster`, keyed by service name.
    public func scalableTargets(cluster: String, services: [String]) async throws -> [String: ScalableTarget] {
        var result: [String: ScalableTarget] = [:]
        // The API takes up to 50 resource ids per call.
        for batch in services.chunked(into: 50) {
            let ids = batch.map { "service/\(cluster)/\($0)" }
            var token: String?
            repeat {
                let page = try await api.call(
                    "DescribeScalableTargets", DescribeScalableTargetsInput(ResourceIds: ids, NextToken: token),
                    context: "cluster \(cluster)", as: DescribeScalableTargetsOutput.self)
                for target in page.ScalableTargets ?? [] {
                    result[ARN.lastPart(target.resourceID)] = target
                }
                token = page.NextToken
            } while token != nil
        }
        return result
    }
}
