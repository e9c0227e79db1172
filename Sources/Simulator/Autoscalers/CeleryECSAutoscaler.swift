import AutoscalerCore

/// danwiltshire/celery-ecs-autoscaler (open source, for ECS), as its README and code describe it.
///
/// Every `pollSeconds` (15) it sums LLEN over the service's queues (pending jobs only) and reads
/// the service's desiredCount. Pressure = queued ÷ (desired × concurrency); the size it aims for
/// is `ceil(queued ÷ (concurrency × targetPressure))`, or the minimum when nothing is queued.
/// Above `targetPressure` (0.75) it scales out towards that size by at most `scaleOutStep` (2);
/// below `scaleInPressure` (0.25) it scales in towards it by at most `scaleInStep` (1); in between
/// it holds. Each direction has its own cooldown (60 s out, 120 s in). It runs in dry-run by
/// default; the simulation runs it live, as anyone using it would. It has no view of running
/// jobs, and ECS stops whichever tasks it likes on scale-in.
public struct CeleryECSAutoscaler: SimulatedAutoscaler {
    /// The documented knobs of one `EcsServiceTarget` and the poll loop.
    public struct Settings: Hashable, Sendable {
        /// `poll_seconds`: seconds between two reads.
        public var pollSeconds: Double = 15
        /// `target_pressure`: scale out above it, and size for it.
        public var targetPressure: Double = 0.75
        /// `scale_in_pressure`: scale in below it.
        public var scaleInPressure: Double = 0.25
        /// `scale_out_step`: most tasks one scale-out adds.
        public var scaleOutStep: Int = 2
        /// `scale_in_step`: most tasks one scale-in removes.
        public var scaleInStep: Int = 1
        /// `scale_out_cooldown_seconds`.
        public var scaleOutCooldown: Double = 60
        /// `scale_in_cooldown_seconds`.
        public var scaleInCooldown: Double = 120

        /// Creates settings; omitted knobs take the project's defaults.
        public init(
            targetPressure: Double = 0.75, scaleInPressure: Double = 0.25, scaleOutStep: Int = 2, scaleInStep: Int = 1,
            scaleOutCooldown: Double = 60, scaleInCooldown: Double = 120
        ) {
            self.targetPressure = targetPressure
            self.scaleInPressure = scaleInPressure
            self.scaleOutStep = scaleOutStep
            self.scaleInStep = scaleInStep
            self.scaleOutCooldown = scaleOutCooldown
            self.scaleInCooldown = scaleInCooldown
        }

        /// The project's defaults.
        public static let defaults = Settings()

        /// The knobs in a few words, for reports.
        public var summary: String {
            "pressure out >\(compact(targetPressure)) in <\(compact(scaleInPressure)), +\(scaleOutStep)/−\(scaleInStep), cooldowns \(Int(scaleOutCooldown))/\(Int(scaleInCooldown)) s"
        }
    }

    public let name: String
    public var tickInterval: Double { settings.pollSeconds }
    public var readsTasks: Bool { false }
    /// The knobs it runs with.
    public let settings: Settings
    let services: [ServicePolicy]
    var lastScaleOut: [Double]
    var lastScaleIn: [Double]
    var elapsed: Double

    /// - Parameter name: for reports; by default the settings in a few words.
    public init(policy: Policy, settings: Settings = .defaults, name: String? = nil) {
        self.settings = settings
        self.services = policy.services
        self.name = name ?? "celery-ecs-autoscaler (\(settings.summary))"
        lastScaleOut = Array(repeating: -.infinity, count: policy.services.count)
        lastScaleIn = Array(repeating: -.infinity, count: policy.services.count)
        elapsed = -settings.pollSeconds
    }

    public mutating func tick(_ view: ClusterView) -> AutoscalerActions {
        elapsed += tickInterval
        var actions = AutoscalerActions()
        for (index, service) in services.enumerated() {
            let current = view.services[index].desired
            let queued = service.queues.reduce(0) { $0 + (view.queues[$1]?.pending ?? 0) }
            let concurrency = Double(service.workersPerTask)
            let pressure = Double(queued) / max(1, Double(current) * concurrency)
            let aim = queued == 0 ? 0 : Int((Double(queued) / (concurrency * settings.targetPressure) - 1e-9).rounded(.up))
            let size = min(service.maxTasks, max(service.minTasks, aim))
            if pressure > settings.targetPressure {
                let next = min(size, current + settings.scaleOutStep)
                if next > current, elapsed - lastScaleOut[index] >= settings.scaleOutCooldown {
                    actions.desired[service.name] = next
                    lastScaleOut[index] = elapsed
                }
            } else if pressure < settings.scaleInPressure {
                let next = max(size, current - settings.scaleInStep)
                if next < current, elapsed - lastScaleIn[index] >= settings.scaleInCooldown {
                    actions.desired[service.name] = next
                    lastScaleIn[index] = elapsed
                }
            }
        }
        return actions
    }
}
