import AutoscalerCore
import Yams

/// The keys of `policies.yaml` and the checks on them. `docs/policies.md` documents each one.
struct PolicySchema {
    let reader: NodeReader

    static let topLevelKeys = ["cluster", "region", "interval", "reactInterval", "mode", "killSwitch", "redis", "database", "ecs", "celery", "defaults", "services"]
    static let ecsKeys = ["maxCallsPerSecond", "burst", "serviceRefresh", "taskStartTimeout"]
    static let celeryKeys = ["inspect", "replyTimeout", "idlePeriod", "visibilityTimeout"]
    /// A service's own keys; the rest are its settings, which `defaults` may give too
    /// (`ServiceSetting`).
    static let serviceOwnKeys = ["queues", "minTasks", "maxTasks", "fallbackTasks", "schedules", "allowSharedQueues", "allowMultipleSchedulers"]
    static let serviceKeys = serviceOwnKeys + ServiceSetting.topKeys
    static let scheduleKeys = ["name", "days", "start", "end", "utcOffset", "minTasks"]

    /// Queues whose consumer runs Redash's periodic jobs: with no consumer, scheduled queries
    /// and maintenance silently stop.
    static let periodicQueues: Set<String> = ["celery", "periodic"]

    func readPolicy(_ root: Node) -> Policy? {
        guard let top = reader.mapping(root, "", known: Self.topLevelKeys,
                                       required: ["cluster", "redis", "services"]) else { return nil }
        let cluster = top["cluster"].flatMap { reader.nonEmptyString($0, "cluster") }
        let region = top["region"].flatMap { readRegion($0) }
        let interval = top["interval"].map { reader.duration($0, "interval", allowZero: false) }
            ?? Policy.defaultInterval
        let reactInterval = top["reactInterval"].map { reader.duration($0, "reactInterval", allowZero: true) }
            ?? Policy.defaultReactInterval
        if let reactInterval, let interval, reactInterval > .zero {
            let mark = top["reactInterval"]?.mark
            if reactInterval >= interval {
                reader.warning(mark, "reactInterval", "not shorter than interval (\(interval.compactDescription)): it has no effect")
            } else if reactInterval < .milliseconds(500) {
                reader.warning(mark, "reactInterval", "below 500ms: every queue is read more than twice a second; 1s is the usual value")
            }
        }
        let redis = top["redis"].flatMap { readRedis($0) }
        let database = top["database"].flatMap { readDatabase($0) }
        let ecs = top["ecs"].map { readECS($0) } ?? ECSSettings()
        let celery = top["celery"].map { readCelery($0) } ?? CelerySettings()
        if celery.inspect, redis?.layout == .rq, let node = top["celery"] {
            reader.warning(node.mark, "celery.inspect", "has no effect with redis.layout rq: RQ's workers are read from their registry")
        }
        let mode = top["mode"].flatMap { Self.readMode(reader, $0, "mode") } ?? .active
        let killSwitch = top["killSwitch"].flatMap { readKillSwitch($0) }
        let defaults = top["defaults"].flatMap { node in
            reader.mapping(node, "defaults", known: ServiceSetting.topKeys).map { ServiceSetting.changes($0, "defaults", reader: reader) }
        } ?? []
        let services = top["services"].map { readServices($0, defaults: defaults, defaultsNode: top["defaults"]) } ?? []

        if let interval {
            warnAboutInterval(interval, top)
            for (service, node) in services {
                if service.staleAfter < interval * 2 {
                    let own = node.mapping?.first { $0.key.string == "staleAfter" }?.value.mark
                    let inherited = top["defaults"]?.mapping?.first { $0.key.string == "staleAfter" }?.value.mark
                    let (mark, path) = own.map { ($0, "services.\(service.name)") } ?? inherited.map { ($0, "defaults") } ?? (node.mark, "services.\(service.name)")
                    reader.warning(mark, "\(path).staleAfter",
                                   "shorter than two intervals (\(interval.compactDescription)): one slow read will count as a missing signal")
                }
            }
        }
        guard let cluster, let interval, let reactInterval, let redis, !reader.hasErrors else { return nil }
        return Policy(
            cluster: cluster, region: region, interval: interval, redis: redis,
            database: database ?? nil, services: services.map(\.0), ecs: ecs, mode: mode, killSwitch: killSwitch, celery: celery,
            reactInterval: reactInterval)
    }
}
