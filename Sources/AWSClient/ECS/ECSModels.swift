import AutoscalerCore

/// What `DescribeServices` tells about one service.
public struct ECSService: Sendable, Equatable, Decodable {
    public var serviceName: String
    public var serviceArn: String?
    public var status: String?
    public var desiredCount: Int
    public var runningCount: Int
    public var pendingCount: Int
    public var launchType: String?
    public var deployments: [ECSDeployment]
    public var events: [ECSServiceEvent]

    public init(
        serviceName: String, serviceArn: String? = nil, status: String? = "ACTIVE", desiredCount: Int, runningCount: Int,
        pendingCount: Int, launchType: String? = nil, deployments: [ECSDeployment] = [], events: [ECSServiceEvent] = []
    ) {
        self.serviceName = serviceName
        self.serviceArn = serviceArn
        self.status = status
        self.desiredCount = desiredCount
        self.runningCount = runningCount
        self.pendingCount = pendingCount
        self.launchType = launchType
        self.deployments = deployments
        self.events = events
    }

    enum CodingKeys: String, CodingKey {
        case serviceName, serviceArn, status, desiredCount, runningCount, pendingCount, launchType, deployments, events
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        serviceName = try container.decode(String.self, forKey: .serviceName)
        serviceArn = try container.decodeIfPresent(String.self, forKey: .serviceArn)
        status = try container.decodeIfPresent(String.self, forKey: .status)
        // ECS always sends the three counts. An answer without one is not ECS's (a proxy, a
        // stand-in, a truncated body), and a default of 0 would be a reading nobody gave: a
        // desired count of 0 is where the decision would start. The call fails instead, so the
        // reconcile holds (the fuzzer found the default: Fuzz/Corpus/aws-answers/crash-*).
        desiredCount = try container.decode(Int.self, forKey: .desiredCount)
        runningCount = try container.decode(Int.self, forKey: .runningCount)
        pendingCount = try container.decode(Int.self, forKey: .pendingCount)
        launchType = try container.decodeIfPresent(String.self, forKey: .launchType)
        deployments = try container.decodeIfPresent([ECSDeployment].self, forKey: .deployments) ?? []
        events = try container.decodeIfPresent([ECSServiceEvent].self, forKey: .events) ?? []
    }

    /// The deployment ECS is moving to (`PRIMARY`).
    public var primaryDeployment: ECSDeployment? { deployments.first { $0.status == "PRIMARY" } }

    /// A rollout is under way: more than one deployment, or the primary one not yet completed.
    /// Scaling decisions wait for it (the core's "never during a deployment").
    public var isDeploying: Bool {
        if deployments.count > 1 { return true }
        guard let primary = primaryDeployment else { return false }
        return primary.rolloutState == "IN_PROGRESS"
    }

    /// The short rollout state shown to people: `COMPLETED`, `IN_PROGRESS (2 deployments)`.
    public var deploymentSummary: String {
        let state = primaryDeployment?.rolloutState ?? (deployments.isEmpty ? "none" : "unknown")
        return deployments.count > 1 ? "\(state) (\(deployments.count) deployments)" : state
    }
}

public struct ECSDeployment: Sendable, Equatable, Decodable {
    public var id: String
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    public var status: String
    public var desiredCount: Int
    public var runningCount: Int
    public var pendingCount: Int
    /// `COMPLETED`, `IN_PROGRESS` or `FAILED`; absent for deployments made before ECS had it.
    public var rolloutState: String?
    public var rolloutStateReason: String?
    /// Seconds since the epoch, as ECS sends timestamps.
    public var createdAt: Double?
    public var updatedAt: Double?

    public init(
        id: String, status: String, desiredCount: Int, runningCount: Int, pendingCount: Int, rolloutState: String? = nil,
        rolloutStateReason: String? = nil, createdAt: Double? = nil, updatedAt: Double? = nil
    ) {
        self.id = id
        self.status = status
        self.desiredCount = desiredCount
        self.runningCount = runningCount
        self.pendingCount = pendingCount
        self.rolloutState = rolloutState
        self.rolloutStateReason = rolloutStateReason
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, status, desiredCount, runningCount, pendingCount, rolloutState, rolloutStateReason, createdAt, updatedAt
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIfPresent(String.self, forKey: .id) ?? ""
        status = try container.decodeIfPresent(String.self, forKey: .status) ?? ""
        desiredCount = try container.decodeIfPresent(Int.self, forKey: .desiredCount) ?? 0
        runningCount = try container.decodeIfPresent(Int.self, forKey: .runningCount) ?? 0
        pendingCount = try container.decodeIfPresent(Int.self, forKey: .pendingCount) ?? 0
        rolloutState = try container.decodeIfPresent(String.self, forKey: .rolloutState)
        rolloutStateReason = try container.decodeIfPresent(String.self, forKey: .rolloutStateReason)
        createdAt = try ECSTime.decode(container, .createdAt)
        updatedAt = try ECSTime.decode(container, .updatedAt)
    }
}

public struct ECSServiceEvent: Sendable, Equatable, Decodable {
    public var id: String?
    public var createdAt: Double?
    public var message: String

    enum CodingKeys: String, CodingKey { case id, createdAt, message }

    public init(id: String? = nil, createdAt: Double? = nil, message: String) {
        self.id = id
        self.createdAt = createdAt
        self.message = message
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIfPresent(String.self, forKey: .id)
        createdAt = try ECSTime.decode(container, .createdAt)
        message = try container.decodeIfPresent(String.self, forKey: .message) ?? ""
    }
}

/// One task, as the busy-aware scale-in needs it.
public struct ECSTask: Sendable, Equatable, Decodable {
    public var taskArn: String
    /// `PROVISIONING`, `PENDING`, `ACTIVATING`, `RUNNING`, `DEACTIVATING`, `STOPPING`, …, `STOPPED`.
    public var lastStatus: String
    public var desiredStatus: String?
    /// The private IPv4 address of its network interface (awsvpc), how a worker is matched to
    /// the hostname it registers in Redis.
    public var privateIPv4Address: String?
    public var startedAt: Instant?
    /// When ECS created it: with `startedAt`, how long it took to start.
    public var createdAt: Instant?
    /// `service:<name>` for a task a service started; `family:<name>` for one started by hand.
    public var group: String?

    public init(
        taskArn: String, lastStatus: String, desiredStatus: String? = nil, privateIPv4Address: String? = nil, startedAt: Instant? = nil,
        group: String? = nil
    ) {
        self.taskArn = taskArn
        self.lastStatus = lastStatus
        self.desiredStatus = desiredStatus
        self.privateIPv4Address = privateIPv4Address
        self.startedAt = startedAt
        self.group = group
    }

    /// The service that started the task, from its group; `nil` for a task started by hand.
    public var serviceName: String? {
        guard let group, group.hasPrefix("service:") else { return nil }
        let name = group.dropFirst("service:".count)
        return name.isEmpty ? nil : String(name)
    }

    /// The task id, the last part of its ARN.
    public var taskID: String { ARN.lastPart(taskArn) }

    enum CodingKeys: String, CodingKey { case taskArn, lastStatus, desiredStatus, startedAt, createdAt, attachments, containers, group }

    struct Attachment: Decodable {
        var type: String?
        var details: [Detail]?
        struct Detail: Decodable { var name: String?; var value: String? }
    }

    struct Container: Decodable {
        var networkInterfaces: [Interface]?
        struct Interface: Decodable { var privateIpv4Address: String? }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        taskArn = try container.decode(String.self, forKey: .taskArn)
        lastStatus = try container.decodeIfPresent(String.self, forKey: .lastStatus) ?? "UNKNOWN"
        desiredStatus = try container.decodeIfPresent(String.self, forKey: .desiredStatus)
        group = try container.decodeIfPresent(String.self, forKey: .group)
        startedAt = try ECSTime.decode(container, .startedAt).map { Instant(secondsSinceEpoch: $0) }
        createdAt = try ECSTime.decode(container, .createdAt).map { Instant(secondsSinceEpoch: $0) }
        let attachments = try container.decodeIfPresent([Attachment].self, forKey: .attachments) ?? []
        let fromENI = attachments.first { $0.type == "ElasticNetworkInterface" }?
            .details?.first { $0.name == "privateIPv4Address" }?.value
        let containers = try container.decodeIfPresent([Container].self, forKey: .containers) ?? []
        privateIPv4Address = fromENI ?? containers.lazy.compactMap { $0.networkInterfaces?.first?.privateIpv4Address }.first
    }
}

/// A task's scale-in protection.
public struct ECSTaskProtection: Sendable, Equatable, Decodable {
    public var taskArn: String
    public var protectionEnabled: Bool
    public var expirationDate: Instant?

    public init(taskArn: String, protectionEnabled: Bool, expirationDate: Instant? = nil) {
        self.taskArn = taskArn
        self.protectionEnabled = protectionEnabled
        self.expirationDate = expirationDate
    }

    enum CodingKeys: String, CodingKey { case taskArn, protectionEnabled, expirationDate }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        taskArn = try container.decode(String.self, forKey: .taskArn)
        protectionEnabled = try container.decodeIfPresent(Bool.self, forKey: .protectionEnabled) ?? false
        expirationDate = try ECSTime.decode(container, .expirationDate).map { Instant(secondsSinceEpoch: $0) }
    }
}

/// A per-item failure ECS reports beside the items that worked (`MISSING`, `INACTIVE`).
public struct ECSFailure: Sendable, Equatable, Decodable {
    public var arn: String?
    public var reason: String?
    public var detail: String?
}

/// An Application Auto Scaling target registered on a service's desired count.
public struct ScalableTarget: Sendable, Equatable, Decodable {
    public var resourceID: String
    public var minCapacity: Int
    public var maxCapacity: Int
    public var suspended: Bool

    enum CodingKeys: String, CodingKey { case resourceID = "ResourceId", minCapacity = "MinCapacity", maxCapacity = "MaxCapacity", suspendedState = "SuspendedState" }
    struct Suspended: Decodable { var DynamicScalingInSuspended: Bool?; var DynamicScalingOutSuspended: Bool? }

    public init(resourceID: String, minCapacity: Int, maxCapacity: Int, suspended: Bool = false) {
        self.resourceID = resourceID
        self.minCapacity = minCapacity
        self.maxCapacity = maxCapacity
        self.suspended = suspended
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        resourceID = try container.decode(String.self, forKey: .resourceID)
        minCapacity = try container.decodeIfPresent(Int.self, forKey: .minCapacity) ?? 0
        maxCapacity = try container.decodeIfPresent(Int.self, forKey: .maxCapacity) ?? 0
        let state = try container.decodeIfPresent(Suspended.self, forKey: .suspendedState)
        suspended = state?.DynamicScalingInSuspended == true && state?.DynamicScalingOutSuspended == true
    }
}

/// ECS sends timestamps as seconds since the epoch (a JSON number); some front ends and moto
/// send ISO 8601 strings. Both are read.
enum ECSTime {
    static func decode<K: CodingKey>(_ container: KeyedDecodingContainer<K>, _ key: K) throws -> Double? {
        if let number = try? container.decodeIfPresent(Double.self, forKey: key) { return number }
        guard let text = try container.decodeIfPresent(String.self, forKey: key) else { return nil }
        if let number = Double(text) { return number }
        guard let instant = CivilTime.parseTimestamp(text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "not a timestamp: \(text)")
        }
        return instant.secondsSinceEpoch
    }
}
