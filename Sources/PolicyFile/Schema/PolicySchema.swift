import AutoscalerCore
import Yams

/// The keys of `policies.yaml` and the checks on them. `docs/policies.md` documents each one.
struct PolicySchema {
    let reader: NodeReader

    static let topLevelKeys = ["cluster", "region", "interval", "mode", "killSwitch", "redis", "database", "ecs", "celery", "defaults", "services"]
    static let ecsKeys = ["maxCallsPerSecond", "burst", "serviceRefresh"]
    static let celeryKeys = ["inspect", "replyTimeout", "idlePeriod"]
    static let tunableKeys = [
        "mode", "workersPerTask", "target", "scaleUp", "scaleDown", "staleAfter", "protectBusyTasks", "taskProtection", "externalChangeHold",
    ]
    static let serviceKeys = ["queues", "minTasks", "maxTasks", "fallbackTasks", "schedules",
                              "allowSharedQueues", "allowMultipleSchedulers"] + tunableKeys
    static let targetKeys = ["backlogPerWorker", "maxWait", "drainTime"]
    static let behaviorKeys = ["stabilizationWindow", "maxStep", "cooldown"]
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
        let redis = top["redis"].flatMap { readRedis($0) }
        let database = top["database"].flatMap { readDatabase($0) }
        let ecs = top["ecs"].map { readECS($0) } ?? ECSSettings()
        let celery = top["celery"].map { readCelery($0) } ?? CelerySettings()
        if celery.inspect, redis?.layout == .rq, let node = top["celery"] {
            reader.warning(node.mark, "celery.inspect", "has no effect with redis.layout rq: RQ's workers are read from their registry")
        }
        let mode = top["mode"].flatMap { readMode($0, "mode") } ?? .active
        let killSwitch = top["killSwitch"].flatMap { readKillSwitch($0) }
        let defaults = top["defaults"].flatMap { node in
            reader.mapping(node, "defaults", known: Self.tunableKeys).map { readTunables($0, "defaults") }
        } ?? Tunables()
        let services = top["services"].map { readServices($0, defaults: defaults) } ?? []

        if let interval {
            warnAboutInterval(interval, top)
            for (service, node) in services {
                if service.staleAfter < interval * 2 {
                    let mark = node.mapping?.first { $0.key.string == "staleAfter" }?.value.mark ?? node.mark
                    reader.warning(mark, "services.\(service.name).staleAfter",
                                   "shorter than two intervals (\(interval.compactDescription)): one slow read will count as a missing signal")
                }
            }
        }
        guard let cluster, let interval, let redis, !reader.hasErrors else { return nil }
        return Policy(
            cluster: cluster, region: region, interval: interval, redis: redis,
            database: database ?? nil, services: services.map(\.0), ecs: ecs, mode: mode, killSwitch: killSwitch, celery: celery)
    }

    // MARK: Connections

    private func readRegion(_ node: Node) -> String? {
        guard let region = reader.nonEmptyString(node, "region") else { return nil }
        if !RegionName.isWellFormed(region) {
            reader.error(node.mark, "region", "`\(region)` is not an AWS region name such as `ap-northeast-1`")
            return nil
        }
        return region
    }

    private func readRedis(_ node: Node) -> RedisSettings? {
        var urlNode = node
        var layout = QueueLayout.auto
        var redashURL: SecretURL?
        var redashURLFailed = false
        if case .mapping = node {
            guard let entries = reader.mapping(node, "redis", known: ["url", "layout", "redashUrl"], required: ["url"]),
                  let url = entries["url"] else { return nil }
            urlNode = url
            if let layoutNode = entries["layout"], let text = reader.nonEmptyString(layoutNode, "redis.layout") {
                if let parsed = QueueLayout(rawValue: text) {
                    layout = parsed
                } else {
                    reader.error(layoutNode.mark, "redis.layout",
                                 "`\(text)` is not a layout; use auto, celery (Redash v7–v8) or rq (v10 and later)")
                }
            }
            if let redashNode = entries["redashUrl"], !reader.isNull(redashNode), let text = reader.string(redashNode, "redis.redashUrl"),
               !text.trimmingWhitespace.isEmpty {
                redashURL = checkedRedisURL(text.trimmingWhitespace, redashNode, "redis.redashUrl")
                redashURLFailed = redashURL == nil
            }
        }
        let path = node == urlNode ? "redis" : "redis.url"
        guard let text = reader.nonEmptyString(urlNode, path), let url = checkedRedisURL(text, urlNode, path), !redashURLFailed else { return nil }
        // The same server twice is one Redis.
        if redashURL == url { redashURL = nil }
        return RedisSettings(url: url, layout: layout, redashURL: redashURL)
    }

    /// `text` when it is a Redis URL the client accepts (the same parser), else an error.
    private func checkedRedisURL(_ text: String, _ node: Node, _ path: String) -> SecretURL? {
        let url = SecretURL(text)
        guard url.scheme == "redis" || url.scheme == "rediss" else {
            reader.error(node.mark, path, "`\(url)` is not a Redis URL; expected redis://host:6379/0 or rediss://…")
            return nil
        }
        do {
            _ = try RedisURL(text)
        } catch {
            reader.error(node.mark, path, "`\(url)` is not a usable Redis URL: \(error.message)")
            return nil
        }
        return url
    }

    /// `nil` for a bad value, `.some(nil)` for "no database" (absent, null or empty after
    /// interpolation, so `${REDASH_DATABASE_URL:-}` makes it optional).
    private func readDatabase(_ node: Node) -> DatabaseSettings?? {
        if reader.isNull(node) { return .some(nil) }
        var urlNode = node
        if case .mapping = node {
            guard let entries = reader.mapping(node, "database", known: ["url"], required: ["url"]),
                  let url = entries["url"] else { return nil }
            urlNode = url
        }
        let path = node == urlNode ? "database" : "database.url"
        guard let text = reader.string(urlNode, path) else { return nil }
        if text.trimmingWhitespace.isEmpty { return .some(nil) }
        let url = SecretURL(text.trimmingWhitespace)
        // libpq takes a URL or a keyword string (`host=db dbname=redash user=redash`).
        let isKeywords = url.scheme == nil && ["host=", "hostaddr=", "dbname=", "service="].contains { text.contains($0) }
        guard url.scheme == "postgresql" || url.scheme == "postgres" || isKeywords else {
            reader.error(urlNode.mark, path, "`\(url)` is not a PostgreSQL URL; expected postgresql://user@host:5432/redash (or libpq keywords: host=… dbname=…)")
            return nil
        }
        return .some(DatabaseSettings(url: url))
    }

    private func readECS(_ node: Node) -> ECSSettings {
        var settings = ECSSettings()
        guard let entries = reader.mapping(node, "ecs", known: Self.ecsKeys) else { return settings }
        if let rate = entries["maxCallsPerSecond"], let value = reader.positiveNumber(rate, "ecs.maxCallsPerSecond") {
            if value > 1000 {
                reader.error(rate.mark, "ecs.maxCallsPerSecond", "must be at most 1000, found \(value)")
            } else {
                settings.maxCallsPerSecond = value
            }
        }
        if let burst = entries["burst"], let value = reader.integer(burst, "ecs.burst", atLeast: 1) {
            if value > 1000 {
                reader.error(burst.mark, "ecs.burst", "must be at most 1000, found \(value)")
            } else {
                settings.burst = value
            }
        }
        if let refresh = entries["serviceRefresh"], let value = reader.duration(refresh, "ecs.serviceRefresh", allowZero: true) {
            if value > .seconds(300) {
                reader.error(refresh.mark, "ecs.serviceRefresh", "above 5m: a change made outside the controller would go unseen that long")
            } else {
                settings.serviceRefresh = value
            }
        }
        return settings
    }

    /// `celery:`: Celery's remote control (Redash v7–v8), off unless asked for.
    private func readCelery(_ node: Node) -> CelerySettings {
        var settings = CelerySettings()
        guard let entries = reader.mapping(node, "celery", known: Self.celeryKeys) else { return settings }
        if let inspect = entries["inspect"], let value = reader.boolean(inspect, "celery.inspect") { settings.inspect = value }
        if let timeout = entries["replyTimeout"], let value = reader.duration(timeout, "celery.replyTimeout", allowZero: false) {
            if value < .milliseconds(100) || value > .seconds(5) {
                reader.error(timeout.mark, "celery.replyTimeout",
                             "must be from 100ms to 5s, found \(value.compactDescription): the tick waits this long for a silent worker")
            } else {
                settings.replyTimeout = value
            }
        }
        if let period = entries["idlePeriod"], let value = reader.duration(period, "celery.idlePeriod", allowZero: false) {
            if value > .seconds(3600) {
                reader.error(period.mark, "celery.idlePeriod", "must be at most 1h, found \(value.compactDescription)")
            } else {
                settings.idlePeriod = value
            }
        }
        return settings
    }

    private func warnAboutInterval(_ interval: Duration, _ top: Entries) {
        let mark = top["interval"]?.mark
        if interval < .seconds(2) {
            reader.warning(mark, "interval", "below 2s: Redis and the ECS API are read every tick; 5s is the default")
        } else if interval > .seconds(60) {
            reader.warning(mark, "interval", "above 60s: queued queries wait at least this long before a scale-up")
        }
    }

    // MARK: Tunables (service settings that `defaults` may also give)

    struct Tunables {
        var workersPerTask: Int?
        var backlogPerWorker: Double?
        var maxWait: Duration?
        var drainTime: Duration?
        var scaleUp = PartialBehavior()
        var scaleDown = PartialBehavior()
        var staleAfter: Duration?
        var protectBusyTasks: Bool?
        var taskProtection: Duration?
        var externalChangeHold: Duration?
        var mode: ServiceMode?
    }

    struct PartialBehavior {
        var window: Duration?
        var maxStep: Int?
        var cooldown: Duration?

        func merged(over base: PartialBehavior, default fallback: ScalingBehavior) -> ScalingBehavior {
            ScalingBehavior(
                stabilizationWindow: window ?? base.window ?? fallback.stabilizationWindow,
                maxStep: maxStep ?? base.maxStep ?? fallback.maxStep,
                cooldown: cooldown ?? base.cooldown ?? fallback.cooldown)
        }
    }

    private func readTunables(_ entries: Entries, _ path: String) -> Tunables {
        var tunables = Tunables()
        if let node = entries["workersPerTask"] {
            tunables.workersPerTask = reader.integer(node, reader.join(path, "workersPerTask"), atLeast: 1)
        }
        if let node = entries["target"] {
            let targetPath = reader.join(path, "target")
            if let target = reader.mapping(node, targetPath, known: Self.targetKeys) {
                if let value = target["backlogPerWorker"] {
                    tunables.backlogPerWorker = reader.positiveNumber(value, reader.join(targetPath, "backlogPerWorker"))
                }
                if let value = target["maxWait"] {
                    tunables.maxWait = reader.duration(value, reader.join(targetPath, "maxWait"), allowZero: false)
                }
                if let value = target["drainTime"] {
                    tunables.drainTime = reader.duration(value, reader.join(targetPath, "drainTime"), allowZero: false)
                }
            }
        }
        tunables.scaleUp = readBehavior(entries["scaleUp"], reader.join(path, "scaleUp"))
        tunables.scaleDown = readBehavior(entries["scaleDown"], reader.join(path, "scaleDown"))
        if let node = entries["protectBusyTasks"] {
            tunables.protectBusyTasks = reader.boolean(node, reader.join(path, "protectBusyTasks"))
        }
        if let node = entries["taskProtection"], let value = reader.duration(node, reader.join(path, "taskProtection"), allowZero: false) {
            // ECS accepts 1 to 2,880 minutes.
            if value < .seconds(60) || value > .seconds(2880 * 60) {
                reader.error(node.mark, reader.join(path, "taskProtection"), "must be between 1m and 48h (ECS's limits for task scale-in protection)")
            } else {
                tunables.taskProtection = value
            }
        }
        if let node = entries["staleAfter"] {
            tunables.staleAfter = reader.duration(node, reader.join(path, "staleAfter"), allowZero: false)
        }
        if let node = entries["externalChangeHold"] {
            tunables.externalChangeHold = reader.duration(node, reader.join(path, "externalChangeHold"), allowZero: true)
        }
        if let node = entries["mode"] {
            tunables.mode = readMode(node, reader.join(path, "mode"))
        }
        return tunables
    }

    /// `active`, `dry-run` or `paused`.
    private func readMode(_ node: Node, _ path: String) -> ServiceMode? {
        guard let text = reader.nonEmptyString(node, path) else { return nil }
        guard let mode = ServiceMode(rawValue: text) else {
            reader.error(node.mark, path, "`\(text)` is not a mode; use active (scale), dry-run (decide and log what it would do) or paused (only watch)")
            return nil
        }
        return mode
    }

    /// A file path or `ssm:` parameter, read every tick for `active`, `dry-run` or `paused`.
    private func readKillSwitch(_ node: Node) -> String? {
        if reader.isNull(node) { return nil }
        guard let text = reader.string(node, "killSwitch")?.trimmingWhitespace else { return nil }
        if text.isEmpty { return nil }
        let schemes = ["file:", "ssm:", "/"]
        guard schemes.contains(where: text.hasPrefix) else {
            reader.error(node.mark, "killSwitch", "`\(text)` is not a place the controller can read; use an absolute file path (/run/redash-autoscaler/mode) or an SSM parameter (ssm:/redash-autoscaler/mode)")
            return nil
        }
        return text
    }

    private func readBehavior(_ node: Node?, _ path: String) -> PartialBehavior {
        guard let node, let entries = reader.mapping(node, path, known: Self.behaviorKeys) else {
            return PartialBehavior()
        }
        var behavior = PartialBehavior()
        if let value = entries["stabilizationWindow"] {
            behavior.window = reader.duration(value, reader.join(path, "stabilizationWindow"), allowZero: true)
        }
        if let value = entries["maxStep"] {
            behavior.maxStep = reader.integer(value, reader.join(path, "maxStep"), atLeast: 1)
        }
        if let value = entries["cooldown"] {
            behavior.cooldown = reader.duration(value, reader.join(path, "cooldown"), allowZero: true)
        }
        return behavior
    }

    // MARK: Services

    private struct QueueClaim {
        var service: String
        var mark: Mark?
        var allowsSharing: Bool
    }

    private func readServices(_ node: Node, defaults: Tunables) -> [(ServicePolicy, Node)] {
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
            guard let service = readService(name, entries, path, defaults: defaults) else { continue }

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
            checkRedashRules(service, entries, path)
            services.append((service, value))
        }
        return services
    }

    private func readService(
        _ name: String, _ entries: Entries, _ path: String, defaults: Tunables
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
                guard let queue = reader.nonEmptyString(item, itemPath) else { continue }
                if queue.contains(where: \.isWhitespace) {
                    reader.error(item.mark, itemPath, "queue names have no spaces; list each queue as its own item")
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
        let own = readTunables(entries, path)
        let fallback = entries["fallbackTasks"].flatMap { node -> Int? in
            guard let value = reader.integer(node, "\(path).fallbackTasks", atLeast: 0) else { return nil }
            if let maxTasks, value > maxTasks {
                reader.error(node.mark, "\(path).fallbackTasks", "must be <= maxTasks (\(maxTasks))")
            }
            return value
        }
        let schedules = entries["schedules"].map { readSchedules($0, "\(path).schedules", maxTasks: maxTasks, minTasks: minTasks) } ?? []

        let staleAfter = own.staleAfter ?? defaults.staleAfter ?? ServicePolicy.defaultStaleAfter
        let target = ScalingTarget(
            backlogPerWorker: own.backlogPerWorker ?? defaults.backlogPerWorker ?? ScalingTarget.defaultBacklogPerWorker,
            maxWait: own.maxWait ?? defaults.maxWait ?? ScalingTarget.defaultMaxWait,
            drainTime: own.drainTime ?? defaults.drainTime)
        let scaleDown = own.scaleDown.merged(over: defaults.scaleDown, default: .defaultScaleDown)
        if scaleDown.stabilizationWindow < .seconds(60) {
            reader.warning(entries["scaleDown"]?.mark ?? entries.mark, "\(path).scaleDown.stabilizationWindow",
                           "\(scaleDown.stabilizationWindow.compactDescription) is shorter than a Fargate task takes to start; the service may flap")
        }
        guard let minTasks, let maxTasks, !queues.isEmpty else { return nil }
        return ServicePolicy(
            name: name, queues: queues, minTasks: minTasks, maxTasks: maxTasks,
            workersPerTask: own.workersPerTask ?? defaults.workersPerTask ?? ServicePolicy.defaultWorkersPerTask,
            target: target,
            scaleUp: own.scaleUp.merged(over: defaults.scaleUp, default: .defaultScaleUp),
            scaleDown: scaleDown, staleAfter: staleAfter, fallbackTasks: fallback, schedules: schedules,
            protectBusyTasks: own.protectBusyTasks ?? defaults.protectBusyTasks ?? true,
            taskProtection: own.taskProtection ?? defaults.taskProtection ?? ServicePolicy.defaultTaskProtection,
            externalChangeHold: own.externalChangeHold ?? defaults.externalChangeHold ?? ServicePolicy.defaultExternalChangeHold,
            mode: own.mode ?? defaults.mode ?? .active)
    }

    /// Redash facts that make some legal-looking policies dangerous.
    private func checkRedashRules(_ service: ServicePolicy, _ entries: Entries, _ path: String) {
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
            reader.warning(entries["target"]?.mark ?? entries.mark, "\(path).target.maxWait",
                           "below 5s: almost every job will count as late")
        }
    }

    // MARK: Schedules

    private func readSchedules(_ node: Node, _ path: String, maxTasks: Int?, minTasks: Int?) -> [ScheduleFloor] {
        guard let items = reader.sequence(node, path) else { return [] }
        var result: [ScheduleFloor] = []
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard let entries = reader.mapping(item, itemPath, known: Self.scheduleKeys,
                                               required: ["name", "start", "end", "minTasks"]) else { continue }
            let name = entries["name"].flatMap { reader.nonEmptyString($0, "\(itemPath).name") }
            let start = entries["start"].flatMap { readClock($0, "\(itemPath).start", allowMidnightEnd: false) }
            let end = entries["end"].flatMap { readClock($0, "\(itemPath).end", allowMidnightEnd: true) }
            let offset: Duration? = entries["utcOffset"].map { readOffset($0, "\(itemPath).utcOffset") } ?? .zero
            let floor = entries["minTasks"].flatMap { reader.integer($0, "\(itemPath).minTasks", atLeast: 0) }
            var days = Set(Weekday.allCases)
            if let daysNode = entries["days"], let dayItems = reader.sequence(daysNode, "\(itemPath).days") {
                days = []
                for (dayIndex, dayNode) in dayItems.enumerated() {
                    let dayPath = "\(itemPath).days[\(dayIndex)]"
                    guard let text = reader.nonEmptyString(dayNode, dayPath) else { continue }
                    if let day = Weekday(name: text) {
                        days.insert(day)
                    } else {
                        var message = "`\(text)` is not a day; use mon, tue, wed, thu, fri, sat or sun"
                        if let guess = Suggestion.closest(to: text, among: Weekday.allCases.map(\.shortName)) {
                            message = "`\(text)` is not a day, did you mean `\(guess)`?"
                        }
                        reader.error(dayNode.mark, dayPath, message)
                    }
                }
            }
            if let start, let end, start == end % 1440, let node = entries["end"] {
                reader.error(node.mark, "\(itemPath).end", "equals start; for the whole day write start: \"00:00\" and end: \"24:00\"")
            }
            if let floor, let node = entries["minTasks"] {
                if let maxTasks, floor > maxTasks {
                    reader.error(node.mark, "\(itemPath).minTasks", "must be <= the service's maxTasks (\(maxTasks))")
                } else if let minTasks, floor <= minTasks {
                    reader.warning(node.mark, "\(itemPath).minTasks", "not above the service's minTasks (\(minTasks)); this schedule has no effect")
                }
            }
            guard let name, let start, let end, let offset, let floor else { continue }
            result.append(ScheduleFloor(
                name: name, days: days, startMinute: start, endMinute: end, utcOffset: offset, minTasks: floor))
        }
        return result
    }

    /// `HH:MM` as minutes after midnight; `24:00` only for an end.
    private func readClock(_ node: Node, _ path: String, allowMidnightEnd: Bool) -> Int? {
        guard let text = reader.nonEmptyString(node, path) else { return nil }
        let parts = text.split(separator: ":")
        if parts.count == 2, parts.allSatisfy({ $0.count == 2 }), let hour = Int(parts[0]), let minute = Int(parts[1]),
           (0..<60).contains(minute), (0..<24).contains(hour) || (allowMidnightEnd && hour == 24 && minute == 0) {
            return hour * 60 + minute
        }
        reader.error(node.mark, path, "expected a time as \"HH:MM\" (24-hour), found `\(text)`")
        return nil
    }

    /// `+09:00`, `-05:30`, `Z` or `UTC`.
    private func readOffset(_ node: Node, _ path: String) -> Duration? {
        guard let text = reader.nonEmptyString(node, path) else { return nil }
        if text == "Z" || text.uppercased() == "UTC" { return .zero }
        let sign: Int? = text.first == "+" ? 1 : text.first == "-" ? -1 : nil
        let parts = text.dropFirst().split(separator: ":")
        if let sign, parts.count == 2, let hours = Int(parts[0]), let minutes = Int(parts[1]),
           (0...14).contains(hours), (0..<60).contains(minutes) {
            return .seconds(sign * (hours * 3600 + minutes * 60))
        }
        reader.error(node.mark, path, "expected a UTC offset such as \"+09:00\" (time-zone names are not supported)")
        return nil
    }
}
