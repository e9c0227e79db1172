/// Everything one probe of Redash's Redis saw: the queues, the RQ workers, the scheduler's
/// health and, when asked for, its state (which scheduled queries ran when, paused data sources).
///
/// Produced by the Redis probes (`QueueProbes`) and by test fakes; read by the reconciler.
public struct ProbeReport: Sendable {
    /// The queue system the keys belong to; `nil` when it was to be detected and no key told yet.
    public let system: QueueSystem?
    /// How the system was known: configured, or what detection found.
    public let layoutSource: String
    /// One reading per queue asked for.
    public let readings: [String: QueueReading]
    /// RQ workers registered for each queue (empty for Celery).
    public let workers: [String: [WorkerRecord]]
    /// Whether Redash's scheduler looks alive.
    public let scheduler: SchedulerHealth?
    /// Workers registered on the periodic queue (RQ).
    public let periodicWorkers: Int?
    /// Redash's scheduler state, when the probe was asked to read it (the forecast is on).
    public let redashScheduler: RedashSchedulerState?
    /// Why the scheduler state could not be read, when it was asked for and failed.
    public let redashSchedulerProblem: String?
    /// Redis round trips this probe took.
    public let roundTrips: Int
    /// Commands it sent.
    public let commands: Int
    /// When it read.
    public let observedAt: Instant
    /// Things worth telling an operator that did not stop the reading (a foreign message).
    public let notes: [String]
    /// Jobs in a started registry that no worker runs, per queue: RQ 1.16 entries past their
    /// heartbeat deadline, RQ 1.5 entries without a deadline that no live worker holds.
    public let abandonedJobs: [String: Int]
    /// The queues Redis knows (RQ's `rq:queues`, Celery's bindings), when they were listed.
    public let knownQueues: KnownQueues?
    /// Ids of the jobs that are running (RQ), and of the abandoned ones.
    public let runningJobIDs: Set<String>
    public let abandonedJobIDs: Set<String>
    /// What Celery's workers answered, when they were asked (`celery.inspect`).
    public let celery: CeleryActivity?
    /// Every live worker and the queues it listens on: RQ's registry, or the nodes of a complete
    /// Celery round; `nil` when not known.
    public let listeners: [QueueListener]?

    /// Creates a report.
    public init(
        system: QueueSystem?, layoutSource: String = "configured", readings: [String: QueueReading] = [:],
        workers: [String: [WorkerRecord]] = [:], scheduler: SchedulerHealth? = nil, periodicWorkers: Int? = nil,
        redashScheduler: RedashSchedulerState? = nil, redashSchedulerProblem: String? = nil, roundTrips: Int = 0, commands: Int = 0,
        observedAt: Instant, notes: [String] = [], abandonedJobs: [String: Int] = [:], knownQueues: KnownQueues? = nil,
        runningJobIDs: Set<String> = [], abandonedJobIDs: Set<String> = [], celery: CeleryActivity? = nil, listeners: [QueueListener]? = nil
    ) {
        self.listeners = listeners
        self.system = system
        self.layoutSource = layoutSource
        self.readings = readings
        self.workers = workers
        self.scheduler = scheduler
        self.periodicWorkers = periodicWorkers
        self.redashScheduler = redashScheduler
        self.redashSchedulerProblem = redashSchedulerProblem
        self.roundTrips = roundTrips
        self.commands = commands
        self.observedAt = observedAt
        self.notes = notes
        self.abandonedJobs = abandonedJobs
        self.knownQueues = knownQueues
        self.runningJobIDs = runningJobIDs
        self.abandonedJobIDs = abandonedJobIDs
        self.celery = celery
    }

    /// The system's name for reports: `rq`, `celery`, or `undetected`.
    public var systemName: String { system?.rawValue ?? "undetected" }

    /// The readings with Celery's answers: a complete round makes each read queue's running
    /// count known; an incomplete one changes no count.
    public static func readings(_ readings: [String: QueueReading], with activity: CeleryActivity) -> [String: QueueReading] {
        readings.mapValues { reading in
            guard case .observed(var observation) = reading, let running = activity.running(on: observation.queue) else { return reading }
            observation.running = running
            return .observed(observation)
        }
    }

    /// The workers the busy-task mapping takes for a service consuming `queues`; `nil` where they
    /// are not known, and the busy-task floor and protection then do not apply (the scale-down
    /// window alone protects running jobs, and no protection is released):
    /// - RQ: the workers its registry lists;
    /// - Celery: the nodes of a complete remote-control round that consume the queues, when they
    ///   account for the service: at least as many as its `runningTasks`, and, where its `tasks`
    ///   were read, one on every running task (matched by the node's host name). A task whose
    ///   node did not answer, is not subscribed to remote control, or has not started could be
    ///   running a query.
    public func busyAwareWorkers(on queues: [String], runningTasks: Int?, tasks: [TaskSnapshot]? = nil) -> [WorkerIdentity]? {
        switch system {
        case .rq:
            return workerIdentities(on: queues)
        case .celery:
            guard let celery, celery.isComplete else { return nil }
            let identities = celery.workerIdentities(on: queues)
            let nodes = Set(identities.map { $0.name.split(separator: "#").first.map(String.init) ?? $0.name })
            guard let runningTasks, nodes.count >= runningTasks else { return nil }
            if let tasks {
                let covered = Set(identities.compactMap { $0.hostname.flatMap(WorkerTaskMapping.address(ofHostname:)) })
                for task in tasks where task.phase == .running {
                    guard let ip = task.privateIP, covered.contains(ip) else { return nil }
                }
            }
            return identities
        case nil:
            return nil
        }
    }

    /// The distinct workers registered on any of `queues`, as the busy-task mapping takes them.
    public func workerIdentities(on queues: [String]) -> [WorkerIdentity] {
        var seen = Set<String>()
        var identities: [WorkerIdentity] = []
        for queue in queues {
            for record in workers[queue] ?? [] where seen.insert(record.name).inserted {
                identities.append(WorkerIdentity(name: record.name, hostname: record.hostname, ipAddress: record.ipAddress, isBusy: record.isBusy))
            }
        }
        return identities
    }
}

/// The queues Redis knows, for the check of the policy's queue names.
public struct KnownQueues: Hashable, Sendable {
    /// Queue names (without RQ's `rq:queue:` prefix).
    public var names: Set<String>
    /// Jobs waiting on queues that no service of the policy consumes.
    public var pendingOutsidePolicy: [String: Int]

    public init(names: Set<String> = [], pendingOutsidePolicy: [String: Int] = [:]) {
        self.names = names
        self.pendingOutsidePolicy = pendingOutsidePolicy
    }
}

/// One RQ worker as its hash in Redis describes it.
public struct WorkerRecord: Hashable, Sendable {
    /// The worker name (the part of `rq:worker:<name>` after the prefix).
    public var name: String
    /// `busy`, `idle`, `started`, `suspended`.
    public var state: String?
    /// The job it runs, when busy.
    public var currentJob: String?
    /// The host it runs on (on Fargate, the task's hostname, such as `ip-10-0-1-23.ec2.internal`).
    public var hostname: String?
    /// The address Redis saw it connect from (RQ 1.16 and later).
    public var ipAddress: String?
    /// Its last heartbeat.
    public var lastHeartbeat: Instant?
    /// True when the hash says busy but its job is no longer live in the started registry: the
    /// worker died mid-job and its hash has not expired yet.
    public var hasAbandonedJob = false
    /// The queues it listens on (its hash's `queues`); `nil` when the hash does not say.
    public var queues: [String]?

    /// Creates a worker record.
    public init(
        name: String, state: String? = nil, currentJob: String? = nil, hostname: String? = nil, ipAddress: String? = nil,
        lastHeartbeat: Instant? = nil, hasAbandonedJob: Bool = false, queues: [String]? = nil
    ) {
        self.queues = queues
        self.name = name
        self.state = state
        self.currentJob = currentJob
        self.hostname = hostname
        self.ipAddress = ipAddress
        self.lastHeartbeat = lastHeartbeat
        self.hasAbandonedJob = hasAbandonedJob
    }

    /// Whether the worker is running a job.
    public var isBusy: Bool {
        !hasAbandonedJob && (state == "busy" || (currentJob.map { !$0.isEmpty } ?? false))
    }
}

/// Redash's scheduler writes `redash:status.last_refresh_at` every 30 s (refresh_queries, in
/// every version); when it stops, scheduled queries stop.
public struct SchedulerHealth: Hashable, Sendable {
    /// When refresh_queries last finished; `nil` when Redash has never written it.
    public var lastRefreshAt: Instant?
    /// When that refresh started (`started_at`, Redash v25+).
    public var lastRefreshStartedAt: Instant?
    /// How many scheduled queries that refresh found due (`outdated_queries_count`), including
    /// those whose job still waited behind its lock.
    public var outdatedQueries: Int?
    /// How long ago that was.
    public var sinceLastRefresh: Duration?
    /// Workers registered on the periodic queue (RQ only; `nil` for Celery, which has no registry).
    public var periodicWorkers: Int?
    /// True when the last refresh is older than `SchedulerHealth.staleAfter`. False when none
    /// was ever recorded: that cannot be judged (see `isJudged`).
    public var isStale: Bool

    /// False when Redis holds no `redash:status` last refresh at all: a new Redis, a Redash whose
    /// scheduler has not refreshed yet, or a Redis that is not Redash's. Nothing is said about the
    /// scheduler's health then (no alarm), only that it cannot be judged yet.
    public var isJudged: Bool { lastRefreshAt != nil }

    /// Six refresh cycles: one missed beat is noise, six is a dead scheduler.
    public static let staleAfter: Duration = .seconds(180)

    /// The refresh that identifies the grid's phase: its start when Redash records it (v25+),
    /// else its end; `nil` when stale.
    public var refreshAnchor: Instant? {
        isStale ? nil : lastRefreshStartedAt ?? lastRefreshAt
    }

    /// Creates a health reading.
    public init(
        lastRefreshAt: Instant?, sinceLastRefresh: Duration?, periodicWorkers: Int?, isStale: Bool, lastRefreshStartedAt: Instant? = nil,
        outdatedQueries: Int? = nil
    ) {
        self.lastRefreshAt = lastRefreshAt
        self.lastRefreshStartedAt = lastRefreshStartedAt
        self.outdatedQueries = outdatedQueries
        self.sinceLastRefresh = sinceLastRefresh
        self.periodicWorkers = periodicWorkers
        self.isStale = isStale
    }
}

/// What Redash's scheduler keeps in Redis about scheduled queries: when each query last started
/// (the hash `sq:executed_at`, query id → seconds since the epoch, which Redash's rule prefers
/// over the latest result's `retrieved_at`), which data sources are paused (a key `ds:<id>:pause`
/// exists; the scheduler skips their queries), the locks of queries whose job still waits or was
/// abandoned, and the refresh rhythm `redash:status` reveals.
public struct RedashSchedulerState: Hashable, Sendable {
    /// Previous starts by query id; unreadable entries are left out.
    public var executions: [Int: Instant]
    /// Data sources whose scheduled queries Redash will not enqueue while paused.
    public var pausedDataSources: Set<Int>
    /// The data sources whose pause keys were read.
    public var dataSources: [Int]
    /// Locks (`query_hash_job:<data source>:<query hash>`) that hold a query back, by key.
    public var locks: [String: JobLock]
    /// The lock keys that were looked up (a key looked up and absent is free).
    public var checkedLocks: Set<String>
    /// A refresh Redash recorded (`redash:status` `started_at`, else `last_refresh_at`), when it
    /// is recent: the phase of the 30 s refresh grid.
    public var refreshAnchor: Instant?
    /// How late a refresh may run (`RedashRefreshGrid.lateness`): it depends on the era.
    public var refreshLateness: Duration = .zero
    /// The locks Redash itself considers held by Redash's own rule (the job not finished nor
    /// failed; Celery: the result not ready), whatever the controller makes of the job: a due
    /// query with one is not enqueued at the refresh.
    public var heldLocks: Set<String> = []
    /// When it was read.
    public var readAt: Instant?

    /// Creates a scheduler state.
    public init(
        executions: [Int: Instant] = [:], pausedDataSources: Set<Int> = [], dataSources: [Int] = [], locks: [String: JobLock] = [:],
        checkedLocks: Set<String> = [], refreshAnchor: Instant? = nil, readAt: Instant? = nil
    ) {
        self.executions = executions
        self.pausedDataSources = pausedDataSources
        self.dataSources = dataSources
        self.locks = locks
        self.checkedLocks = checkedLocks
        self.refreshAnchor = refreshAnchor
        self.readAt = readAt
    }
}

/// What the forecast asks the probe to read of Redash's scheduler state.
public struct SchedulerStateRequest: Hashable, Sendable {
    /// Redash's data sources, for their pause keys.
    public var dataSources: [Int]
    /// Lock keys of queries that are due now, whose job may still wait behind the lock.
    public var locks: [String]

    public init(dataSources: [Int], locks: [String] = []) {
        self.dataSources = dataSources
        self.locks = locks
    }
}
