import AutoscalerCore

/// AWS Application Auto Scaling target tracking on ECSServiceAverageCPUUtilization, as its
/// documentation describes it: one-minute datapoints; scale out when 3 of 3 are above the
/// target, scale in when 15 of 15 are below 90 % of it; the new capacity proportional to
/// metric / target; 300 s cooldowns. It has no view of queues, and ECS stops whichever tasks it
/// likes on scale-in. (CloudWatch's publishing delay of a minute or more is not modelled, which
/// favours the baseline.)
public struct TargetTrackingAutoscaler: SimulatedAutoscaler {
    public let name: String
    public let tickInterval: Double = 10
    let target: Double
    let bounds: [String: ClosedRange<Int>]
    let cooldown: Double = 300
    var samples: [String: [Double]] = [:]
    var datapoints: [String: [Double]] = [:]
    var lastScaleOut: [String: Double] = [:]
    var lastScaling: [String: Double] = [:]
    var elapsed = -10.0

    /// - Parameter target: average CPU to hold, 0…1 (70 % is the console's suggestion).
    public init(policy: Policy, target: Double = 0.7) {
        self.target = target
        self.name = "target tracking (CPU \(Int(target * 100))%)"
        bounds = Dictionary(uniqueKeysWithValues: policy.services.map { ($0.name, $0.minTasks...$0.maxTasks) })
    }

    public mutating func tick(_ view: ClusterView) -> AutoscalerActions {
        elapsed += tickInterval
        var actions = AutoscalerActions()
        for service in view.services {
            samples[service.name, default: []].append(service.cpu)
            guard samples[service.name]!.count == 6 else { continue }
            let datapoint = samples[service.name]!.reduce(0, +) / 6
            samples[service.name] = []
            var points = datapoints[service.name, default: []]
            points.append(datapoint)
            if points.count > 15 { points.removeFirst(points.count - 15) }
            datapoints[service.name] = points
            guard let range = bounds[service.name] else { continue }
            let current = service.desired
            let proportional = Int((Double(max(current, 1)) * datapoint / target).rounded(.up))
            let proposed = min(range.upperBound, max(range.lowerBound, proportional))
            let highAlarm = points.count >= 3 && points.suffix(3).allSatisfy { $0 > target }
            let lowAlarm = points.count >= 15 && points.suffix(15).allSatisfy { $0 < target * 0.9 }
            if highAlarm, proposed > current, elapsed - (lastScaleOut[service.name] ?? -.infinity) >= cooldown {
                actions.desired[service.name] = proposed
                lastScaleOut[service.name] = elapsed
                lastScaling[service.name] = elapsed
            } else if lowAlarm, proposed < current, elapsed - (lastScaling[service.name] ?? -.infinity) >= cooldown {
                actions.desired[service.name] = proposed
                lastScaling[service.name] = elapsed
            } else if current < range.lowerBound || current > range.upperBound {
                actions.desired[service.name] = min(range.upperBound, max(range.lowerBound, current))
            }
        }
        return actions
    }

    /// The one-minute datapoints so far per service (tests check the alarm rules against them).
    public func datapoints(of service: String) -> [Double] { datapoints[service] ?? [] }
}
