import AutoscalerCore
import Foundation
import Logging
import RedisClient
import SystemClock

/// Reads the backlog of Redash's queues from Redis: one pipelined round trip for every queue,
/// plus at most one more for the job and worker hashes it needs. Never KEYS, never SCAN.
///
/// The prober only drives: each signal is a read of its own (`RedisRead`: RQ queues, Celery
/// queues, `unacked`, Redash's scheduler health and state, the queue registry, layout
/// detection), batched into round trips (`ReadBatch`), whose typed results become one immutable
/// `ProbeReport`. A failure is never turned into a zero: a queue that cannot be read gets
/// `QueueReading.unavailable` with the reason, so the scaling rule holds instead of scaling in.
public actor QueueProber: QueueSource {
    let pipeline: RedisPipeline
    /// Redash's own Redis, when RQ's queues are on another (`redis.redashUrl`).
    let redashPipeline: RedisPipeline?
    let configuredLayout: QueueLayout
    let logger: Logger
    /// The Redis database of the queues: kombu's fanout channels carry its number.
    let database: Int
    /// What a Celery round waits and measures by: its polls of the reply list, and when its
    /// reply timeout is over (a fuzzer's replies jump ahead instead of waiting; a test moves it).
    let clock: any MonotonicClock
    /// The unique parts of a Celery round's reply key and tickets: random UUIDs, or a sequence
    /// where recorded replies must match a replay.
    let roundIDs: @Sendable () -> String

    private var detected: LayoutDetectionRead.Detection?
    /// The queue system an earlier probe detected, if it did.
    var detectedSystem: QueueSystem? { detected?.system }
    /// The scheduler state last read, reused until it is due again.
    var schedulerState: RedashSchedulerState?
    /// The refresh `redash:status` showed when the scheduler state was read.
    private var stateRefreshMarker: Instant?
    /// The refresh `redash:status` showed at the last probe.
    private var lastRefreshMarker: Instant?
    /// The queues Redis knows, last read, and when.
    var registry: (known: KnownQueues, readAt: Instant)?
    /// Binding members of earlier Celery rounds to remove again at the next (the last round's,
    /// and any whose clean-up failed).
    var celeryLeftovers: [String] = []
    /// When the last Celery round looked for bindings of ours that a crash left.
    var lastSweep: Instant?
    /// The last complete Celery round, whose answer stands until the next round (a tick that
    /// does not ask must not read as "running unknown", or a dry-run's proposal flips with the
    /// cadence of the rounds).
    var lastCompleteRound: CeleryActivity?

    /// Redash's scheduler refreshes every 30 s: its state (`sq:executed_at`, the pause keys, the
    /// locks) is read again after each refresh `redash:status` shows, and at least this often.
    public static let schedulerStateRefresh: Duration = .seconds(30)
    /// How often the queues Redis knows are listed (for misnamed and unconsumed queues).
    public static let registryRefresh: Duration = .seconds(30)

    /// - Parameters:
    ///   - client: where the queues are.
    ///   - redashClient: Redash's own Redis (`redash:status`, `sq:executed_at`, pause keys,
    ///     locks) when it is not `client`.
    ///   - layout: `.auto` detects from the keys on the first probe that finds any.
    ///   - clock: what Celery rounds wait and measure by.
    public init(
        client: RedisClient, redashClient: RedisClient? = nil, layout: QueueLayout, clock: any MonotonicClock = ContinuousClock(), logger: Logger
    ) {
        var redashPipeline: RedisPipeline?
        if let redashClient { redashPipeline = { try await redashClient.pipeline($0) } }
        self.init(
            pipeline: { try await client.pipeline($0) }, redashPipeline: redashPipeline, layout: layout, database: client.endpoint.database,
            clock: clock, logger: logger)
    }

    /// A prober that sends its round trips through `pipeline` (and `redashPipeline` for Redash's
    /// own keys): a `RedisClient`, or replies replayed from a recording or a fuzzer.
    package init(
        pipeline: @escaping RedisPipeline, redashPipeline: RedisPipeline?, layout: QueueLayout, database: Int = 0,
        clock: any MonotonicClock = ContinuousClock(),
        roundIDs: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() }, logger: Logger
    ) {
        self.pipeline = pipeline
        self.roundIDs = roundIDs
        self.database = database
        self.clock = clock
        self.redashPipeline = redashPipeline
        self.configuredLayout = layout
        self.logger = logger
    }

    /// Reads every queue in `queues` now (commands and tests).
    public func probe(queues: [String]) async -> ProbeReport {
        await probe(queues: queues, scheduler: nil, activity: nil, now: WallClock.now())
    }

    /// Reads every queue in `queues`, stamped `now` (the tick's instant). With `scheduler`, also
    /// Redash's scheduler state for it, in the same round trips, when it is due: after each
    /// refresh Redash records, when the data sources change, and at least every 30 s.
    public func probe(queues: [String], scheduler request: SchedulerStateRequest?, now: Instant) async -> ProbeReport {
        await probe(queues: queues, scheduler: request, activity: nil, now: now)
    }

    /// What one probe gathers before it becomes a report.
    struct Gathered {
        var system: QueueSystem?
        var layoutSource = "configured"
        var readings: [String: QueueReading] = [:]
        var rq = RQQueueAssembly.Readings()
        var health: SchedulerHealth?
        var periodicWorkers: Int?
        var state: RedashSchedulerState?
        var stateProblem: String?
        var notes: [String] = []
        var celery: CeleryActivity?
        /// Every live worker with its queues, when known.
        var listeners: [QueueListener]?
        var cost = ProbeCost()
    }

    /// What one probe's queue reads need to know, whatever the system.
    struct QueuePass {
        var queues: [String]
        /// The scheduler state to read, when it is due.
        var stateDue: SchedulerStateRequest?
        /// Redash's own keys, already read from their own Redis (`redis.redashUrl`).
        var separate: (slots: RedashKeySlots, replies: BatchReplies)?
        /// Whether the queue registry is listed this time.
        var registryDue: Bool
        var now: Instant
    }

    /// Reads every queue, and with `activity`, on Celery's layout, asks Celery's workers what they
    /// execute (`CeleryRound`): the running tasks of each queue, and the busy processes of each
    /// node. The round waits at most `activity.replyTimeout`.
    public func probe(
        queues: [String], scheduler request: SchedulerStateRequest?, activity: CeleryInspectRequest?, now: Instant
    ) async -> ProbeReport {
        var gathered = Gathered()
        var stateDue: SchedulerStateRequest?
        if let request {
            if isSchedulerStateFresh(for: request, now: now) { gathered.state = schedulerState } else { stateDue = request }
        }
        do {
            guard let system = try await system(queues: queues, into: &gathered) else {
                // Redash's own keys do not depend on the queue system.
                var batch = ReadBatch()
                let redash = RedashKeySlots(&batch, state: stateDue, now: now)
                let replies = try await batch.send(through: redashPipeline ?? pipeline, cost: &gathered.cost)
                takeHealth(redash, replies, into: &gathered)
                takeState(redash, replies, jobs: nil, system: nil, request: stateDue, liveness: .init(), now: now, into: &gathered)
                return report(gathered, now: now)
            }
            gathered.system = system
            // Redash's own keys: on the queues' Redis, or first, in a round trip of their own.
            var separate: (slots: RedashKeySlots, replies: BatchReplies)?
            if let redashPipeline {
                var batch = ReadBatch()
                let slots = RedashKeySlots(&batch, state: stateDue, now: now)
                do {
                    let replies = try await batch.send(through: redashPipeline, cost: &gathered.cost)
                    takeHealth(slots, replies, into: &gathered)
                    separate = (slots, replies)
                } catch {
                    let reason = Self.describe(error)
                    gathered.notes.append("Redash's own Redis (redis.redashUrl): \(reason)")
                    if stateDue != nil { failState("Redash's scheduler state: \(reason)", into: &gathered) }
                    stateDue = nil
                }
            }
            let registryDue = registry.map { now - $0.readAt >= Self.registryRefresh || now < $0.readAt } ?? true
            switch system {
            case .rq:
                try await probeRQ(QueuePass(queues: queues, stateDue: stateDue, separate: separate, registryDue: registryDue, now: now), into: &gathered)
            case .celery:
                try await probeCelery(
                    QueuePass(queues: queues, stateDue: stateDue, separate: separate, registryDue: registryDue, now: now), activity: activity,
                    into: &gathered)
            }
        } catch {
            let reason = Self.describe(error)
            gathered.readings = Dictionary(uniqueKeysWithValues: queues.map { ($0, QueueReading.unavailable(reason: reason)) })
            if stateDue != nil { failState("Redash's scheduler state: \(reason)", into: &gathered) }
        }
        return report(gathered, now: now)
    }

    /// The queue system: configured, detected earlier, or detected now. `nil` when no key tells
    /// yet: every queue is then unavailable, with the reason.
    private func system(queues: [String], into gathered: inout Gathered) async throws -> QueueSystem? {
        if let system = configuredLayout.system { return system }
        if let detected {
            gathered.layoutSource = "detected from \(detected.evidence)"
            return detected.system
        }
        var batch = ReadBatch()
        let slot = batch.add(LayoutDetectionRead(queues: queues))
        switch try await batch.send(through: pipeline, cost: &gathered.cost)[slot] {
        case .success(let found):
            detected = found
            logger.info("queue layout detected", metadata: ["layout": "\(found.system.rawValue)", "evidence": "\(found.evidence)"])
            gathered.layoutSource = "detected from \(found.evidence)"
            return found.system
        case .failure(let problem):
            let reason = "cannot tell Celery (Redash v7–v8) from RQ (v10+) keys: \(problem.message); set redis.layout"
            gathered.readings = Dictionary(uniqueKeysWithValues: queues.map { ($0, QueueReading.unavailable(reason: reason)) })
            gathered.layoutSource = "undetected"
            return nil
        }
    }

    // MARK: Redash's own keys

    /// Redash's scheduler health and, when due, its state, added to a batch.
    struct RedashKeySlots {
        var health: ReadBatch.Slot<SchedulerHealthRead>
        var state: ReadBatch.Slot<SchedulerStateRead>?

        init(_ batch: inout ReadBatch, state request: SchedulerStateRequest?, now: Instant) {
            health = batch.add(SchedulerHealthRead(now: now))
            state = request.map { batch.add(SchedulerStateRead(request: $0, now: now)) }
        }
    }

    /// Takes the scheduler's health from its reply, or a note saying why it could not.
    func takeHealth(_ slots: RedashKeySlots, _ replies: BatchReplies, into gathered: inout Gathered) {
        switch replies[slots.health] {
        case .success(let health): gathered.health = health
        case .failure(let problem): gathered.notes.append(problem.message)
        }
    }

    /// Takes the scheduler state from its replies, with the jobs its locks point at (`jobs`
    /// nil: locks not interpreted).
    func takeState(
        _ slots: RedashKeySlots, _ replies: BatchReplies, jobs: [String: LockedJob]?, system: QueueSystem?, request: SchedulerStateRequest?,
        liveness: SchedulerStateAssembly.Liveness, visibilityTimeout: Duration = CelerySettings.defaultVisibilityTimeout, now: Instant,
        into gathered: inout Gathered
    ) {
        guard let stateSlot = slots.state, let request else { return }
        switch replies[stateSlot] {
        case .success(let reading):
            let state = SchedulerStateAssembly.state(
                reading, jobs: jobs, system: system, request: request, liveness: liveness, visibilityTimeout: visibilityTimeout, now: now)
            schedulerState = state
            stateRefreshMarker = lastRefreshMarker
            gathered.state = state
        case .failure(let problem):
            failState(problem.message, into: &gathered)
        }
    }

    /// The state could not be read: the last good one is better than none (Redash's rule would
    /// use it too).
    func failState(_ problem: String, into gathered: inout Gathered) {
        gathered.stateProblem = problem
        gathered.state = schedulerState
    }

    func takeRegistry(_ known: Result<KnownQueues, UntrustedReply>, now: Instant, into gathered: inout Gathered) {
        switch known {
        case .success(let known): registry = (known, now)
        case .failure(let problem): gathered.notes.append(problem.message)
        }
    }

    /// Whether the last scheduler state still stands: same data sources and locks asked for,
    /// no refresh since it was read, and younger than `schedulerStateRefresh`.
    private func isSchedulerStateFresh(for request: SchedulerStateRequest, now: Instant) -> Bool {
        guard let state = schedulerState, let readAt = state.readAt, now >= readAt, now - readAt < Self.schedulerStateRefresh,
              state.dataSources == request.dataSources, Set(request.locks).isSubset(of: state.checkedLocks)
        else { return false }
        return lastRefreshMarker == stateRefreshMarker
    }

    /// The report, with the queue registry and the refresh grid's phase on the state.
    private func report(_ gathered: Gathered, now: Instant) -> ProbeReport {
        var health = gathered.health
        health?.periodicWorkers = gathered.periodicWorkers
        if let anchor = health?.refreshAnchor { lastRefreshMarker = anchor }
        var state = gathered.state
        state?.refreshAnchor = health?.refreshAnchor
        return ProbeReport(
            system: gathered.system, layoutSource: gathered.layoutSource, readings: gathered.readings, workers: gathered.rq.workers,
            scheduler: health, periodicWorkers: gathered.periodicWorkers, redashScheduler: state, redashSchedulerProblem: gathered.stateProblem,
            roundTrips: gathered.cost.roundTrips, commands: gathered.cost.commands, observedAt: now, notes: gathered.notes,
            abandonedJobs: gathered.rq.abandonedJobs, knownQueues: registry?.known, runningJobIDs: gathered.rq.runningJobIDs,
            abandonedJobIDs: gathered.rq.abandonedJobIDs, celery: gathered.celery, listeners: gathered.listeners)
    }

    static func describe(_ error: any Error) -> String {
        (error as? RedisError)?.description ?? "\(error)"
    }
}
