import AutoscalerCore

/// AWS Application Auto Scaling step scaling on a CloudWatch alarm over the queue depth, as its
/// documentation describes it. A publisher puts the pending jobs of the service's queues every
/// 10 s as a custom metric (at one-second storage resolution, so that a 10-second alarm has
/// data); each datapoint is the maximum of its period.
///
/// - Scale out: the alarm is in ALARM when the last `datapoints` datapoints are at or above
///   `threshold`; every evaluation while it stays there invokes the policy. The step is chosen by
///   how far the latest datapoint is above the threshold (bounds relative to it): `[0, T)`,
///   `[T, 3T)`, `[3T, ∞)` add `steps[0]`, `steps[1]`, `steps[2]` tasks (`ChangeInCapacity`).
///   During the cooldown the capacity already added counts toward the next step: a larger step
///   adds only the difference (AWS's example: +2, then a +3 step adds 1).
/// - Scale in: a second alarm, the queue empty for `scaleInAfter` seconds, removes one task; its
///   cooldown blocks further scale-ins, and a scale-out is never held back by it.
///
/// It sees pending jobs only; ECS stops whichever tasks it likes. Publishing and alarm delays are
/// not modelled, which favours the baseline.
public struct StepScalingAutoscaler: SimulatedAutoscaler {
    /// The documented knobs of the alarm and the policy.
    public struct Settings: Hashable, Sendable {
        /// Alarm `Period`, seconds: 10 (a high-resolution alarm) or 60.
        public var period: Double
        /// `DatapointsToAlarm` = `EvaluationPeriods`: consecutive datapoints at or above the
        /// threshold.
        public var datapoints: Int
        /// Alarm threshold: pending jobs.
        public var threshold: Double
        /// `ScalingAdjustment` of the three steps, smallest breach first.
        public var steps: [Int]
        /// The policy's `Cooldown`, seconds (ECS default 300).
        public var cooldown: Double
        /// The scale-in alarm: an empty queue for this long removes one task.
        public var scaleInAfter: Double

        /// Creates settings.
        public init(period: Double, datapoints: Int, threshold: Double, steps: [Int], cooldown: Double, scaleInAfter: Double = 300) {
            self.period = period
            self.datapoints = datapoints
            self.threshold = threshold
            self.steps = steps
            self.cooldown = cooldown
            self.scaleInAfter = scaleInAfter
        }

        /// The knobs in a few words, for reports.
        public var summary: String {
            "depth ≥ \(compact(threshold)) for \(datapoints)×\(Int(period)) s, steps +\(steps.map(String.init).joined(separator: "/+")), cooldown \(Int(cooldown)) s"
        }
    }

    public let name: String
    public let tickInterval: Double = 10
    public var readsTasks: Bool { false }
    /// The knobs it runs with.
    public let settings: Settings
    let bounds: [ClosedRange<Int>]
    let queues: [[String]]
    var memory: [Memory]
    var elapsed = -10.0

    struct Memory {
        var periodMaximum = 0.0
        var samples = 0
        var datapoints: [Double] = []
        var lastScaleOut = -Double.infinity
        var countBeforeScaleOut = 0
        var lastScaleIn = -Double.infinity
    }

    /// - Parameter name: for reports; by default the settings in a few words.
    public init(policy: Policy, settings: Settings, name: String? = nil) {
        self.settings = settings
        self.name = name ?? "step scaling (\(settings.summary))"
        bounds = policy.services.map { $0.minTasks...$0.maxTasks }
        queues = policy.services.map(\.queues)
        memory = Array(repeating: Memory(), count: policy.services.count)
    }

    public mutating func tick(_ view: ClusterView) -> AutoscalerActions {
        elapsed += tickInterval
        var actions = AutoscalerActions()
        let samplesPerDatapoint = max(1, Int((settings.period / tickInterval).rounded()))
        let scaleInDatapoints = max(1, Int((settings.scaleInAfter / settings.period).rounded(.up)))
        for (index, service) in view.services.enumerated() where index < memory.count {
            var state = memory[index]
            defer { memory[index] = state }
            let depth = Double(queues[index].reduce(0) { $0 + (view.queues[$1]?.pending ?? 0) })
            state.periodMaximum = state.samples == 0 ? depth : max(state.periodMaximum, depth)
            state.samples += 1
            guard state.samples == samplesPerDatapoint else { continue }
            state.samples = 0
            state.datapoints.append(state.periodMaximum)
            let kept = max(settings.datapoints, scaleInDatapoints)
            if state.datapoints.count > kept { state.datapoints.removeFirst(state.datapoints.count - kept) }

            let range = bounds[index]
            let current = service.desired
            let latest = state.periodMaximum
            let breach = state.datapoints.suffix(settings.datapoints)
            let empty = state.datapoints.suffix(scaleInDatapoints)
            if breach.count == settings.datapoints, breach.allSatisfy({ $0 >= settings.threshold }) {
                let over = latest - settings.threshold
                let step = over < settings.threshold ? settings.steps[0] : over < 3 * settings.threshold ? settings.steps[1] : settings.steps[2]
                let isCooling = elapsed - state.lastScaleOut < settings.cooldown
                let wanted = min(range.upperBound, (isCooling ? state.countBeforeScaleOut : current) + step)
                if wanted > current {
                    actions.desired[service.name] = wanted
                    if !isCooling { (state.lastScaleOut, state.countBeforeScaleOut) = (elapsed, current) }
                }
            } else if empty.count == scaleInDatapoints, empty.allSatisfy({ $0 == 0 }), current > range.lowerBound,
                      elapsed - state.lastScaleIn >= settings.cooldown {
                actions.desired[service.name] = max(range.lowerBound, current - 1)
                state.lastScaleIn = elapsed
            }
            if actions.desired[service.name] == nil, current < range.lowerBound || current > range.upperBound {
                actions.desired[service.name] = min(range.upperBound, max(range.lowerBound, current))
            }
        }
        return actions
    }
}
