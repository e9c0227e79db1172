import AutoscalerCore
import Yams

/// Where Redash and AWS are, and how the controller reaches them: `region`, `redis`, `database`,
/// `ecs`, `celery`, `mode` and `killSwitch`.
extension PolicySchema {
    func readRegion(_ node: Node) -> String? {
        guard let region = reader.nonEmptyString(node, "region") else { return nil }
        if !RegionName.isWellFormed(region) {
            reader.error(node.mark, "region", "`\(region)` is not an AWS region name such as `ap-northeast-1`")
            return nil
        }
        return region
    }

    func readRedis(_ node: Node) -> RedisSettings? {
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
            if let redashNode = entries["redashUrl"], !reader.isNull(redashNode), let text = reader.string(redashNode, "redis.redashUrl", use: .secrets),
               !text.trimmingWhitespace.isEmpty {
                redashURL = checkedRedisURL(text.trimmingWhitespace, redashNode, "redis.redashUrl")
                redashURLFailed = redashURL == nil
            }
        }
        let path = node == urlNode ? "redis" : "redis.url"
        guard let text = reader.nonEmptyString(urlNode, path, use: .secrets), let url = checkedRedisURL(text, urlNode, path), !redashURLFailed else { return nil }
        // The same server twice is one Redis.
        if redashURL == url { redashURL = nil }
        return RedisSettings(url: url, layout: layout, redashURL: redashURL)
    }

    /// `text` when it is a Redis URL the client accepts (the same parser), else an error.
    func checkedRedisURL(_ text: String, _ node: Node, _ path: String) -> SecretURL? {
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
    func readDatabase(_ node: Node) -> DatabaseSettings?? {
        if reader.isNull(node) { return .some(nil) }
        var urlNode = node
        if case .mapping = node {
            guard let entries = reader.mapping(node, "database", known: ["url"], required: ["url"]),
                  let url = entries["url"] else { return nil }
            urlNode = url
        }
        let path = node == urlNode ? "database" : "database.url"
        guard let text = reader.string(urlNode, path, use: .secrets) else { return nil }
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

    func readECS(_ node: Node) -> ECSSettings {
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
        if let timeout = entries["taskStartTimeout"], let value = reader.duration(timeout, "ecs.taskStartTimeout", allowZero: false) {
            if value < .seconds(30) || value > .seconds(3600) {
                reader.error(timeout.mark, "ecs.taskStartTimeout", "must be from 30s to 1h, found \(value.compactDescription): a Fargate task takes 30–90 s to start")
            } else {
                settings.taskStartTimeout = value
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
    func readCelery(_ node: Node) -> CelerySettings {
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
        if let timeout = entries["visibilityTimeout"], let value = reader.duration(timeout, "celery.visibilityTimeout", allowZero: false) {
            if value < .seconds(60) || value > .seconds(86_400) {
                reader.error(timeout.mark, "celery.visibilityTimeout", "must be from 1m to 24h, found \(value.compactDescription): it is kombu's broker_transport_options visibility_timeout of Redash's Celery, which Redash leaves at 1h")
            } else {
                settings.visibilityTimeout = value
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

    func warnAboutInterval(_ interval: Duration, _ top: Entries) {
        let mark = top["interval"]?.mark
        if interval < .seconds(2) {
            reader.warning(mark, "interval", "below 2s: Redis and the ECS API are read every tick; 5s is the default")
        } else if interval > .seconds(60) {
            reader.warning(mark, "interval", "above 60s: queued queries wait at least this long before a scale-up")
        }
    }

    /// `active`, `dry-run` or `paused`.
    static func readMode(_ reader: NodeReader, _ node: Node, _ path: String) -> ServiceMode? {
        guard let text = reader.nonEmptyString(node, path) else { return nil }
        guard let mode = ServiceMode(rawValue: text) else {
            reader.error(node.mark, path, "`\(text)` is not a mode; use active (scale), dry-run (decide and log what it would do) or paused (only watch)")
            return nil
        }
        return mode
    }

    /// A file path or `ssm:` parameter, read every tick for `active`, `dry-run` or `paused`.
    func readKillSwitch(_ node: Node) -> String? {
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
}
