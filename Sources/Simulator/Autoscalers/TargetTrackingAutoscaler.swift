import AutoscalerCore

/// AWS Application Auto Scaling target tracking for an ECS service, as its documentation
/// describes it, on one of two metrics:
///
/// - `ECSServiceAverageCPUUtilization`: the average CPU of the running tasks, in one-minute
///   datapoints, or 20-second ones with the 2026 high-resolution metric
///   (`ECSServiceAverageCPUUtilizationHighResolution`);
/// - AWS's queue-worker recipe: a customized metric, queue depth ÷ `RunningTaskCount` by metric
///   math ("backlog per task"), in one-minute datapoints, with the target set to the backlog a
///   task may hold.
///
/// The managed alarms scale out when 3 of 3 datapoints are above the target and in when 15 of 15
/// are below 90 % of it; while an alarm stays in alarm, every new datapoint invokes the policy
/// again. The new capacity is the desired count × metric ÷ target, rounded up. During the
/// scale-out cooldown the capacity already added counts toward the next scale-out: it is computed
/// from the count before the scale-out that started the cooldown, and goes through only when it
/// is larger than the count now (AWS: "unless a larger scale out is triggered"). The scale-in
/// cooldown blocks further scale-ins. ECS stops whichever
/// tasks it likes on scale-in. CloudWatch's publishing delay is not modelled, which favours the
/// baseline (AWS measured 363 s from spike to trigger on one-minute CPU, 86 s at high resolution).
public struct TargetTrackingAutoscaler: SimulatedAutoscaler {
    /// The documented knobs of one target tracking policy.
    public struct Settings: Hashable, Sendable {
        /// What the policy tracks.
        public enum Metric: String, Hashable, Sendable, Codable {
            /// Average CPU of the running tasks, 0…1 (a busy worker keeps its share busy).
            case cpu
            /// Pending jobs of the service's queues ÷ running tasks.
            case backlogPerTask
        }

        /// The tracked metric.
        public var metric: Metric
        /// `TargetValue`: CPU as a fraction, or pending jobs per running task.
        public var target: Double
        /// Seconds per datapoint: 60, or 20 for the high-resolution CPU metric.
        public var period: Double
        /// `ScaleOutCooldown`, seconds (ECS default 300).
        public var scaleOutCooldown: Double
        /// `ScaleInCooldown`, seconds (ECS default 300).
        public var scaleInCooldown: Double
        /// Datapoints above the target before a scale-out (the managed AlarmHigh: 3 of 3).
        public var scaleOutDatapoints = 3
        /// Datapoints below 90 % of the target before a scale-in (the managed AlarmLow: 15 of 15).
        public var scaleInDatapoints = 15

        /// Creates settings.
        public init(metric: Metric, target: Double, period: Double, scaleOutCooldown: Double = 300, scaleInCooldown: Double = 300) {
            self.metric = metric
            self.target = target
            self.period = period
            self.scaleOutCooldown = scaleOutCooldown
            self.scaleInCooldown = scaleInCooldown
        }

        /// What the teams in our context run: CPU 70 % (the console's suggestion), one-minute
        /// datapoints, ECS's 300 s cooldowns.
        public static let cpuDefaults = Settings(metric: .cpu, target: 0.7, period: 60)

        /// The knobs in a few words, for reports.
        public var summary: String {
            let cooldowns = "cooldowns \(Int(scaleOutCooldown))/\(Int(scaleInCooldown)) s"
            switch metric {
            case .cpu: return "CPU \(Int((target * 100).rounded())) %, \(Int(period)) s datapoints, \(cooldowns)"
            case .backlogPerTask: return "backlog \(compact(target))/task, \(Int(period)) s datapoints, \(cooldowns)"
            }
        }
    }

    public let name: String
    /// The simulated ECS is sampled every 10 s; datapoints average the samples of their period.
    public let tickInterval: Double = 10
    public var readsTasks: Bool { false }
    /// The knobs it runs with.
    public let settings: Settings
    let bounds: [ClosedRange<Int>]
    let queues: [[String]]
    var memory: [Memory]
    var elapsed = -10.0

    struct Memory {
        var metricSum = 0.0
        var runningSum = 0.0
        var samples = 0
        var datapoints: [Double?] = []
        var lastScaleOut = -Double.infinity
        var countBeforeScaleOut = 0
        var lastScaleIn = -Double.infinity
    }

    /// - Parameters:
    ///   - settings: the policy's knobs; `.cpuDefaults` is what the teams in our context run.
    ///   - name: for reports; by default the settings in a few words.
    public init(policy: Policy, settings: Settings = .cpuDefaults, name: String? = nil) {
        self.settings = settings
        self.name = name ?? "target tracking (\(settings.summary))"
        bounds = policy.services.map { $0.minTasks...$0.maxTasks }
        queues = policy.services.map(\.queues)
        memory = Array(repeating: Memory(), count: policy.services.count)
    }

    /// Keeps the shorter name the first comparison used.
    public init(policy: Policy, target: Double) {
        var settings = Settings.cpuDefaults
        settings.target = target
        self.init(policy: policy, settings: settings, name: "target tracking (CPU \(Int(target * 100))%)")
    }

    public mutating func tick(_ view: ClusterView) -> AutoscalerActions {
        elapsed += tickInterval
        var actions = AutoscalerActions()
        let samplesPerDatapoint = max(1, Int((settings.period / tickInterval).rounded()))
        for (index, service) in view.services.enumerated() where index < memory.count {
            var state = memory[index]
            switch settings.metric {
            case .cpu:
                // ECS publishes no CPU while no task runs.
                if service.running > 0 { state.metricSum += service.cpu }
            case .backlogPerTask:
                state.metricSum += Double(queues[index].reduce(0) { $0 + (view.queues[$1]?.pending ?? 0) })
            }
            state.runningSum += Double(service.running)
            state.samples += 1
            guard state.samples == samplesPerDatapoint else {
                memory[index] = state
                continue
            }
            let running = state.runningSum / Double(state.samples)
            let datapoint: Double?
            switch settings.metric {
            case .cpu: datapoint = running > 0 ? state.metricSum / Double(state.samples) : nil
            // Metric math m1 / m2 has no value while RunningTaskCount is 0.
            case .backlogPerTask: datapoint = running > 0 ? state.metricSum / Double(state.samples) / running : nil
            }
            (state.metricSum, state.runningSum, state.samples) = (0, 0, 0)
            state.datapoints.append(datapoint)
            let kept = max(settings.scaleOutDatapoints, settings.scaleInDatapoints)
            if state.datapoints.count > kept { state.datapoints.removeFirst(state.datapoints.count - kept) }

            let range = bounds[index]
            let current = service.desired
            defer { memory[index] = state }
            guard let value = datapoint else { continue }  // insufficient data: no scaling at all
            func proposal(from count: Int) -> Int {
                min(range.upperBound, max(range.lowerBound, Int((Double(max(count, 1)) * value / settings.target - 1e-9).rounded(.up))))
            }
            let high = state.datapoints.suffix(settings.scaleOutDatapoints)
            let low = state.datapoints.suffix(settings.scaleInDatapoints)
            let isHigh = high.count == settings.scaleOutDatapoints && high.allSatisfy { ($0 ?? 0) > settings.target }
            let isLow = low.count == settings.scaleInDatapoints && low.allSatisfy { $0.map { $0 < settings.target * 0.9 } ?? false }
            let isCoolingOut = elapsed - state.lastScaleOut < settings.scaleOutCooldown
            if isHigh, proposal(from: isCoolingOut ? state.countBeforeScaleOut : current) > current {
                actions.desired[service.name] = proposal(from: isCoolingOut ? state.countBeforeScaleOut : current)
                if !isCoolingOut { (state.lastScaleOut, state.countBeforeScaleOut) = (elapsed, current) }
            } else if isLow, proposal(from: current) < current, elapsed - state.lastScaleIn >= settings.scaleInCooldown {
                actions.desired[service.name] = proposal(from: current)
                state.lastScaleIn = elapsed
            } else if current < range.lowerBound || current > range.upperBound {
                actions.desired[service.name] = min(range.upperBound, max(range.lowerBound, current))
            }
        }
        return actions
    }

    /// The datapoints so far per service, `nil` where data was insufficient (tests check the
    /// alarm rules against them).
    public func datapoints(of service: Int) -> [Double?] { memory[service].datapoints }
}

/// `2`, `0.5`, `0.17`: a number as short as it reads, to two decimals.
func compact(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String((value * 100).rounded() / 100)
}
