/// The whole validated policy: where Redash runs and how each of its ECS services scales.
///
/// Built only by the policy loader after every check has passed, so code holding a `Policy`
/// may rely on its invariants (bounds ordered, queues named, durations positive).
public struct Policy: Hashable, Sendable {
    /// The ECS cluster name or ARN.
    public let cluster: String
    /// The AWS region; `nil` means "from the environment or profile".
    public let region: String?
    /// Time between two reconciles.
    public let interval: Duration
    /// Between two reconciles, how often the queues alone are read: when they show work the
    /// last plan has no room for, the next reconcile starts at once. Zero: off.
    public let reactInterval: Duration
    /// Where Redash's queues live.
    public let redis: RedisSettings
    /// Redash's metadata database; `nil` when the controller works from Redis alone.
    public let database: DatabaseSettings?
    /// The managed ECS services, in file order.
    public let services: [ServicePolicy]
    /// How the controller spends ECS's rate limits.
    public let ecs: ECSSettings
    /// The whole controller's mode: combined with each service's, the most restrictive wins.
    public let mode: ServiceMode
    /// Where the kill switch is read, if anywhere: a file or an SSM parameter holding `active`,
    /// `dry-run` or `paused`, read every tick, so the controller can be stopped from writing
    /// without a deploy or a policy edit.
    public let killSwitch: String?
    /// Whether Celery's workers are asked what they execute (Redash v7–v8), and how.
    public let celery: CelerySettings

    /// Time between two reconciles unless the file says otherwise.
    public static let defaultInterval: Duration = .seconds(5)
    /// The queue watch between reconciles is off unless the file says otherwise.
    public static let defaultReactInterval: Duration = .zero

    /// Creates a policy. Only the policy loader builds one in the product (it checks every
    /// invariant first); tests and benchmarks of this package build theirs directly.
    package init(
        cluster: String, region: String? = nil, interval: Duration = Policy.defaultInterval,
        redis: RedisSettings, database: DatabaseSettings? = nil, services: [ServicePolicy], ecs: ECSSettings = ECSSettings(),
        mode: ServiceMode = .active, killSwitch: String? = nil, celery: CelerySettings = CelerySettings(),
        reactInterval: Duration = Policy.defaultReactInterval
    ) {
        self.reactInterval = reactInterval
        self.celery = celery
        self.cluster = cluster
        self.region = region
        self.interval = interval
        self.redis = redis
        self.database = database
        self.services = services
        self.ecs = ecs
        self.mode = mode
        self.killSwitch = killSwitch
    }

    /// The service with this ECS name, if the policy manages it.
    public func service(named name: String) -> ServicePolicy? {
        services.first { $0.name == name }
    }

    /// Every queue a managed service consumes, in first-seen order without repeats.
    public var queueNames: [String] {
        var seen = Set<String>()
        return services.flatMap(\.queues).filter { seen.insert($0).inserted }
    }
}

/// How the controller spends ECS's account-wide rate limits, which it shares with deploy
/// tooling, the console and every other automation in the account and region.
public struct ECSSettings: Hashable, Sendable {
    /// The client-side token bucket: calls a second on average.
    public var maxCallsPerSecond: Double
    /// The client-side token bucket: calls at once.
    public var burst: Int
    /// How old a service's description may be when nothing is about to be written to it (it is
    /// always read again just before a write); zero: every service every tick.
    public var serviceRefresh: Duration
    /// How long tasks may take to start before the capacity counts as stalled; `nil`: the
    /// learned p90 start time plus a minute (90 s plus a minute before anything is learned).
    public var taskStartTimeout: Duration?

    public static let defaultMaxCallsPerSecond = 10.0
    public static let defaultBurst = 40
    public static let defaultServiceRefresh: Duration = .seconds(30)

    public init(
        maxCallsPerSecond: Double = ECSSettings.defaultMaxCallsPerSecond, burst: Int = ECSSettings.defaultBurst,
        serviceRefresh: Duration = ECSSettings.defaultServiceRefresh, taskStartTimeout: Duration? = nil
    ) {
        self.taskStartTimeout = taskStartTimeout
        self.maxCallsPerSecond = maxCallsPerSecond
        self.burst = burst
        self.serviceRefresh = serviceRefresh
    }
}

/// How to reach Redash's Redis and how its queues are laid out.
public struct RedisSettings: Hashable, Sendable {
    /// Where the queues are: `redis://[user:password@]host:port/db` or `rediss://…`. Redash's
    /// RQ uses `RQ_REDIS_URL` when set, else `REDASH_REDIS_URL`.
    public var url: SecretURL
    /// Which queue system Redash uses on this Redis.
    public var layout: QueueLayout
    /// Redash's own Redis (`REDASH_REDIS_URL`), where `redash:status`, `sq:executed_at`, pause
    /// keys and query locks live, when RQ's queues are on another; `nil`: the same as `url`.
    public var redashURL: SecretURL?

    /// Creates Redis settings.
    public init(url: SecretURL, layout: QueueLayout = .auto, redashURL: SecretURL? = nil) {
        self.url = url
        self.layout = layout
        self.redashURL = redashURL
    }
}

/// How to reach Redash's PostgreSQL metadata database.
public struct DatabaseSettings: Hashable, Sendable {
    /// `postgresql://user:password@host:port/db?sslmode=require`, as `REDASH_DATABASE_URL`.
    public var url: SecretURL

    /// Creates database settings.
    public init(url: SecretURL) {
        self.url = url
    }
}

/// The queue system Redash uses, which decides the Redis keys the probes read.
public enum QueueLayout: String, CaseIterable, Hashable, Sendable {
    /// Detect from the keys present (RQ keys win when both are present).
    case auto
    /// Redash v7–v8: Celery 4 with the kombu Redis transport.
    case celery
    /// Redash v10 and v25+: RQ.
    case rq

    /// The system this layout names; `nil` for `auto`, which the probe detects.
    public var system: QueueSystem? {
        switch self {
        case .auto: nil
        case .celery: .celery
        case .rq: .rq
        }
    }
}

/// The queue system a Redis holds: configured (`redis.layout`), or detected from its keys.
public enum QueueSystem: String, CaseIterable, Hashable, Sendable {
    /// Redash v7–v8: Celery 4 with the kombu Redis transport.
    case celery
    /// Redash v10 and v25+: RQ.
    case rq
}
