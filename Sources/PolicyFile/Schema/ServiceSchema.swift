import AutoscalerCore
import Yams

/// `services`: each ECS service, its queues and bounds, its settings over `defaults`
/// (`ServiceSetting`), and the Redash rules a legal-looking policy can break.
extension PolicySchema {
    struct QueueClaim {
        var service: String
        var mark: Mark?
        var allowsSharing: Bool
    }

    func readServices(_ node: Node, defaults: [@Sendable (inout ServicePolicy) -> Void], defaultsNode: Node? = nil) -> [(ServicePolicy, Node)] {
        guard let named = reader.namedMapping(node, "services") else { return [] }
        if named.isEmpty {
            reader.error(node.mark, "services", "no services: name at least one ECS service to manage")
        }
        if named.count > PolicyLimits.maximumServices {
            reader.error(node.mark, "services", "\(named.count) services; a policy manages at most \(PolicyLimits.maximumServices)")
            return []
        }
        var services: [(ServicePolicy, Node)] = []
        var claims: [String: QueueClaim] = [:]
        for (name, keyMark, value) in named {
            let path = "services.\(name)"
            if !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
                || name.count > 255 {
                reader.error(keyMark, path, "`\(name)` is not an ECS service name (letters, digits, - and _, up to 255)")
            }
            guard let entries = reader.mapping(
                value, path, known: Self.serviceKeys, required: ["queues", "minTasks", "maxTasks"])
            else { continue }
            guard let service = readService(name, entries, path, defaults: defaults, defaultsNode: defaultsNode) else { continue }

            let allowsSharing = entries["allowSharedQueues"].flatMap {
                reader.boolean($0, "\(path).allowSharedQueues")
            } ?? false
            if let queueNodes = entries["queues"].flatMap({ reader.sequence($0, "\(path).queues") }) {
                for (index, (queue, queueNode)) in zip(service.queues, queueNodes).enumerated() {
                    if let claim = claims[queue] {
                        if !(claim.allowsSharing && allowsSharing) {
                            reader.error(queueNode.mark, "\(path).queues[\(index)]",
                                         "queue `\(queue)` is also consumed by \(claim.service) (line \(claim.mark?.line ?? 0)); two services sized for one queue would each add tasks for the same jobs. Set allowSharedQueues: true on both if that is intended")
                        }
                    } else {
                        claims[queue] = QueueClaim(service: name, mark: queueNode.mark, allowsSharing: allowsSharing)
                    }
                }
            }
            checkRedashRules(service, entries, path, defaultsNode: defaultsNode)
            services.append((service, value))
        }
        return services
    }

    func readService(
        _ name: String, _ entries: Entries, _ path: String, defaults: [@Sendable (inout ServicePolicy) -> Void], defaultsNode: Node? = nil
    ) -> ServicePolicy? {
        var queues: [String] = []
        var listed = Set<String>()
        if let node = entries["queues"], let items = reader.sequence(node, "\(path).queues") {
            if items.isEmpty { reader.error(node.mark, "\(path).queues", "list at least one queue") }
            if items.count > PolicyLimits.maximumQueues {
                reader.error(node.mark, "\(path).queues", "\(items.count) queues; a service consumes at most \(PolicyLimits.maximumQueues)")
                return nil
            }
            for (index, item) in items.enumerated() {
                let itemPath = "\(path).queues[\(index)]"
                // A queue name is shown everywhere (logs, metrics, /status): no interpolation,
                // and only the characters Redash's queue names are made of.
                guard let queue = reader.nonEmptyString(item, itemPath, use: .none) else { continue }
                if queue.contains(where: \.isWhitespace) {
                    reader.error(item.mark, itemPath, "queue names have no spaces; list each queue as its own item")
                } else if !Self.isQueueName(queue) {
                    reader.error(item.mark, itemPath, "`\(queue.prefix(40))` is not a Redash queue name: letters, digits, `_`, `-`, `.` and `:`, up to \(Self.queueNameLimit) characters (${…} is not read here)")
                } else if !listed.insert(queue).inserted {
                    reader.error(item.mark, itemPath, "queue `\(queue)` is listed twice")
                } else {
                    queues.append(queue)
                }
            }
        }
        let minTasks = entries["minTasks"].flatMap { reader.integer($0, "\(path).minTasks", atLeast: 0) }
        let maxTasks = entries["maxTasks"].flatMap { reader.integer($0, "\(path).maxTasks", atLeast: 0) }
        if let minTasks, let maxTasks, let node = entries["maxTasks"] {
            if maxTasks < minTasks {
                reader.error(node.mark, "\(path).maxTasks", "must be >= minTasks (\(minTasks))")
            } else if maxTasks == 0 {
                reader.warning(node.mark, "\(path).maxTasks", "0 pins the service at 0 tasks; remove it from the policy to leave it alone")
            }
        }
        // The service's own settings over `defaults`, over the core's defaults.
        let settings = defaults + ServiceSetting.changes(entries, path, reader: reader)
        let fallback = entries["fallbackTasks"].flatMap { node -> Int? in
            guard let value = reader.integer(node, "\(path).fallbackTasks", atLeast: 0) else { return nil }
            if let maxTasks, value > maxTasks {
                reader.error(node.mark, "\(path).fallbackTasks", "must be <= maxTasks (\(maxTasks))")
            }
            return value
        }
        let schedules = entries["schedules"].map { readSchedules($0, "\(path).schedules", maxTasks: maxTasks, minTasks: minTasks) } ?? []

        guard let minTasks, let maxTasks, !queues.isEmpty else { return nil }
        var service = ServicePolicy(name: name, queues: queues, minTasks: minTasks, maxTasks: maxTasks, fallbackTasks: fallback, schedules: schedules)
        for change in settings { change(&service) }
        if service.scaleDown.stabilizationWindow < .seconds(60) {
            let (mark, where_) = Self.origin("scaleDown", entries, path, defaultsNode)
            reader.warning(mark, "\(where_).scaleDown.stabilizationWindow",
                           "\(service.scaleDown.stabilizationWindow.compactDescription) is shorter than a Fargate task takes to start; the service may flap")
        }
        return service
    }

    /// Where a service's setting `key` was written, for a diagnostic about its value: the
    /// service's own entry, else `defaults` (then one diagnostic there, however many services
    /// inherit it: the reader drops repeats), else the service.
    static func origin(_ key: String, _ entries: Entries, _ path: String, _ defaultsNode: Node?) -> (Mark?, String) {
        if let own = entries[key] { return (own.mark, path) }
        if let inherited = defaultsNode?.mapping?.first(where: { $0.key.string == key })?.value { return (inherited.mark, "defaults") }
        return (entries.mark, path)
    }

    /// Redash facts that make some legal-looking policies dangerous.
    func checkRedashRules(_ service: ServicePolicy, _ entries: Entries, _ path: String, defaultsNode: Node? = nil) {
        let periodic = service.queues.filter(Self.periodicQueues.contains)
        if let queue = periodic.first, service.minTasks == 0 {
            reader.error(entries["minTasks"]?.mark, "\(path).minTasks",
                         "must be >= 1: this service consumes `\(queue)`, and with no consumer Redash's periodic jobs (scheduled queries among them) silently stop")
        }
        let runsBeat = service.name.lowercased().contains("scheduler") || service.queues.contains("celery")
        let allowsMore = entries["allowMultipleSchedulers"].flatMap {
            reader.boolean($0, "\(path).allowMultipleSchedulers")
        } ?? false
        if runsBeat && service.maxTasks > 1 && !allowsMore {
            let why = service.queues.contains("celery")
                ? "it consumes `celery`, so it runs Celery beat"
                : "it looks like Redash's scheduler"
            reader.error(entries["maxTasks"]?.mark, "\(path).maxTasks",
                         "must be 1: \(why), and two copies fire every periodic job twice. Set allowMultipleSchedulers: true if this service does not run the scheduler")
        }
        if service.queues.contains("queries") && service.minTasks == 0 {
            reader.warning(entries["minTasks"]?.mark, "\(path).minTasks",
                           "0 means the first adhoc query after a quiet spell waits for a task to start (30–90s on Fargate)")
        }
        if service.target.maxWait < .seconds(5) {
            let (mark, where_) = Self.origin("target", entries, path, defaultsNode)
            reader.warning(mark, "\(where_).target.maxWait",
                           "below 5s: almost every job will count as late")
        }
    }

    /// Longest queue name accepted.
    static let queueNameLimit = 128

    /// Letters, digits, `_`, `-`, `.` and `:`: what Redash's queue names (`queries`,
    /// `scheduled_queries`, a data source's own) are made of.
    static func isQueueName(_ name: String) -> Bool {
        name.count <= queueNameLimit && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-.:".contains($0)) }
    }
}
