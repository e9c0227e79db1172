/// A live worker and the queues it listens on: an RQ worker (its hash's `queues`) or a Celery
/// node (its `active_queues` in a complete remote-control round).
public struct QueueListener: Hashable, Sendable {
    public var name: String
    public var hostname: String?
    /// The address Redis saw it connect from (RQ 1.16+).
    public var ipAddress: String?
    public var queues: [String]

    /// Creates a listener.
    public init(name: String, hostname: String?, ipAddress: String? = nil, queues: [String]) {
        self.name = name
        self.hostname = hostname
        self.ipAddress = ipAddress
        self.queues = queues
    }
}

/// Which of a service's queues no worker of the service listens on: work there waits for a
/// worker that a new task of the service will not be either (a typo in the workers' `QUEUES`, a
/// data source routed to a queue without workers). Pure.
public enum QueueConsumption {
    /// What is known of a service's queues' listeners.
    public struct Finding: Hashable, Sendable {
        /// Queues with waiting work that the service's live workers do not listen on.
        public var unconsumed: [String]
        /// What the service's live workers do listen on, for the operator (the `QUEUES` to fix).
        public var listenedTo: [String]
        /// Queues with waiting work and no live listener at all, where the service's own workers
        /// could not be told apart (their tasks not read or not matched): left as demand.
        public var unproven: [String]

        public init(unconsumed: [String] = [], listenedTo: [String] = [], unproven: [String] = []) {
            self.unconsumed = unconsumed
            self.listenedTo = listenedTo
            self.unproven = unproven
        }
    }

    /// The service's workers are the listeners on its running tasks (matched by address, as the
    /// busy-task mapping does), when its tasks were read; else the listeners on any of its other
    /// queues. A queue is unconsumed when the service has live workers and none of them listens
    /// on it. With no live worker of the service known (scaled to zero, starting, unmatched),
    /// nothing is unconsumed: a new task may well take the work.
    /// - Parameters:
    ///   - waiting: the service's queues with work waiting.
    ///   - listeners: every live listener; `nil` when unknown (then nothing is decided).
    ///   - tasks: the service's running tasks, when they were read.
    public static func find(queues: [String], waiting: Set<String>, listeners: [QueueListener]?, tasks: [TaskAddress]?) -> Finding {
        guard let listeners, !waiting.isEmpty else { return Finding() }
        let orphaned = queues.filter { queue in waiting.contains(queue) && !listeners.contains { $0.queues.contains(queue) } }
        var own: [QueueListener] = []
        if let tasks {
            let addresses = Set(tasks.compactMap(\.privateIP))
            own = listeners.filter { listener in
                let candidates = [listener.ipAddress.flatMap(WorkerTaskMapping.address(ofEndpoint:)), listener.hostname.flatMap(WorkerTaskMapping.address(ofHostname:))]
                return candidates.contains { $0.map(addresses.contains) ?? false }
            }
        }
        if own.isEmpty {
            // Without tasks: a listener on another queue of the service is one of its workers
            // (a queue a policy shares is rare, and declared).
            own = listeners.filter { listener in queues.contains { listener.queues.contains($0) } }
        }
        guard !own.isEmpty else { return Finding(unproven: orphaned) }
        var listened: [String] = []
        for listener in own { for queue in listener.queues where !listened.contains(queue) { listened.append(queue) } }
        let unconsumed = queues.filter { waiting.contains($0) && !listened.contains($0) }
        return Finding(unconsumed: unconsumed, listenedTo: listened, unproven: orphaned.filter { !unconsumed.contains($0) })
    }
}
