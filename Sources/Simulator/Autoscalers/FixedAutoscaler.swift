/// A fixed task count per service, never changed: what a team does when it gives up on
/// autoscaling and pays for headroom.
public struct FixedAutoscaler: SimulatedAutoscaler {
    public let name: String
    public let tickInterval: Double = 3600
    public var readsTasks: Bool { false }
    let tasks: [String: Int]

    public init(tasks: [String: Int], name: String = "fixed") {
        self.tasks = tasks
        self.name = name
    }

    public mutating func tick(_ view: ClusterView) -> AutoscalerActions {
        var actions = AutoscalerActions()
        for service in view.services {
            if let count = tasks[service.name], count != service.desired { actions.desired[service.name] = count }
        }
        return actions
    }
}
