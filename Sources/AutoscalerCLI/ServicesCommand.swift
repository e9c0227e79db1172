import AWSClient
import ArgumentParser
import Controller
import AutoscalerCore
import Foundation
import Logging

/// `redash-autoscaler services`: what ECS says about every service in the policy, and whether
/// Application Auto Scaling also drives one of them.
public struct ServicesCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "services",
        abstract: "Show desired/running/pending tasks and deployment state of every service in the policy.",
        discussion: """
            Read only. Also reports any Application Auto Scaling target registered on a service's desired \
            count: two autoscalers on one service undo each other's changes. Exits 1 when a service is missing \
            or ECS cannot be read.
            """
    )

    @OptionGroup public var options: PolicyOptions
    @OptionGroup public var aws: AWSOptions

    @Flag(help: "Print one JSON object instead of a table.")
    public var json = false

    @OptionGroup public var logging: LoggingOptions

    public init() {}

    public func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let (policy, _) = try await PolicySource.load(options, environment: environment, allowEmbedded: false, aws: aws)
        let logger = logging.logger("redash-autoscaler.services")
        let context: AWSContext
        do {
            context = try aws.context(for: policy, environment: environment, logger: logger)
        } catch {
            throw ValidationError("\(error)")
        }
        let report = await Self.report(policy: policy, context: context, json: json)
        if !report.standardError.isEmpty { StandardError.write(report.standardError) }
        print(report.standardOutput)
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }

    /// Reads every service of `policy` and any scaling targets on them, and renders the result.
    public static func report(policy: Policy, context: AWSContext, json: Bool) async -> CommandReport {
        let names = policy.services.map(\.name)
        let services: ECSClient.ServicesReport
        do {
            services = try await context.ecs.describeServices(names)
        } catch {
            let message = "cannot read services of cluster \(policy.cluster) in \(context.region): \(error)"
            return CommandReport(
                exitCode: 1, standardOutput: json ? JSONOutput.render(["error": message]) : "", standardError: json ? "" : message)
        }
        var targets: [String: ScalableTarget] = [:]
        var targetCheck: String?
        do {
            targets = try await context.autoScaling.scalableTargets(cluster: policy.cluster, services: names)
        } catch {
            targetCheck = "could not check for Application Auto Scaling targets: \(error)"
        }
        let warnings = names.compactMap { name in
            targets[name].map {
                "WARNING: \(name) has an Application Auto Scaling target (min \($0.minCapacity), max \($0.maxCapacity)\($0.suspended ? ", suspended" : "")): it and this controller will overwrite each other's desired count. Deregister it (aws application-autoscaling deregister-scalable-target --service-namespace ecs --scalable-dimension ecs:service:DesiredCount --resource-id \($0.resourceID)) before running the controller."
            }
        }
        let exitCode: Int32 = services.missing.isEmpty ? 0 : 1
        let output = json
            ? renderJSON(policy: policy, context: context, services: services, targets: targets, targetCheck: targetCheck)
            : renderTable(policy: policy, context: context, services: services, targets: targets, targetCheck: targetCheck)
        return CommandReport(exitCode: exitCode, standardOutput: output, standardError: (warnings + [targetCheck].compactMap { $0 }).joined(separator: "\n"))
    }

    static func renderTable(
        policy: Policy, context: AWSContext, services: ECSClient.ServicesReport, targets: [String: ScalableTarget], targetCheck: String?
    ) -> String {
        let width = max(12, (policy.services.map(\.name.count).max() ?? 0) + 2)
        var lines = ["cluster \(policy.cluster) · \(context.region) (from \(context.regionSource)) · \(context.ecs.endpoint)"]
        lines.append("service".rightPadded(to: width) + "desired  running  pending  bounds   deployment          autoscaling target")
        let byName = Dictionary(services.services.map { ($0.serviceName, $0) }, uniquingKeysWith: { first, _ in first })
        for servicePolicy in policy.services {
            let label = servicePolicy.name.rightPadded(to: width)
            let bounds = "\(servicePolicy.minTasks)–\(servicePolicy.maxTasks)"
            guard let service = byName[servicePolicy.name] else {
                let reason = services.missing.first { $0.name == servicePolicy.name }?.reason ?? "MISSING"
                lines.append(label + "not found in cluster \(policy.cluster) (\(reason))")
                continue
            }
            let target = targets[servicePolicy.name].map { "YES (\($0.minCapacity)–\($0.maxCapacity))" } ?? (targetCheck == nil ? "none" : "unknown")
            lines.append(
                label + "\(service.desiredCount)".leftPadded(to: 7) + "\(service.runningCount)".leftPadded(to: 9)
                    + "\(service.pendingCount)".leftPadded(to: 9) + "  " + bounds.rightPadded(to: 7) + "  "
                    + service.deploymentSummary.rightPadded(to: 18) + "  " + target)
            if service.desiredCount < servicePolicy.minTasks || service.desiredCount > servicePolicy.maxTasks {
                lines.append("".rightPadded(to: width) + "note: desired \(service.desiredCount) is outside the policy's bounds; the controller will move it inside")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func renderJSON(
        policy: Policy, context: AWSContext, services: ECSClient.ServicesReport, targets: [String: ScalableTarget], targetCheck: String?
    ) -> String {
        let byName = Dictionary(services.services.map { ($0.serviceName, $0) }, uniquingKeysWith: { first, _ in first })
        let entries = policy.services.map { servicePolicy -> [String: Any] in
            var entry: [String: Any] = ["name": servicePolicy.name, "minTasks": servicePolicy.minTasks, "maxTasks": servicePolicy.maxTasks]
            if let service = byName[servicePolicy.name] {
                entry["found"] = true
                entry["desired"] = service.desiredCount
                entry["running"] = service.runningCount
                entry["pending"] = service.pendingCount
                entry["status"] = service.status as Any
                entry["deploying"] = service.isDeploying
                entry["rolloutState"] = service.primaryDeployment?.rolloutState as Any
                entry["deployments"] = service.deployments.map {
                    ["id": $0.id, "status": $0.status, "desired": $0.desiredCount, "running": $0.runningCount,
                     "pending": $0.pendingCount, "rolloutState": $0.rolloutState as Any] as [String: Any]
                }
                entry["recentEvents"] = service.events.prefix(5).map {
                    ["at": $0.createdAt.map { Instant(secondsSinceEpoch: $0).description } as Any, "message": $0.message] as [String: Any]
                }
            } else {
                entry["found"] = false
                entry["reason"] = services.missing.first { $0.name == servicePolicy.name }?.reason ?? "MISSING"
            }
            if let target = targets[servicePolicy.name] {
                entry["autoscalingTarget"] = ["resourceId": target.resourceID, "minCapacity": target.minCapacity, "maxCapacity": target.maxCapacity, "suspended": target.suspended] as [String: Any]
            } else {
                entry["autoscalingTarget"] = targetCheck == nil ? NSNull() : "unknown" as Any
            }
            return entry
        }
        var object: [String: Any] = [
            "cluster": policy.cluster, "region": context.region, "regionSource": context.regionSource,
            "endpoint": context.ecs.endpoint.description, "services": entries,
        ]
        if let targetCheck { object["autoscalingTargetCheck"] = targetCheck }
        return JSONOutput.render(object)
    }
}
