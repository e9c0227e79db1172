/// A worker as its queue system registers it (RQ's `rq:worker:*` hash).
public struct WorkerIdentity: Hashable, Sendable {
    public var name: String
    /// `socket.gethostname()` of the worker: on Fargate `ip-10-0-1-23.ap-northeast-1.compute.internal`.
    public var hostname: String?
    /// The address Redis saw the worker connect from (`10.0.1.23:48712`), RQ 1.16+.
    public var ipAddress: String?
    public var isBusy: Bool

    public init(name: String, hostname: String?, ipAddress: String?, isBusy: Bool) {
        self.name = name
        self.hostname = hostname
        self.ipAddress = ipAddress
        self.isBusy = isBusy
    }
}

/// A task as ECS describes it, for the mapping.
public struct TaskAddress: Hashable, Sendable {
    public var id: String
    /// Its ENI's private IPv4 address (awsvpc).
    public var privateIP: String?

    public init(id: String, privateIP: String?) {
        self.id = id
        self.privateIP = privateIP
    }
}

/// Which task each busy worker runs on: by the address Redis saw it connect from, else by the IP
/// that Fargate's host names spell (`ip-10-0-1-23.…`). A busy worker that matches no task is
/// counted as unmapped; then the busy-task floor is unknown and only the running-jobs floor holds.
public enum WorkerTaskMapping {
    public struct Result: Hashable, Sendable {
        /// Busy workers per task id (tasks without busy workers are absent).
        public var busyWorkers: [String: Int]
        /// Busy workers that matched no task.
        public var unmappedBusy: Int
        /// Tasks with at least one busy worker, when every busy worker was mapped.
        public var busyTasks: Int? { unmappedBusy == 0 ? busyWorkers.count : nil }
    }

    public static func map(workers: [WorkerIdentity], tasks: [TaskAddress]) -> Result {
        var byIP: [String: String] = [:]
        for task in tasks {
            if let ip = task.privateIP { byIP[ip] = task.id }
        }
        var busy: [String: Int] = [:]
        var unmapped = 0
        var seen = Set<String>()
        for worker in workers where worker.isBusy && seen.insert(worker.name).inserted {
            let candidates = [worker.ipAddress.flatMap(address(ofEndpoint:)), worker.hostname.flatMap(address(ofHostname:))]
            if let task = candidates.compactMap({ $0 }).lazy.compactMap({ byIP[$0] }).first {
                busy[task, default: 0] += 1
            } else {
                unmapped += 1
            }
        }
        return Result(busyWorkers: busy, unmappedBusy: unmapped)
    }

    /// `10.0.1.23:48712` → `10.0.1.23`; `[fd00::1]:48712` → `fd00::1`; a bare address as is.
    public static func address(ofEndpoint endpoint: String) -> String? {
        let text = endpoint.trimmingWhitespace
        guard !text.isEmpty, text != "unknown" else { return nil }
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            return String(text[text.index(after: text.startIndex)..<close])
        }
        let colons = text.filter { $0 == ":" }.count
        if colons == 1, let colon = text.firstIndex(of: ":") { return String(text[..<colon]) }
        return text
    }

    /// `ip-10-0-1-23.ec2.internal`, `ip-10-0-1-23.ap-northeast-1.compute.internal`,
    /// `ip-10-0-1-23` → `10.0.1.23`; other names → nil.
    public static func address(ofHostname hostname: String) -> String? {
        let label = hostname.split(separator: ".").first.map(String.init) ?? hostname
        guard label.hasPrefix("ip-") else { return nil }
        let octets = label.dropFirst(3).split(separator: "-")
        guard octets.count == 4, octets.allSatisfy({ Int($0).map { (0...255).contains($0) } == true }) else { return nil }
        return octets.joined(separator: ".")
    }
}
