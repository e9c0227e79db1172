import AutoscalerCore

/// The ECS client as the reconciler's ports: ECS's answers become core values here, so that the
/// wire types (`ECSService`, `ECSTask`, `ECSTaskProtection`) never leave this module.
extension ECSClient: ClusterReader, ClusterWriter {
    public func services(_ names: [String], now: Instant) async throws -> ServicesSnapshot {
        let report = try await describeServices(names)
        var states: [String: ServiceState] = [:]
        var missing = report.missing.map { ServicesSnapshot.Missing(name: $0.name, reason: $0.reason) }
        for service in report.services {
            // Every number from outside is suspect: a desiredCount ECS could not mean is no
            // reading (the decision starts from it); running and pending are clamped.
            guard (0...Self.countLimit).contains(service.desiredCount) else {
                missing.append(.init(name: service.serviceName, reason: "ECS reported an implausible desiredCount \(service.desiredCount)"))
                continue
            }
            let clamp = { (count: Int) in min(max(count, 0), Self.countLimit) }
            states[service.serviceName] = ServiceState(
                desired: service.desiredCount, running: clamp(service.runningCount), pending: clamp(service.pendingCount),
                isDeploymentInProgress: service.isDeploying, observedAt: now)
        }
        return ServicesSnapshot(states: states, missing: missing)
    }

    public func tasks(of names: [String], now: Instant) async throws -> [String: [TaskSnapshot]] {
        var result: [String: [TaskSnapshot]] = [:]
        for name in names {
            let arns = try await listTasks(service: name)
            guard !arns.isEmpty else {
                result[name] = []
                continue
            }
            let described = try await describeTasks(arns)
            let protection = try await taskProtection(arns)
            let protectedUntil = Dictionary(
                protection.tasks.filter(\.protectionEnabled).map { ($0.taskArn, $0.expirationDate ?? Instant(secondsSinceEpoch: .infinity)) },
                uniquingKeysWith: { first, _ in first })
            result[name] = described.map { task in
                TaskSnapshot(id: task.taskArn, privateIP: task.privateIPv4Address, phase: Self.phase(task.lastStatus), protectedUntil: protectedUntil[task.taskArn])
            }
        }
        return result
    }

    /// The most tasks a service count from ECS may hold (ECS allows thousands per service).
    static let countLimit = 100_000

    /// ECS's task life cycle in the three phases scaling cares about.
    static func phase(_ lastStatus: String) -> TaskSnapshot.Phase {
        switch lastStatus {
        case "PROVISIONING", "PENDING", "ACTIVATING": .starting
        case "RUNNING": .running
        default: .stopping
        }
    }

    public func setDesiredCount(_ count: Int, service: String, within deadline: Duration) async throws {
        _ = try await setDesiredCount(service: service, to: count, deadline: deadline)
    }

    public func setProtection(_ isEnabled: Bool, tasks: [String], duration: Duration?, within deadline: Duration) async throws -> ProtectionChange {
        // ECS takes whole minutes, 1 to 2,880.
        let minutes = duration.map { max(1, min(2880, Int(($0.inSeconds / 60).rounded()))) }
        let report = try await updateTaskProtection(tasks, enabled: isEnabled, expiresInMinutes: minutes, deadline: deadline)
        let changed = report.tasks.filter { $0.protectionEnabled == isEnabled }.map(\.taskArn)
        let refused = report.failures.map { ProtectionChange.Refusal(task: $0.arn ?? "?", reason: $0.reason ?? "unknown") }
        return isEnabled ? ProtectionChange(protected: changed, refused: refused) : ProtectionChange(released: changed, releaseRefused: refused)
    }
}
