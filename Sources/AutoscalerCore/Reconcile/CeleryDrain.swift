/// Which Celery nodes' queries count for a service: those of nodes on its tasks, and those of
/// nodes draining. After SIGTERM a node stops answering remote control at once, while its running
/// queries go on to the end (ECS stops the task when they are done, or at `stopTimeout`). Its
/// queries are kept counted as running, from the last complete round, for as long as its task
/// has not stopped, so that the running-jobs floor and busy-aware scale-in still see them. And
/// when the service's tasks were read, a node that sits on none of them (a forged reply, another
/// cluster's worker) does not count toward the service's running jobs. Pure.
public enum CeleryDrain {
    /// What draining changes this tick.
    public struct Result: Hashable, Sendable {
        /// The readings with the draining nodes' queries added to the running counts.
        public var queues: [String: QueueReading]
        /// The nodes kept for the next tick.
        public var nodes: [String: RememberedNode]
        /// The nodes draining now, and their queries.
        public var draining: [String]
        public var drainingRunning: Int
    }

    /// Whether the tasks must be read: a node the service had has left a complete round.
    public static func needsTasks(_ observation: ServiceObservation, memory: ServiceMemory) -> Bool {
        guard let nodes = observation.celeryNodes, !memory.celeryNodes.isEmpty else { return false }
        let names = Set(nodes.map(\.name))
        return memory.celeryNodes.keys.contains { !names.contains($0) }
    }

    public static func apply(_ observation: ServiceObservation, memory: ServiceMemory, policy: ServicePolicy) -> Result {
        guard let nodes = observation.celeryNodes else {
            // No complete round: running is unknown anyway; remember what was known.
            return Result(queues: observation.queues, nodes: memory.celeryNodes, draining: [], drainingRunning: 0)
        }
        let queues = Set(policy.queues)
        var remembered: [String: RememberedNode] = [:]
        for node in nodes where !queues.isDisjoint(with: node.queues) {
            var running: [String: Int] = [:]
            for task in node.active { if let queue = task.queue, queues.contains(queue) { running[queue, default: 0] += 1 } }
            remembered[node.name] = RememberedNode(address: WorkerTaskMapping.address(ofHostname: node.hostname), running: running)
        }
        var readings = observation.queues
        var draining: [String] = []
        var extra = 0
        let answering = Set(nodes.map(\.name))
        let live = observation.tasks.snapshots.map { tasks in Set(tasks.compactMap(\.privateIP)) }
        if let live, !live.isEmpty {
            for node in nodes where !queues.isDisjoint(with: node.queues) {
                guard let address = WorkerTaskMapping.address(ofHostname: node.hostname), !live.contains(address) else { continue }
                remembered[node.name] = nil
                for task in node.active {
                    guard let queue = task.queue, queues.contains(queue), case .observed(var reading)? = readings[queue],
                          let running = reading.running, running > 0 else { continue }
                    reading.running = running - 1
                    readings[queue] = .observed(reading)
                }
            }
        }
        for (name, node) in memory.celeryNodes.sorted(by: { $0.key < $1.key }) where !answering.contains(name) {
            // Kept only while its task is known not to have stopped.
            guard let address = node.address, let live, live.contains(address), !node.running.isEmpty else { continue }
            remembered[name] = node
            draining.append(name)
            for (queue, count) in node.running {
                guard case .observed(var reading)? = readings[queue], let running = reading.running else { continue }
                reading.running = running + count
                readings[queue] = .observed(reading)
                extra += count
            }
        }
        return Result(queues: readings, nodes: remembered, draining: draining, drainingRunning: extra)
    }
}
