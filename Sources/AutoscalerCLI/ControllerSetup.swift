import AWSClient
import AutoscalerCore
import Controller
import Foundation
import Logging
import PostgresClient
import QueueProbes
import RedashMetadata
import RedisClient

/// Builds a reconciler for a policy: the Redis probes, ECS, and the database when the policy has
/// one. Live and dry-run differ only in the applier.
struct ControllerSetup {
    let reconciler: Reconciler
    let redis: RedisClient
    /// Redash's own Redis, when it is not the queues' (`redis.redashUrl`).
    let redashRedis: RedisClient?
    let lease: LeaderLease?
    /// The metadata cache to keep fresh in the background (`run`) or to load once (`plan`).
    let metadata: MetadataCache?

    static func make(
        policy: Policy, mode: ControllerMode, aws: AWSOptions, environment: [String: String], metrics: MetricsRegistry, logger: Logger,
        recordDryRun: Bool = false
    ) async throws -> ControllerSetup {
        let endpoint: RedisEndpoint
        do {
            endpoint = try RedisEndpoint(url: policy.redis.url.unredacted)
        } catch {
            throw SetupFailure("redis.url: \(error)")
        }
        // Reconnects paced to the interval: a dependency that returns is read at the next tick.
        let redisPacing = ReconnectPacing.forInterval(policy.interval, first: .milliseconds(500))
        let postgresPacing = ReconnectPacing.forInterval(policy.interval, first: .seconds(1))
        let redis = RedisClient(endpoint: endpoint, logger: logger, pacing: redisPacing)
        var redashRedis: RedisClient?
        if let url = policy.redis.redashURL {
            do {
                redashRedis = RedisClient(endpoint: try RedisEndpoint(url: url.unredacted), logger: logger, pacing: redisPacing)
            } catch {
                throw SetupFailure("redis.redashUrl: \(error)")
            }
        }
        let prober = QueueProber(client: redis, redashClient: redashRedis, layout: policy.redis.layout, logger: logger)
        let context: AWSContext
        do {
            context = try aws.context(for: policy, environment: environment, logger: logger)
        } catch {
            throw SetupFailure("\(error)")
        }
        var metadata: MetadataCache?
        var state: ControllerStateStore?
        var lease: LeaderLease?
        if let database = policy.database {
            let session = PostgresSession(url: database.url, logger: logger, pacing: postgresPacing)
            metadata = MetadataCache(reader: RedashMetadataReader(session: session), logger: logger)
            // Live: the state schema is required (decision log, lease). `run --dry-run`: it
            // records its decisions (marked dry-run) and obeys holds when it may write its
            // schema; a read-only user still gets the dry-run, unrecorded. `plan`: none.
            if mode == .live || recordDryRun {
                let store = try ControllerStateStore(
                    session: PostgresSession(url: database.url, logger: logger, pacing: postgresPacing), controllerVersion: BuildVersion.description,
                    logger: logger)
                do {
                    try await store.migrate()
                    state = store
                    if mode == .live {
                        lease = await LeaderLease(
                            store: store, url: database.url, holder: controllerName(), scope: policy.cluster, logger: logger, pacing: postgresPacing)
                    }
                } catch where mode == .live {
                    throw SetupFailure("cannot prepare the controller's state schema in \(database.url): \(error)")
                } catch {
                    logger.notice("dry-run decisions are not recorded: the controller's state schema cannot be prepared", metadata: [
                        "database": "\(database.url)", "error": "\(error)",
                    ])
                }
            }
        } else {
            logger.notice("no database in the policy: working from Redis alone (no forecast, no decision log, no leader lease; run exactly one controller)")
        }
        let cluster = ECSClusterView(client: context.ecs, policy: policy.ecs)
        let applier: PlanApplier = mode == .live ? PlanApplier(writer: cluster, lease: lease) : PlanApplier.dryRun
        let reconciler = Reconciler(
            policy: policy,
            ports: .init(
                queues: prober, cluster: cluster, applier: applier, forecast: metadata, store: state, leadership: lease, apiCalls: cluster,
                holds: state,
                killSwitch: try policy.killSwitch.map { try Self.killSwitch($0, region: aws.region, profile: aws.profile, environment: environment, logger: logger) },
                killSwitches: { [region = aws.region, profile = aws.profile] in
                    try Self.killSwitch($0, region: region, profile: profile, environment: environment, logger: logger)
                },
                pacing: [redisPacing, postgresPacing],
                competitors: ScalableTargetWatch(client: context.autoScaling, cluster: policy.cluster, logger: logger)),
            metrics: metrics, controllerName: controllerName(), logger: logger)
        return ControllerSetup(reconciler: reconciler, redis: redis, redashRedis: redashRedis, lease: lease, metadata: metadata)
    }

    /// The kill switch the policy names: a file (`/path` or `file:/path`) or an SSM parameter.
    /// An SSM parameter that does not exist asks for nothing, like an absent file; the task
    /// role needs `ssm:GetParameter` on it (one request a tick).
    static func killSwitch(_ location: String, region: String?, profile: String?, environment: [String: String], logger: Logger) throws -> KillSwitch {
        guard location.hasPrefix("ssm:") else {
            return KillSwitch.file(location.hasPrefix("file:") ? String(location.dropFirst(5)) : location)
        }
        let parsed: TextLocation
        do {
            parsed = try TextLocation.parse(location)
        } catch {
            throw SetupFailure("killSwitch: \(error)")
        }
        guard let source = try StoredTextSource.make(parsed, regionFlag: region, profile: profile, environment: environment, logger: logger) else {
            return KillSwitch.file(location)
        }
        return KillSwitch(source: source.name) {
            do {
                return try await source.read().text
            } catch let error as StoredTextError where error.kind == .notFound {
                return nil
            }
        }
    }

    /// How long `plan` and `run` wait for the first forecast load before their first decision.
    static let firstForecastWait: Duration = .seconds(15)

    /// Closes the Redis connections.
    func close() async {
        await redis.close()
        await redashRedis?.close()
    }

    /// Host name and process id: names this instance in the leader row and the decision log.
    static func controllerName() -> String {
        "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)"
    }
}

/// Application Auto Scaling targets on the policy's services, read at start and every five
/// minutes (one `DescribeScalableTargets` per 50 services). A target whose dynamic scaling is
/// suspended both ways sets nothing and does not count. Says so when one appears or goes.
actor ScalableTargetWatch: CompetingScalers {
    static let period: Duration = .seconds(300)
    let client: ApplicationAutoScalingClient
    let cluster: String
    let logger: Logger
    private var last: (at: Instant, services: [String], targets: [String: String])?

    init(client: ApplicationAutoScalingClient, cluster: String, logger: Logger) {
        self.client = client
        self.cluster = cluster
        self.logger = logger
    }

    func competing(services: [String], now: Instant) async throws -> [String: String] {
        if let last, last.services == services, now - last.at < Self.period, now >= last.at { return last.targets }
        let read = try await client.scalableTargets(cluster: cluster, services: services)
        let targets = read.filter { !$0.value.suspended }.mapValues(\.resourceID)
        let before = last?.targets ?? [:]
        for (service, resource) in targets.sorted(by: { $0.key < $1.key }) where before[service] == nil {
            logger.error("an Application Auto Scaling target also sets this service's desiredCount; not writing it until the target is deregistered or its dynamic scaling suspended", metadata: [
                "service": "\(service)", "resourceId": "\(resource)",
                "fix": "aws application-autoscaling deregister-scalable-target --service-namespace ecs --scalable-dimension ecs:service:DesiredCount --resource-id \(resource)",
            ])
        }
        for service in before.keys.sorted() where targets[service] == nil {
            logger.notice("the Application Auto Scaling target on this service is gone or suspended; the controller writes it again", metadata: ["service": "\(service)"])
        }
        last = (now, services, targets)
        return targets
    }
}
