/// How long a service's tasks take to start, learned from ECS (`createdAt` → `startedAt` of its
/// tasks), and whether the capacity it asked for is not arriving.
///
/// Fargate starts at most so many tasks at once, and retries a task that fails to start (image
/// pull, ENI, capacity) up to 27 minutes apart, saying so only in the service's events. An
/// autoscaler that keeps raising desiredCount then hides the real incident. When a service has
/// had fewer tasks running than desired for longer than the learned p90 start time plus a
/// margin (or `ecs.taskStartTimeout`), the capacity is stalled: the controller says so with
/// ECS's own reason and asks for no more until tasks arrive (it never lowers the count for it).
/// Pure.
public enum TaskStartWatch {
    /// Start times kept per service: enough for a p90, few enough to follow a change.
    public static let samplesKept = 50
    /// Before anything is learned: a Fargate task starts in 30–90 s.
    public static let defaultStartTime: Duration = .seconds(90)
    /// Above the learned p90: one slow start is not an incident.
    public static let margin: Duration = .seconds(60)

    /// Learned start times.
    public struct Learned: Hashable, Sendable {
        /// Seconds from created to started, newest last.
        public var samples: [Double]
        /// Tasks already counted (ids), so that a task is learned once.
        public var counted: [String]

        public init(samples: [Double] = [], counted: [String] = []) {
            self.samples = samples
            self.counted = counted
        }

        public var p50: Duration? { quantile(0.5) }
        public var p90: Duration? { quantile(0.9) }

        func quantile(_ q: Double) -> Duration? {
            guard !samples.isEmpty else { return nil }
            let sorted = samples.sorted()
            let index = min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded(.up)))
            return .seconds(sorted[index])
        }

        /// With the tasks just read: each started task not counted yet adds its start time.
        public func learning(from tasks: [TaskSnapshot]) -> Learned {
            var learned = self
            for task in tasks where !learned.counted.contains(task.id) {
                guard let created = task.createdAt, let started = task.startedAt, started >= created else { continue }
                let seconds = (started - created).inSeconds
                // A start time from another clock, or a task restarted by hand days later, says
                // nothing about starting capacity.
                guard seconds.isFinite, seconds < 3600 else { continue }
                learned.samples.append(seconds)
                learned.counted.append(task.id)
            }
            learned.samples = Array(learned.samples.suffix(TaskStartWatch.samplesKept))
            learned.counted = Array(learned.counted.suffix(TaskStartWatch.samplesKept * 4))
            return learned
        }
    }

    /// How long tasks may take before the capacity counts as stalled.
    public static func timeout(learned: Learned, configured: Duration?) -> Duration {
        configured ?? (learned.p90 ?? defaultStartTime) + margin
    }

    /// ECS's own words for why tasks do not start, from the service's recent events: the newest
    /// that names a placement, pull, network or capacity failure.
    public static func reason(in events: [ServiceEventNote]) -> String? {
        let markers = [
            "unable to place", "was unable to", "CannotPullContainer", "ResourceInitializationError", "ENI", "capacity", "insufficient",
            "failed to", "CannotStart",
        ]
        return events.sorted { ($0.at?.secondsSinceEpoch ?? 0) > ($1.at?.secondsSinceEpoch ?? 0) }
            .first { event in markers.contains { event.message.localizedStandardContainsASCII($0) } }?.message
    }
}

/// One of a service's recent ECS events.
public struct ServiceEventNote: Hashable, Sendable {
    public var message: String
    public var at: Instant?

    public init(message: String, at: Instant?) {
        self.message = message
        self.at = at
    }
}

extension String {
    /// Whether `other` occurs in the text, ignoring ASCII case (the core imports no Foundation).
    func localizedStandardContainsASCII(_ other: String) -> Bool {
        lowercasedASCII.contains(other.lowercasedASCII)
    }

    var lowercasedASCII: String {
        String(unicodeScalars.map { scalar in
            (65...90).contains(scalar.value) ? Character(Unicode.Scalar(scalar.value + 32)!) : Character(scalar)
        })
    }
}
