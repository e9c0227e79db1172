import AutoscalerCore

/// KEDA's Redis list scaler feeding Kubernetes' HPA: the list length polled every 30 s, a target
/// of `listLength` pending jobs per replica, HPA's default behaviour (scale up by the larger of
/// 100 % or 4 replicas at a time, scale down after a 300 s stabilization window, 10 % tolerance).
/// It sees pending jobs only: not their age, not running ones.
public struct ListLengthAutoscaler: SimulatedAutoscaler {
    public let name: String
    public let tickInterval: Double = 30
    let listLength: Double
    let services: [ServicePolicy]
    var recommendations: [String: [(time: Double, replicas: Int)]] = [:]
    var elapsed = -30.0

    /// - Parameter listLength: KEDA's `listLength` (default 5).
    public init(policy: Policy, listLength: Double = 5) {
        self.listLength = listLength
        self.services = policy.services
        self.name = "KEDA list length (\(Int(listLength))/replica)"
    }

    public mutating func tick(_ view: ClusterView) -> AutoscalerActions {
        elapsed += tickInterval
        var actions = AutoscalerActions()
        for (index, service) in services.enumerated() {
            let current = view.services[index].desired
            let length = service.queues.reduce(0) { $0 + (view.queues[$1]?.pending ?? 0) }
            var wanted = Int((Double(length) / listLength).rounded(.up))
            // HPA's tolerance: no change while the ratio is within 10 % of 1.
            if current > 0, abs(Double(length) / listLength / Double(current) - 1) <= 0.1 { wanted = current }
            wanted = min(service.maxTasks, max(service.minTasks, wanted))
            var history = recommendations[service.name, default: []].filter { elapsed - $0.time < 300 }
            history.append((elapsed, wanted))
            recommendations[service.name] = history
            var next = current
            if wanted > current {
                next = min(wanted, max(current * 2, current + 4))
            } else {
                let stabilized = history.map(\.replicas).max() ?? wanted
                if stabilized < current { next = stabilized }
            }
            if next != current { actions.desired[service.name] = next }
        }
        return actions
    }
}
