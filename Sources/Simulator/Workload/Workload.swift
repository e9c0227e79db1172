import AutoscalerCore

/// One job the simulated Redash enqueues.
public struct SimulatedJob: Hashable, Sendable {
    /// Seconds after the simulation starts at which Redash enqueues the job.
    public var arrival: Double
    /// The queue it is enqueued on.
    public var queue: String
    /// How long a worker takes to run it.
    public var runtime: Double
    /// What kind of work it is.
    public var kind: Kind
    /// For scheduled queries: when it fell due (before Redash's 30 s cycle enqueued it), and the
    /// runtime the metadata database would predict for it.
    public var due: Double?
    public var expectedRuntime: Double?

    /// What kind of work a job is.
    public enum Kind: String, Hashable, Sendable, Codable {
        case adhoc, scheduled, periodic
    }

    /// Creates a job.
    public init(arrival: Double, queue: String, runtime: Double, kind: Kind, due: Double? = nil, expectedRuntime: Double? = nil) {
        self.arrival = arrival
        self.queue = queue
        self.runtime = runtime
        self.kind = kind
        self.due = due
        self.expectedRuntime = expectedRuntime
    }
}

/// Every job of one simulated run, in arrival order; the same workload is replayed through each
/// autoscaler so that their figures compare like with like.
public struct Workload: Sendable {
    /// Wall-clock time of second 0.
    public var start: Instant
    /// Seconds simulated.
    public var duration: Double
    /// Jobs sorted by arrival.
    public var jobs: [SimulatedJob]

    /// Creates a workload; jobs are sorted by arrival (stable).
    public init(start: Instant, duration: Double, jobs: [SimulatedJob]) {
        self.start = start
        self.duration = duration
        self.jobs = jobs.enumerated()
            .sorted { ($0.element.arrival, $0.offset) < ($1.element.arrival, $1.offset) }
            .map(\.element)
    }

    /// The queues the workload uses, in first-arrival order.
    public var queues: [String] {
        var seen = Set<String>()
        return jobs.map(\.queue).filter { seen.insert($0).inserted }
    }
}
