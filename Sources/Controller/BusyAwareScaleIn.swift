import AWSClient
import AutoscalerCore
import Logging
import QueueProbes

/// What busy-aware scale-in learned about a service's tasks this tick.
enum TaskObservation: Sendable {
    /// Off for this service, no task API, or Celery (no worker registry).
    case notApplicable
    /// No busy worker and nothing this controller protected: nothing to do.
    case nothingToProtect
    /// The tasks could not be read: busy tasks may be unprotected.
    case failed
    case observed(ObservedTasks)
}

/// The tasks of a service as busy-aware scale-in sees them.
struct ObservedTasks: Sendable {
    struct Task: Sendable {
        var arn: String
        var busyWorkers: Int
        var protectedUntil: Instant?
    }

    var tasks: [Task]
    var unmappedBusy: Int
}

extension Reconciler {
    /// Reads the service's tasks and maps its busy RQ workers to them, when busy-aware scale-in
    /// is on and there is something to protect or release. Sets `state.busyTasks` (the floor
    /// the rule keeps) when every busy worker was mapped. Celery records no workers: there the
    /// running-jobs floor alone holds.
    func observeTasks(_ service: ServicePolicy, probe: ProbeReport, state: inout ServiceState?, errors: inout [String: String]) async -> TaskObservation {
        guard service.protectBusyTasks, let protector = dependencies.protector, state != nil, probe.layout == .rq else { return .notApplicable }
        var seen = Set<String>()
        var workers: [WorkerIdentity] = []
        for queue in service.queues {
            for record in probe.workers[queue] ?? [] where seen.insert(record.name).inserted {
                workers.append(WorkerIdentity(name: record.name, hostname: record.hostname, ipAddress: record.ipAddress, isBusy: record.isBusy))
            }
        }
        let anyBusy = workers.contains(where: \.isBusy)
        guard anyBusy || !(protectedByUs[service.name] ?? []).isEmpty else {
            state?.busyTasks = 0
            metrics.set("redash_autoscaler_unmapped_busy_workers", ["service": service.name], 0)
            return .nothingToProtect
        }
        do {
            let arns = try await protector.listTasks(service: service.name)
            let described = arns.isEmpty ? [] : try await protector.describeTasks(arns)
            let protection = arns.isEmpty ? ECSClient.ProtectionReport() : try await protector.taskProtection(arns)
            let protectedUntil = Dictionary(
                protection.tasks.filter(\.protectionEnabled).map { ($0.taskArn, $0.expirationDate ?? Instant(secondsSinceEpoch: .infinity)) },
                uniquingKeysWith: { first, _ in first })
            let running = described.filter { $0.lastStatus == "RUNNING" || $0.lastStatus == "ACTIVATING" || $0.lastStatus == "PENDING" }
            let mapping = WorkerTaskMapping.map(workers: workers, tasks: running.map { TaskAddress(id: $0.taskArn, privateIP: $0.privateIPv4Address) })
            state?.busyTasks = mapping.busyTasks
            metrics.set("redash_autoscaler_unmapped_busy_workers", ["service": service.name], Double(mapping.unmappedBusy))
            if mapping.unmappedBusy > 0 {
                logger.warning("busy workers that match no task: only the running-jobs floor protects them", metadata: [
                    "service": "\(service.name)", "unmapped": "\(mapping.unmappedBusy)",
                ])
            }
            return .observed(ObservedTasks(
                tasks: running.map { .init(arn: $0.taskArn, busyWorkers: mapping.busyWorkers[$0.taskArn] ?? 0, protectedUntil: protectedUntil[$0.taskArn]) },
                unmappedBusy: mapping.unmappedBusy))
        } catch {
            errors["ecs"] = "tasks of \(service.name): \(error)"
            state?.busyTasks = nil
            return .failed
        }
    }

    /// Protects busy tasks (renewing protections that will soon run out) and releases idle ones,
    /// before any scale-in. Returns false when busy tasks that should be protected are not,
    /// so that the caller does not scale in this tick.
    func protect(
        _ observation: TaskObservation, service: ServicePolicy, decision: Decision, state: ServiceState?, isLeader: Bool, now: Instant,
        errors: inout [String: String]
    ) async -> Bool {
        let observed: ObservedTasks
        switch observation {
        case .notApplicable, .nothingToProtect: return true
        case .failed: return false
        case .observed(let tasks): observed = tasks
        }
        guard let state else { return false }
        let renewBefore = now + service.taskProtection / 3
        let plan = ScaleInProtection.plan(
            tasks: observed.tasks.map { TaskActivity(id: $0.arn, busyWorkers: $0.busyWorkers, isProtected: $0.protectedUntil.map { $0 > now } ?? false) },
            desired: decision.desired ?? state.desired, isDeploymentInProgress: state.isDeploymentInProgress,
            renewing: Set(observed.tasks.filter { ($0.protectedUntil ?? now) <= renewBefore }.map(\.arn)))
        guard !plan.isEmpty else { return true }
        let names = { (arns: [String]) in arns.map { $0.split(separator: "/").last.map(String.init) ?? $0 }.joined(separator: ",") }
        if mode == .dryRun || !isLeader {
            if mode == .dryRun {
                logger.notice("would set task protection", metadata: ["service": "\(service.name)", "protect": "\(names(plan.protect))", "release": "\(names(plan.release))"])
            }
            return true
        }
        guard let protector = dependencies.protector else { return false }
        var held = true
        do {
            if !plan.protect.isEmpty {
                let minutes = max(1, min(2880, Int((service.taskProtection.inSeconds / 60).rounded())))
                let report = try await protector.updateTaskProtection(plan.protect, enabled: true, expiresInMinutes: minutes)
                protectedByUs[service.name, default: []].formUnion(report.tasks.filter(\.protectionEnabled).map(\.taskArn))
                for failure in report.failures {
                    held = false
                    logger.warning("task protection refused", metadata: [
                        "service": "\(service.name)", "task": "\(failure.arn ?? "?")", "reason": "\(failure.reason ?? "?")",
                        "note": "\(failure.reason == "DEPLOYMENT_BLOCKED" ? "a deployment is in progress; protection would block it" : "")",
                    ])
                }
                metrics.increment("redash_autoscaler_task_protection_changes_total", ["service": service.name, "action": "protect"], by: report.tasks.count)
            }
            if !plan.release.isEmpty {
                let report = try await protector.updateTaskProtection(plan.release, enabled: false, expiresInMinutes: nil)
                protectedByUs[service.name, default: []].subtract(report.tasks.map(\.taskArn))
                metrics.increment("redash_autoscaler_task_protection_changes_total", ["service": service.name, "action": "release"], by: report.tasks.count)
            }
            logger.info("task protection updated", metadata: ["service": "\(service.name)", "protected": "\(names(plan.protect))", "released": "\(names(plan.release))"])
        } catch {
            errors["ecs"] = "task protection of \(service.name): \(error)"
            logger.error("task protection failed; not scaling in this tick", metadata: ["service": "\(service.name)", "error": "\(error)"])
            held = false
        }
        return held
    }
}
