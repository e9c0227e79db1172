/// What one task is doing, as far as scale-in protection is concerned.
public struct TaskActivity: Hashable, Sendable {
    /// The ECS task ARN (or any stable id).
    public var id: String
    /// Workers of this task running a job.
    public var busyWorkers: Int
    /// Whether ECS scale-in protection is on for the task now.
    public var isProtected: Bool

    /// Creates a task activity.
    public init(id: String, busyWorkers: Int, isProtected: Bool) {
        self.id = id
        self.busyWorkers = busyWorkers
        self.isProtected = isProtected
    }
}

/// Protection changes to send to ECS (UpdateTaskProtection), as task ids.
public struct ProtectionPlan: Hashable, Sendable {
    /// Tasks to protect (or renew).
    public var protect: [String] = []
    /// Tasks to release.
    public var release: [String] = []

    /// Creates a plan.
    public init(protect: [String] = [], release: [String] = []) {
        self.protect = protect
        self.release = release
    }

    /// True when there is nothing to send.
    public var isEmpty: Bool { protect.isEmpty && release.isEmpty }
}

/// Decides which tasks carry ECS task scale-in protection.
///
/// ECS, not the autoscaler, picks which task a scale-in stops, and it does not prefer idle ones;
/// a stopped Redash worker aborts its running query. Protection is the only way to steer it:
/// busy tasks are protected, idle ones released, so ECS can only stop idle tasks.
public enum ScaleInProtection {
    /// The changes that leave exactly the right tasks protected.
    ///
    /// - Busy tasks are protected, busiest first, but never more of them than `desired`:
    ///   protection on more tasks than the service should run would keep it above its count.
    /// - During an ECS deployment nothing stays protected, so protection never blocks a rollout.
    /// - `renewing` lists busy tasks whose protection is close to expiry; they are protected
    ///   again even though they already are.
    public static func plan(
        tasks: [TaskActivity], desired: Int, isDeploymentInProgress: Bool,
        renewing: Set<String> = []
    ) -> ProtectionPlan {
        var shouldProtect = Set<String>()
        if !isDeploymentInProgress {
            let busy = tasks.filter { $0.busyWorkers > 0 }
                .sorted { ($0.busyWorkers, $1.id) > ($1.busyWorkers, $0.id) }
            shouldProtect = Set(busy.prefix(max(0, desired)).map(\.id))
        }
        var plan = ProtectionPlan()
        for task in tasks {
            let wanted = shouldProtect.contains(task.id)
            if wanted && (!task.isProtected || renewing.contains(task.id)) {
                plan.protect.append(task.id)
            } else if !wanted && task.isProtected {
                plan.release.append(task.id)
            }
        }
        return plan
    }
}
