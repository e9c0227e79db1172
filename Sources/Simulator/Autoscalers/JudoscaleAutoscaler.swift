import AutoscalerCore

/// Judoscale on ECS with its Python RQ adapter, as its documentation and adapter code describe
/// them.
///
/// The adapter inside each running task reports every 10 s the queue time of the oldest pending
/// job of each queue (0 for an empty queue); Judoscale takes the largest over the service's
/// queues, aggregated per 10 s, and needs a running task to hear anything. Upscale: the latest
/// aggregate is above `upscaleThreshold`, no upscale within `upscaleFrequency` (3 minutes in the
/// older guide; the current one advises at least a task start), and below the range's top: add
/// `upscaleJumps` tasks (1). Downscale: every aggregate of the last `downscaleDelay` (10 minutes)
/// below `downscaleThreshold`, and no downscale within it: remove one task. With busy-job tracking
/// (off by default in the adapter) no downscale happens while a job of the queues runs.
///
/// The default queue-time thresholds for workers are set in Judoscale's dashboard and are not
/// documented where we could read them; every Judoscale row of a report therefore names its
/// thresholds.
public struct JudoscaleAutoscaler: SimulatedAutoscaler {
    /// The documented knobs of a worker service in Judoscale.
    public struct Settings: Hashable, Sendable {
        /// Upscale when queue time is above this, seconds.
        public var upscaleThreshold: Double
        /// Downscale only while queue time stays below this, seconds.
        public var downscaleThreshold: Double
        /// Tasks added per upscale.
        public var upscaleJumps: Int = 1
        /// Least time between two upscales, seconds.
        public var upscaleFrequency: Double = 180
        /// Quiet time before a downscale and between downscales, seconds.
        public var downscaleDelay: Double = 600
        /// The adapter's `TRACK_BUSY_JOBS` with the dashboard's option to hold downscales while
        /// jobs run.
        public var tracksBusyJobs = false

        /// Creates settings; omitted knobs take Judoscale's defaults.
        public init(
            upscaleThreshold: Double, downscaleThreshold: Double, upscaleJumps: Int = 1, upscaleFrequency: Double = 180,
            downscaleDelay: Double = 600, tracksBusyJobs: Bool = false
        ) {
            self.upscaleThreshold = upscaleThreshold
            self.downscaleThreshold = downscaleThreshold
            self.upscaleJumps = upscaleJumps
            self.upscaleFrequency = upscaleFrequency
            self.downscaleDelay = downscaleDelay
            self.tracksBusyJobs = tracksBusyJobs
        }

        /// The knobs in a few words, for reports.
        public var summary: String {
            "queue time >\(compact(upscaleThreshold)) s +\(upscaleJumps) every \(Int(upscaleFrequency)) s, <\(compact(downscaleThreshold)) s for \(Int(downscaleDelay / 60)) min −1"
                + (tracksBusyJobs ? ", busy jobs tracked" : "")
        }
    }

    public let name: String
    public let tickInterval: Double = 10
    public var readsTasks: Bool { false }
    /// The knobs it runs with.
    public let settings: Settings
    let services: [ServicePolicy]
    var lastUpscale: [Double]
    var lastDownscale: [Double]
    var lastUnsettled: [Double]
    var elapsed = -10.0

    /// - Parameter name: for reports; by default the settings in a few words.
    public init(policy: Policy, settings: Settings, name: String? = nil) {
        self.settings = settings
        self.services = policy.services
        self.name = name ?? "Judoscale (\(settings.summary))"
        lastUpscale = Array(repeating: -.infinity, count: policy.services.count)
        lastDownscale = Array(repeating: -.infinity, count: policy.services.count)
        lastUnsettled = Array(repeating: 0, count: policy.services.count)
    }

    public mutating func tick(_ view: ClusterView) -> AutoscalerActions {
        elapsed += tickInterval
        var actions = AutoscalerActions()
        for (index, service) in services.enumerated() {
            let serviceView = view.services[index]
            // The adapter runs inside the tasks: with none running, Judoscale hears nothing.
            guard serviceView.running > 0 else { continue }
            var queueTime = 0.0, busy = 0
            for queue in service.queues {
                guard let observation = view.queues[queue] else { continue }
                queueTime = max(queueTime, observation.oldestAge?.inSeconds ?? 0)
                busy += observation.running ?? 0
            }
            if queueTime >= settings.downscaleThreshold || (settings.tracksBusyJobs && busy > 0) { lastUnsettled[index] = elapsed }
            let current = serviceView.desired
            if queueTime > settings.upscaleThreshold, current < service.maxTasks, elapsed - lastUpscale[index] >= settings.upscaleFrequency {
                actions.desired[service.name] = min(service.maxTasks, current + settings.upscaleJumps)
                lastUpscale[index] = elapsed
            } else if current > service.minTasks, elapsed - lastUnsettled[index] >= settings.downscaleDelay,
                      elapsed - lastDownscale[index] >= settings.downscaleDelay {
                actions.desired[service.name] = current - 1
                lastDownscale[index] = elapsed
            }
        }
        return actions
    }
}
