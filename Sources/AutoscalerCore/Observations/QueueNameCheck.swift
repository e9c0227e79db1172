/// Checks that the policy's queue names add up with what Redis and Redash know: a policy queue
/// that exists nowhere is probably misspelt (and its service then sees "no work" forever), and a
/// queue that holds jobs or that a data source routes to, with no service of the policy
/// consuming it, is work nobody scales for.
public enum QueueNameCheck {
    /// One thing that does not add up.
    public enum Finding: Hashable, Sendable, CustomStringConvertible {
        /// A policy queue Redis does not know and no data source routes to.
        case missing(queue: String, service: String, suggestion: String?)
        /// A queue with jobs, or a data source's queue, that no service of the policy consumes.
        case unconsumed(queue: String, pending: Int?, routedBy: [String])

        /// `missing` or `unconsumed`, for metric labels.
        public var kind: String {
            switch self {
            case .missing: "missing"
            case .unconsumed: "unconsumed"
            }
        }

        public var queue: String {
            switch self {
            case .missing(let queue, _, _), .unconsumed(let queue, _, _): queue
            }
        }

        public var description: String {
            switch self {
            case .missing(let queue, let service, let suggestion):
                return "`\(queue)` (\(service)): no such queue in Redis or in Redash's routing"
                    + (suggestion.map { "; did you mean `\($0)`?" } ?? "; is it spelt as the workers' QUEUES?")
            case .unconsumed(let queue, let pending, let routedBy):
                var parts: [String] = []
                if let pending { parts.append("holds \(pending) job\(pending == 1 ? "" : "s")") }
                if !routedBy.isEmpty { parts.append("data source\(routedBy.count == 1 ? "" : "s") \(routedBy.joined(separator: ", ")) route\(routedBy.count == 1 ? "s" : "") to it") }
                return "`\(queue)`: \(parts.joined(separator: "; ")), but no service of the policy consumes it (fine if a service outside the policy does)"
            }
        }
    }

    /// The findings, policy order first, then the rest by name.
    ///
    /// - Parameters:
    ///   - known: the queues Redis knows (RQ's `rq:queues`, Celery's bindings); `nil` when not
    ///     listed yet (nothing is reported missing then).
    ///   - pendingOutsidePolicy: jobs waiting on queues no service of the policy consumes.
    ///   - routed: data source names by the queue they route adhoc or scheduled queries to;
    ///     empty without a database.
    public static func check(
        policy: Policy, known: Set<String>?, pendingOutsidePolicy: [String: Int], routed: [String: [String]]
    ) -> [Finding] {
        var findings: [Finding] = []
        let consumed = Set(policy.queueNames)
        if let known {
            let candidates = Array(known.union(routed.keys)).sorted()
            for service in policy.services {
                for queue in service.queues where !known.contains(queue) && routed[queue] == nil {
                    let others = candidates.filter { $0 != queue }
                    findings.append(.missing(queue: queue, service: service.name, suggestion: Suggestion.closest(to: queue, among: others)))
                }
            }
        }
        let outside = Set(pendingOutsidePolicy.filter { $0.value > 0 }.keys).union(routed.keys).subtracting(consumed)
        for queue in outside.sorted() {
            findings.append(.unconsumed(queue: queue, pending: pendingOutsidePolicy[queue], routedBy: (routed[queue] ?? []).sorted()))
        }
        return findings
    }
}

extension QueueNameCheck {
    /// The findings of a probe: the queues Redis knows (and those with registered workers,
    /// whether or not a job was ever enqueued on them) against the policy, the queues holding
    /// jobs outside it, and `routed` (the data sources routed to each queue, from Redash's
    /// database; empty without one).
    public static func findings(policy: Policy, probe: ProbeReport, routed: [String: [String]]) -> [Finding] {
        guard var known = probe.knownQueues?.names else { return [] }
        for (queue, reading) in probe.readings {
            if case .observed(let observation) = reading, let workers = observation.workers, workers.busy + workers.idle > 0 { known.insert(queue) }
        }
        return check(policy: policy, known: known, pendingOutsidePolicy: probe.knownQueues?.pendingOutsidePolicy ?? [:], routed: routed)
    }
}
