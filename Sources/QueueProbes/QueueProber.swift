import AutoscalerCore
import Foundation
import Logging
import RedisClient
import SystemClock

/// Reads the backlog of Redash's queues from Redis: one pipelined round trip for every queue,
/// plus at most one more for the job and worker hashes it needs. Never KEYS, never SCAN.
///
/// A failure is never turned into a zero: a queue that cannot be read gets
/// `QueueReading.unavailable` with the reason, so the scaling rule holds instead of scaling in.
public actor QueueProber: QueueSource {
    let pipeline: RedisPipeline
    /// Redash's own Redis, when RQ's queues are on another (`redis.redashUrl`).
    let redashPipeline: RedisPipeline?
    let configuredLayout: QueueLayout
    let logger: Logger
    private var detected: (layout: QueueLayout, evidence: String)?
    /// The scheduler state last read, reused until it is due again.
    private var schedulerState: RedashSchedulerState?
    /// The refresh `redash:status` showed when the scheduler state was read.
    private var stateRefreshMarker: Instant?
    /// The refresh `redash:status` showed at the last probe.
    private var lastRefreshMarker: Instant?
    /// The queues Redis knows, last read, and when.
    private var registry: (known: KnownQueues, readAt: Instant)?
    /// The Redis database of the queues: kombu's fanout channels carry its number.
    let database: Int
    /// Binding members of earlier Celery rounds to remove again at the next (the last round's,
    /// and any whose clean-up failed).
    private var celeryLeftovers: [String] = []
    /// When the last Celery round looked for bindings of ours that a crash left.
    private var lastSweep: Instant?
    /// How often that is done.
    static let sweepPeriod: Duration = .seconds(600)
    /// Waits between polls of a Celery round's reply list (a fuzzer's replies need no waiting).
    let pollSleep: @Sendable (Duration) async throws -> Void
    /// The unique parts of a Celery round's reply key and tickets: random UUIDs, or a sequence
    /// where recorded replies must match a replay.
    let roundIDs: @Sendable () -> String

    /// Redash's scheduler refreshes every 30 s: its state (`sq:executed_at`, the pause keys, the
    /// locks) is read again after each refresh `redash:status` shows, and at least this often.
    public static let schedulerStateRefresh: Duration = .seconds(30)
    /// How often the queues Redis knows are listed (for misnamed and unconsumed queues).
    public static let registryRefresh: Duration = .seconds(30)
    /// Queue names Redash uses in some version, looked for in Celery's bindings.
    public static let redashQueueNames = ["queries", "scheduled_queries", "celery", "schemas", "periodic", "emails", "default"]

    /// - Parameters:
    ///   - client: where the queues are.
    ///   - redashClient: Redash's own Redis (`redash:status`, `sq:executed_at`, pause keys,
    ///     locks) when it is not `client`.
    ///   - layout: `.auto` detects from the keys on the first probe that finds any.
    public init(client: RedisClient, redashClient: RedisClient? = nil, layout: QueueLayout, logger: Logger) {
        var redashPipeline: RedisPipeline?
        if let redashClient { redashPipeline = { try await redashClient.pipeline($0) } }
        self.init(
            pipeline: { try await client.pipeline($0) }, redashPipeline: redashPipeline, layout: layout, database: client.endpoint.database,
            logger: logger)
    }

    /// A prober that sends its round trips through `pipeline` (and `redashPipeline` for Redash's
    /// own keys): a `RedisClient`, or replies replayed from a recording or a fuzzer.
    package init(
        pipeline: @escaping RedisPipeline, redashPipeline: RedisPipeline?, layout: QueueLayout, database: Int = 0,
        pollSleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        roundIDs: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() }, logger: Logger
    ) {
        self.pipeline = pipeline
        self.roundIDs = roundIDs
        self.database = database
        self.pollSleep = pollSleep
        self.redashPipeline = redashPipeline
        self.configuredLayout = layout
        self.logger = logger
    }

    /// Reads every queue in `queues` now (commands and tests).
    public func probe(queues: [String]) async -> ProbeReport {
        await probe(queues: queues, scheduler: nil, now: WallClock.now())
    }

    /// Reads every queue in `queues`, stamped `now` (the tick's instant). With `scheduler`, also
    /// Redash's scheduler state for it, in the same round trips, when it is due: after each
    /// refresh Redash records, when the data sources change, and at least every 30 s.
    public func probe(queues: [String], scheduler request: SchedulerStateRequest?, now: Instant) async -> ProbeReport {
        await probe(queues: queues, scheduler: request, activity: nil, now: now)
    }

    /// Reads every queue, and with `activity`, on Celery's layout, asks Celery's workers what they
    /// execute (`CeleryInspector`): the running tasks of each queue, and the busy processes of
    /// each node. The round waits at most `activity.replyTimeout`.
    public func probe(
        queues: [String], scheduler request: SchedulerStateRequest?, activity: CeleryInspectRequest?, now: Instant
    ) async -> ProbeReport {
        var report = ProbeReport(layout: configuredLayout, observedAt: now)
        var schedulerCommands: [[String]] = []
        if let request {
            if isSchedulerStateFresh(for: request, now: now), let state = schedulerState {
                report.redashScheduler = state
            } else {
                schedulerCommands = RedashSchedulerStateReader.commands(request)
            }
        }
        let registryDue = registry.map { now - $0.readAt >= Self.registryRefresh || now < $0.readAt } ?? true
        do {
            let layout: QueueLayout
            if configuredLayout != .auto {
                layout = configuredLayout
            } else if let detected {
                layout = detected.layout
                report.layoutSource = "detected from \(detected.evidence)"
            } else {
                switch try await detect(queues: queues, report: &report) {
                case .success(let found):
                    layout = found
                case .failure(let problem):
                    let reason = "cannot tell Celery (Redash v7–v8) from RQ (v10+) keys: \(problem.message); set redis.layout"
                    for queue in queues { report.readings[queue] = .unavailable(reason: reason) }
                    report.layoutSource = "undetected"
                    // Redash's own keys do not depend on the queue system.
                    let commands = [SchedulerHealth.command] + schedulerCommands
                    let replies = try await (redashPipeline ?? pipeline)(commands)
                    report.roundTrips += 1
                    report.commands += commands.count
                    report.takeSchedulerHealth(replies[0], now: now)
                    if !schedulerCommands.isEmpty, let request {
                        interpretSchedulerState(Array(replies.dropFirst()), jobStatuses: nil, request: request, now: now, report: &report)
                    }
                    return finish(report)
                }
                report.layoutSource = "detected from \(detected?.evidence ?? "")"
            }
            report.layout = layout
            // Redash's own keys: on the queues' Redis, or first, in a round trip of their own.
            var redashReplies: [RESPValue]?
            if let redashPipeline {
                let commands = [SchedulerHealth.command] + schedulerCommands
                do {
                    let replies = try await redashPipeline(commands)
                    report.roundTrips += 1
                    report.commands += commands.count
                    report.takeSchedulerHealth(replies[0], now: now)
                    redashReplies = Array(replies.dropFirst())
                } catch {
                    let reason = (error as? RedisError)?.description ?? "\(error)"
                    report.notes.append("Redash's own Redis (redis.redashUrl): \(reason)")
                    if !schedulerCommands.isEmpty {
                        report.redashSchedulerProblem = "Redash's scheduler state: \(reason)"
                        report.redashScheduler = schedulerState
                    }
                    schedulerCommands = []
                }
            }
            let sharedScheduler = redashPipeline == nil ? schedulerCommands : []
            let registryCommands = registryDue ? Self.registryCommands(layout: layout, queues: queues) : []
            let extra = sharedScheduler + registryCommands
            let lockCount = request?.locks.count ?? 0
            switch layout {
            case .rq:
                var statusCount = 0
                var outside: [String] = []
                let (first, detail) = try await RQProbe.probe(
                    queues: queues, pipeline: pipeline, now: now, report: &report, readsStatus: redashPipeline == nil, appending: extra,
                    detail: { replies in
                        var commands: [[String]] = []
                        if !schedulerCommands.isEmpty {
                            commands = RedashSchedulerStateReader.jobStatusCommands(redashReplies ?? Array(replies.prefix(sharedScheduler.count)), locks: lockCount)
                        }
                        statusCount = commands.count
                        if registryDue {
                            // The length of every queue Redis knows that the policy does not consume.
                            outside = Self.registryNames(Array(replies.dropFirst(sharedScheduler.count))).subtracting(queues).sorted().prefix(100).map { $0 }
                            commands += outside.map { ["LLEN", "rq:queue:\($0)"] }
                        }
                        return commands
                    })
                if !schedulerCommands.isEmpty, let request {
                    interpretSchedulerState(
                        redashReplies ?? Array(first.prefix(sharedScheduler.count)), jobStatuses: Array(detail.prefix(statusCount)), request: request,
                        now: now, report: &report)
                }
                if registryDue {
                    interpretRegistry(
                        Array(first.dropFirst(sharedScheduler.count)) + Array(detail.dropFirst(statusCount)), layout: layout, queues: queues,
                        outside: outside, now: now, report: &report)
                }
            case .celery, .auto:
                let first = try await CeleryProbe.probe(
                    queues: queues, pipeline: pipeline, now: now, report: &report, readsStatus: redashPipeline == nil, appending: extra)
                if !schedulerCommands.isEmpty, let request {
                    interpretSchedulerState(
                        redashReplies ?? Array(first.prefix(sharedScheduler.count)), jobStatuses: nil, request: request, now: now, report: &report)
                }
                if registryDue { interpretRegistry(Array(first.dropFirst(sharedScheduler.count)), layout: layout, queues: queues, outside: [], now: now, report: &report) }
                if let activity { await inspectCelery(activity, now: now, report: &report) }
            }
            report.scheduler?.periodicWorkers = report.periodicWorkers
        } catch {
            let reason = (error as? RedisError)?.description ?? "\(error)"
            for queue in queues { report.readings[queue] = .unavailable(reason: reason) }
            if !schedulerCommands.isEmpty {
                report.redashSchedulerProblem = "Redash's scheduler state: \(reason)"
                report.redashScheduler = schedulerState
            }
        }
        return finish(report)
    }

    /// One Celery remote-control round; a complete one makes each read queue's running count known.
    private func inspectCelery(_ request: CeleryInspectRequest, now: Instant, report: inout ProbeReport) async {
        let start = ContinuousClock.now
        let sweep = lastSweep.map { now - $0 >= Self.sweepPeriod || now < $0 } ?? true
        if sweep { lastSweep = now }
        let (activity, leftovers) = await CeleryInspector.inspect(
            pipeline: pipeline, database: database, timeout: request.replyTimeout, now: now, sweep: sweep, leftovers: celeryLeftovers, ids: roundIDs,
            elapsed: { ContinuousClock.now - start }, sleep: pollSleep)
        // At most a few: a Redis that refuses every clean-up is not carried forever.
        celeryLeftovers = Array(leftovers.suffix(16))
        report.take(activity)
        report.roundTrips += activity.roundTrips
        report.commands += activity.commands
        if let problem = activity.problem { report.notes.append("Celery workers: \(problem); running tasks unknown") }
    }

    /// What every probe ends with: the queue registry, and the refresh grid's phase on the state.
    private func finish(_ report: ProbeReport) -> ProbeReport {
        var report = report
        report.knownQueues = registry?.known
        if let anchor = report.scheduler?.refreshAnchor { lastRefreshMarker = anchor }
        if var state = report.redashScheduler {
            state.refreshAnchor = report.scheduler?.refreshAnchor
            report.redashScheduler = state
        }
        return report
    }

    /// Whether the last scheduler state still stands: same data sources and locks asked for,
    /// no refresh since it was read, and younger than `schedulerStateRefresh`.
    private func isSchedulerStateFresh(for request: SchedulerStateRequest, now: Instant) -> Bool {
        guard let state = schedulerState, let readAt = state.readAt, now >= readAt, now - readAt < Self.schedulerStateRefresh,
              state.dataSources == request.dataSources, Set(request.locks).isSubset(of: state.checkedLocks)
        else { return false }
        return lastRefreshMarker == stateRefreshMarker
    }

    private func interpretSchedulerState(
        _ replies: [RESPValue], jobStatuses: [RESPValue]?, request: SchedulerStateRequest, now: Instant, report: inout ProbeReport
    ) {
        let held = RedashSchedulerStateReader.Liveness(running: report.runningJobIDs, abandoned: report.abandonedJobIDs)
        switch RedashSchedulerStateReader.interpret(replies, jobStatuses: jobStatuses, request: request, liveness: held, now: now) {
        case .success(let state):
            schedulerState = state
            stateRefreshMarker = lastRefreshMarker
            report.redashScheduler = state
        case .failure(let problem):
            // The last good state is better than none: Redash's rule would use it too.
            report.redashSchedulerProblem = problem.message
            report.redashScheduler = schedulerState
        }
    }

    /// Lists the queues Redis knows: RQ's registry of queues (the length of those outside the
    /// policy follows in the second round trip), or, for Celery, the bindings and lists of the
    /// names Redash uses and the policy's.
    static func registryCommands(layout: QueueLayout, queues: [String]) -> [[String]] {
        switch layout {
        case .rq: return [["SCARD", "rq:queues"], ["SRANDMEMBER", "rq:queues", "1000"]]
        case .celery, .auto: return celeryCandidates(queues).flatMap { [["EXISTS", "_kombu.binding.\($0)"], ["LLEN", $0]] }
        }
    }

    /// The queue names of an RQ registry listing (`SCARD`, `SRANDMEMBER` replies); empty when
    /// unreadable (`interpretRegistry` says why).
    static func registryNames(_ replies: [RESPValue]) -> Set<String> {
        guard replies.count >= 2, let count = try? replies[0].count("rq:queues"), count <= 1000,
              let members = try? replies[1].elements("rq:queues") else { return [] }
        var names = Set<String>()
        for member in members {
            guard let key = (try? member.optionalText("rq:queues member")) ?? nil, key.hasPrefix("rq:queue:") else { continue }
            names.insert(String(key.dropFirst("rq:queue:".count)))
        }
        return names
    }

    static func celeryCandidates(_ queues: [String]) -> [String] {
        var names = redashQueueNames
        for queue in queues where !names.contains(queue) { names.append(queue) }
        return names
    }

    private func interpretRegistry(
        _ replies: [RESPValue], layout: QueueLayout, queues: [String], outside: [String], now: Instant, report: inout ProbeReport
    ) {
        var known = KnownQueues()
        do throws(UntrustedReply) {
            switch layout {
            case .rq:
                guard replies.count >= 2 + outside.count else { return }
                let count = try replies[0].count("rq:queues")
                guard count <= 1000 else { throw UntrustedReply("rq:queues lists \(count) queues; not read") }
                for member in try replies[1].elements("rq:queues") {
                    guard let key = try member.optionalText("rq:queues member"), key.hasPrefix("rq:queue:") else { continue }
                    known.names.insert(String(key.dropFirst("rq:queue:".count)))
                }
                for (index, name) in outside.enumerated() {
                    let pending = try replies[2 + index].count("rq:queue:\(name)")
                    if pending > 0 { known.pendingOutsidePolicy[name] = pending }
                }
            case .celery, .auto:
                let candidates = Self.celeryCandidates(queues)
                guard replies.count >= candidates.count * 2 else { return }
                let consumed = Set(queues)
                for (index, name) in candidates.enumerated() {
                    let bound = try replies[index * 2].count("_kombu.binding.\(name)") > 0
                    let waiting = try replies[index * 2 + 1].count(name)
                    if bound || waiting > 0 { known.names.insert(name) }
                    if waiting > 0, !consumed.contains(name) { known.pendingOutsidePolicy[name] = waiting }
                }
            }
            registry = (known, now)
        } catch {
            report.notes.append(error.message)
        }
    }

    /// RQ registers queues and workers in sets; kombu keeps bindings per exchange. A failure when
    /// no key tells yet, or when a reply cannot be trusted: an error there (a key of the wrong
    /// type) may hide the other system's keys, and a layout detected once is kept for good, so
    /// it is not guessed from the rest (the probe fuzzer found an error read as 0 RQ queues).
    private func detect(queues: [String], report: inout ProbeReport) async throws -> Result<QueueLayout, UntrustedReply> {
        var commands: [[String]] = [["SCARD", "rq:queues"], ["SCARD", "rq:workers"], ["EXISTS", "_kombu.binding.celery"]]
        commands += queues.map { ["EXISTS", "_kombu.binding.\($0)"] }
        let replies = try await pipeline(commands)
        report.roundTrips += 1
        report.commands += commands.count
        let counts: [Int]
        do throws(UntrustedReply) {
            counts = try zip(commands, replies).map { (command, reply) throws(UntrustedReply) -> Int in try reply.count(command[1]) }
        } catch {
            return .failure(error)
        }
        let rqQueues = counts[0], rqWorkers = counts[1]
        let kombu = counts.dropFirst(2).reduce(0, +)
        let found: (QueueLayout, String)
        if rqQueues + rqWorkers > 0 {
            found = (.rq, "\(rqQueues) RQ queue(s), \(rqWorkers) RQ worker(s) registered")
        } else if kombu > 0 {
            found = (.celery, "\(kombu) kombu binding(s)")
        } else {
            return .failure(UntrustedReply("no RQ registry or kombu binding yet"))
        }
        detected = found
        logger.info("queue layout detected", metadata: ["layout": "\(found.0.rawValue)", "evidence": "\(found.1)"])
        return .success(found.0)
    }
}
