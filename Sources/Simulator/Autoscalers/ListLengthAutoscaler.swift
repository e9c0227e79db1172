import AutoscalerCore

/// KEDA's Redis list scaler feeding Kubernetes' HPA, as their documentation describes them (KEDA
/// runs on Kubernetes only; this is what the same rule would do to an ECS service).
///
/// - The metric is the list length (LLEN: pending jobs only, not their age, not the running ones),
///   with an `AverageValue` target of `listLength` per replica, so the HPA asks for
///   `ceil(length ÷ listLength)` replicas, and nothing while the ratio to the current count is
///   within its 10 % tolerance.
/// - The HPA reads the metric every sync period (15 s, a controller flag); KEDA's metrics server
///   asks the scaler on each read. KEDA's own `pollingInterval` (30 s) only decides activation,
///   the move from 0 to 1 replica (and, with `useCachedMetrics`, how fresh the metric is), so
///   it only matters here for a service allowed to run 0 tasks.
/// - HPA `behavior`: scale up to the lowest recommendation of `scaleUpWindow` (default 0 s), at
///   most the larger of `scaleUpPods` (4) or `scaleUpPercent` (100 %) per 15 s; scale down to the
///   highest recommendation of `scaleDownWindow` (default 300 s), at most `scaleDownPercent`
///   (100 %) per 15 s.
/// - `fallback` only acts when the scaler fails; the simulated Redis never does, so it never
///   engages here.
///
/// On scale-in ECS (like Kubernetes) stops whichever tasks it likes, busy or not.
public struct ListLengthAutoscaler: SimulatedAutoscaler {
    /// The documented knobs of the ScaledObject and its HPA.
    public struct Settings: Hashable, Sendable {
        /// `listLength`: pending jobs per replica (the scaler's default is 5).
        public var listLength: Double
        /// `pollingInterval`, seconds: activation (0 ↔ 1) only.
        public var pollingInterval: Double = 30
        /// HPA sync period, seconds.
        public var syncPeriod: Double = 15
        /// `behavior.scaleUp.stabilizationWindowSeconds`.
        public var scaleUpWindow: Double = 0
        /// `behavior.scaleUp.policies`: Pods per 15 s.
        public var scaleUpPods: Int = 4
        /// `behavior.scaleUp.policies`: Percent per 15 s.
        public var scaleUpPercent: Double = 100
        /// `behavior.scaleDown.stabilizationWindowSeconds`.
        public var scaleDownWindow: Double = 300
        /// `behavior.scaleDown.policies`: Percent per 15 s.
        public var scaleDownPercent: Double = 100
        /// HPA tolerance.
        public var tolerance = 0.1

        /// Creates settings; omitted knobs take KEDA's and the HPA's defaults.
        public init(listLength: Double = 5, scaleUpPods: Int = 4, scaleDownWindow: Double = 300) {
            self.listLength = listLength
            self.scaleUpPods = scaleUpPods
            self.scaleDownWindow = scaleDownWindow
        }

        /// `listLength: 5` and the HPA's default behaviour.
        public static let defaults = Settings()

        /// The knobs in a few words, for reports.
        public var summary: String {
            "listLength \(compact(listLength)), up +\(scaleUpPods)/+\(Int(scaleUpPercent))%/15 s, down window \(Int(scaleDownWindow)) s"
        }
    }

    public let name: String
    public var tickInterval: Double { settings.syncPeriod }
    public var readsTasks: Bool { false }
    /// The knobs it runs with.
    public let settings: Settings
    let services: [ServicePolicy]
    var recommendations: [[(time: Double, replicas: Int)]]
    var lastActivity: [Double]
    var elapsed: Double

    /// - Parameter name: for reports; by default the settings in a few words.
    public init(policy: Policy, settings: Settings = .defaults, name: String? = nil) {
        self.settings = settings
        self.services = policy.services
        self.name = name ?? "KEDA list length (\(settings.summary))"
        recommendations = Array(repeating: [], count: policy.services.count)
        lastActivity = Array(repeating: 0, count: policy.services.count)
        elapsed = -settings.syncPeriod
    }

    /// Keeps the name the first comparison used.
    public init(policy: Policy, listLength: Double) {
        self.init(policy: policy, settings: Settings(listLength: listLength), name: "KEDA list length (\(Int(listLength))/replica)")
    }

    public mutating func tick(_ view: ClusterView) -> AutoscalerActions {
        elapsed += tickInterval
        var actions = AutoscalerActions()
        for (index, service) in services.enumerated() {
            let current = view.services[index].desired
            let length = service.queues.reduce(0) { $0 + (view.queues[$1]?.pending ?? 0) }
            if length > 0 { lastActivity[index] = elapsed }
            if current == 0 {
                // Activation is KEDA's, on its own polling interval.
                let isPoll = (elapsed / settings.pollingInterval).rounded(.down) != ((elapsed - tickInterval) / settings.pollingInterval).rounded(.down)
                if isPoll, length > 0, service.maxTasks > 0 { actions.desired[service.name] = max(1, service.minTasks) }
                continue
            }
            var wanted = Int((Double(length) / settings.listLength - 1e-9).rounded(.up))
            if abs(Double(length) / settings.listLength / Double(current) - 1) <= settings.tolerance { wanted = current }
            // KEDA takes an idle service to 0 (its cooldownPeriod, 300 s) only when allowed to.
            let floor = service.minTasks == 0 && elapsed - lastActivity[index] < 300 ? 1 : service.minTasks
            wanted = min(service.maxTasks, max(floor, wanted))
            var history = recommendations[index].filter { elapsed - $0.time < max(settings.scaleDownWindow, settings.scaleUpWindow) }
            history.append((elapsed, wanted))
            recommendations[index] = history
            var next = current
            if wanted > current {
                let stabilized = history.filter { elapsed - $0.time < max(settings.scaleUpWindow, 1e-9) || $0.time == elapsed }
                    .map(\.replicas).min() ?? wanted
                let limit = max(current + settings.scaleUpPods, Int((Double(current) * (1 + settings.scaleUpPercent / 100)).rounded(.down)))
                next = max(current, min(stabilized, limit))
            } else {
                let stabilized = history.filter { elapsed - $0.time < settings.scaleDownWindow }.map(\.replicas).max() ?? wanted
                let limit = current - Int((Double(current) * settings.scaleDownPercent / 100).rounded(.down))
                if stabilized < current { next = max(stabilized, limit) }
            }
            if next != current { actions.desired[service.name] = next }
        }
        return actions
    }
}
