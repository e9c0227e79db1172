import AWSClient
import AutoscalerCore
import Foundation
import Synchronization

/// ECS's JSON API over an in-memory cluster, as an `HTTPTransport`: the real client, signer and
/// `ECSClusterView` run on top of it, and every request is counted by action. It answers the
/// calls the controller makes, the way ECS does: ListTasks in pages (`maxResults`, `nextToken`,
/// `desiredStatus`), tasks grouped `service:<name>`, protection with expiry dates.
public final class InMemoryECS: HTTPTransport {
    public struct Task: Sendable {
        public var service: String
        public var ip: String
        public var lastStatus: String
        public var protectedUntil: Double?

        public init(service: String, ip: String, lastStatus: String = "RUNNING", protectedUntil: Double? = nil) {
            self.service = service
            self.ip = ip
            self.lastStatus = lastStatus
            self.protectedUntil = protectedUntil
        }
    }

    struct State {
        var desired: [String: Int] = [:]
        var tasks: [String: Task] = [:]
        var order: [String] = []
        var calls: [String: Int] = [:]
        var pageSizeLimit = 100
        var failingProtection: Set<String> = []
        var events: [String: [(message: String, at: Double)]] = [:]
    }

    private let state = Mutex(State())
    public let cluster: String

    public init(cluster: String = "redash") {
        self.cluster = cluster
    }

    /// Adds a service with `desired` tasks.
    public func addService(_ name: String, desired: Int) {
        state.withLock { $0.desired[name] = desired }
    }

    /// Starts a task of `service`; returns its ARN.
    @discardableResult
    public func addTask(_ task: Task) -> String {
        state.withLock { state in
            let arn = "arn:aws:ecs:eu-west-1:123456789012:task/\(cluster)/\(String(format: "%032x", state.order.count + 1))"
            state.tasks[arn] = task
            state.order.append(arn)
            return arn
        }
    }

    /// Stops a task (it leaves the RUNNING listing).
    public func stopTask(_ arn: String) {
        state.withLock { state in
            state.tasks[arn] = nil
            state.order.removeAll { $0 == arn }
        }
    }

    public func setStatus(_ arn: String, _ status: String) {
        state.withLock { $0.tasks[arn]?.lastStatus = status }
    }

    public func setDesired(_ service: String, _ count: Int) {
        state.withLock { $0.desired[service] = count }
    }

    public func desired(_ service: String) -> Int? { state.withLock { $0.desired[service] } }

    /// Adds a service event, as ECS records one (`(service x) was unable to place a task …`).
    public func addEvent(_ service: String, _ message: String, at: Double) {
        state.withLock { $0.events[service, default: []].append((message, at)) }
    }

    public func protectedUntil(_ arn: String) -> Double? { state.withLock { $0.tasks[arn]?.protectedUntil } }

    /// UpdateTaskProtection calls that name `arn` answer with an error (a bad parameter: not retried).
    public func failProtectionCalls(naming arn: String) { state.withLock { _ = $0.failingProtection.insert(arn) } }

    /// The page size ListTasks gives at most (ECS: 100).
    public func limitPages(to size: Int) { state.withLock { $0.pageSizeLimit = size } }

    /// Requests answered, by action; `reset` starts counting again.
    public func calls(reset: Bool = false) -> [String: Int] {
        state.withLock { state in
            defer { if reset { state.calls = [:] } }
            return state.calls
        }
    }

    /// A signed-enough client for this cluster: the real `ECSClient` over this transport.
    public func client(budget: CallBudget? = nil) -> ECSClient {
        let credentials = CredentialProvider(chain: CredentialChain(sources: [
            EnvironmentCredentials(environment: ["AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "in-memory-secret"]),
        ]))
        let api = AWSJSONClient(
            service: .ecs, targetPrefix: "AmazonEC2ContainerServiceV20141113", region: "eu-west-1",
            endpoint: try! AWSEndpoint.resolve(.ecs, region: "eu-west-1", environment: [:]), credentials: credentials, transport: self,
            budget: budget)
        return ECSClient(cluster: cluster, api: api)
    }

    public func send(method: String, url: String, headers: [(name: String, value: String)], body: [UInt8], timeout: Duration) async throws -> HTTPReply {
        let target = headers.first { $0.name == "X-Amz-Target" }?.value ?? ""
        let action = String(target.split(separator: ".").last ?? "")
        let request = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        let (status, body): (Int, [UInt8]) = try state.withLock { state in
            state.calls[action, default: 0] += 1
            if action == "UpdateTaskProtection", let tasks = request["tasks"] as? [String], tasks.contains(where: state.failingProtection.contains) {
                return (400, Array(#"{"__type":"InvalidParameterException","message":"injected failure"}"#.utf8))
            }
            return (200, Array(try JSONSerialization.data(withJSONObject: Self.answer(action, request, &state, cluster: cluster))))
        }
        return HTTPReply(status: status, body: body)
    }

    private static func answer(_ action: String, _ request: [String: Any], _ state: inout State, cluster: String) -> [String: Any] {
        let now = Date().timeIntervalSince1970
        func service(_ name: String) -> [String: Any] {
            let running = state.tasks.values.filter { $0.service == name && $0.lastStatus == "RUNNING" }.count
            let pending = state.tasks.values.filter { $0.service == name && $0.lastStatus != "RUNNING" }.count
            let events = (state.events[name] ?? []).reversed().enumerated().map { index, event -> [String: Any] in
                ["id": "event-\(index)", "createdAt": event.at, "message": event.message]
            }
            return ["serviceName": name, "status": "ACTIVE", "desiredCount": state.desired[name] ?? 0, "runningCount": running,
                    "pendingCount": pending, "deployments": [["status": "PRIMARY", "rolloutState": "COMPLETED"]], "events": events]
        }
        func protection(_ arn: String) -> [String: Any] {
            let until = state.tasks[arn]?.protectedUntil.flatMap { $0 > now ? $0 : nil }
            var entry: [String: Any] = ["taskArn": arn, "protectionEnabled": until != nil]
            if let until { entry["expirationDate"] = until }
            return entry
        }
        let tasks = request["tasks"] as? [String] ?? []
        switch action {
        case "DescribeServices":
            let names = request["services"] as? [String] ?? []
            return ["services": names.filter { state.desired[$0] != nil }.map(service),
                    "failures": names.filter { state.desired[$0] == nil }.map { ["arn": "arn:aws:ecs:eu-west-1:123456789012:service/\(cluster)/\($0)", "reason": "MISSING"] }]
        case "UpdateService":
            let name = request["service"] as? String ?? ""
            if let count = request["desiredCount"] as? Int { state.desired[name] = count }
            return ["service": service(name)]
        case "ListTasks":
            let wanted = request["serviceName"] as? String
            let arns = state.order.filter { wanted == nil || state.tasks[$0]?.service == wanted }
            let start = Int(request["nextToken"] as? String ?? "0") ?? 0
            let size = min(state.pageSizeLimit, request["maxResults"] as? Int ?? 100)
            var page: [String: Any] = ["taskArns": Array(arns.dropFirst(start).prefix(size))]
            if start + size < arns.count { page["nextToken"] = String(start + size) }
            return page
        case "DescribeTasks":
            return ["tasks": tasks.compactMap { arn -> [String: Any]? in
                guard let task = state.tasks[arn] else { return nil }
                return ["taskArn": arn, "lastStatus": task.lastStatus, "desiredStatus": "RUNNING", "group": "service:\(task.service)",
                        "attachments": [["type": "ElasticNetworkInterface", "details": [["name": "privateIPv4Address", "value": task.ip]]]]]
            }, "failures": tasks.filter { state.tasks[$0] == nil }.map { ["arn": $0, "reason": "MISSING"] }]
        case "GetTaskProtection":
            return ["protectedTasks": tasks.filter { state.tasks[$0] != nil }.map(protection),
                    "failures": tasks.filter { state.tasks[$0] == nil }.map { ["arn": $0, "reason": "TASK_NOT_VALID"] }]
        case "UpdateTaskProtection":
            let enabled = request["protectionEnabled"] as? Bool ?? false
            let minutes = request["expiresInMinutes"] as? Int ?? 120
            for arn in tasks where state.tasks[arn] != nil {
                state.tasks[arn]?.protectedUntil = enabled ? now + Double(minutes * 60) : nil
            }
            return ["protectedTasks": tasks.filter { state.tasks[$0] != nil }.map(protection),
                    "failures": tasks.filter { state.tasks[$0] == nil }.map { ["arn": $0, "reason": "TASK_NOT_VALID"] }]
        default:
            return [:]
        }
    }
}
