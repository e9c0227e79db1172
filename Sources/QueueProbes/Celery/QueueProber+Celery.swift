import AutoscalerCore
import RedisClient

/// Celery-era Redash (v7–v8): the reads of one probe, and the remote-control round when asked
/// for.
extension QueueProber {
    /// Celery: the queues, the size of `unacked` and, riding along, Redash's keys and the
    /// registry, in one round trip; `unacked`'s entries in a second one when it holds any; then
    /// with `activity` the remote-control round, whose answers tell who holds each prefetched
    /// message and how many tasks run.
    func probeCelery(_ pass: QueuePass, activity request: CeleryInspectRequest?, into gathered: inout Gathered) async throws {
        let (queues, stateDue, separate, now) = (pass.queues, pass.stateDue, pass.separate, pass.now)
        var batch = ReadBatch()
        let queueSlots = batch.add(contentsOf: queues.map { CeleryQueueRead(queue: $0, now: now) })
        let unackedSlot = batch.add(CeleryUnackedRead())
        let shared = separate == nil ? RedashKeySlots(&batch, state: stateDue, now: now) : nil
        let registrySlot = pass.registryDue ? batch.add(QueueRegistryRead.Celery(policyQueues: queues)) : nil
        let replies = try await batch.send(through: pipeline, cost: &gathered.cost)

        // Second round trip, when there is anything for it: unacked's entries, and the results
        // of the tasks Redash's locks point at.
        var second = ReadBatch()
        var unackedSlot2: ReadBatch.Slot<CeleryUnackedEntriesRead>?
        var unackedProblem: UntrustedReply?
        switch replies[unackedSlot] {
        case .failure(let problem): unackedProblem = problem
        case .success(let sizes) where sizes.entries > 0: unackedSlot2 = second.add(CeleryUnackedEntriesRead(sizes: sizes, now: now))
        case .success: break
        }
        let redash = separate ?? shared.map { ($0, replies) }
        var lockSlots: [(key: String, slot: ReadBatch.Slot<LockedJobRead>)] = []
        if let stateSlot = redash?.slots.state, case .success(let reading)? = redash.map({ $0.replies[stateSlot] }) {
            lockSlots = SchedulerStateAssembly.followUps(reading, system: .celery).map { ($0.key, second.add($0.read)) }
        }
        let secondReplies = try await second.send(through: pipeline, cost: &gathered.cost)
        let unacked = unackedProblem.map { Result<CeleryUnackedEntriesRead.Prefetched, UntrustedReply>.failure($0) } ?? unackedSlot2.map { secondReplies[$0] }
        if let registrySlot { takeRegistry(replies[registrySlot], now: now, into: &gathered) }
        if let redash, separate == nil { takeHealth(redash.slots, redash.replies, into: &gathered) }

        if let request, request.asks {
            await inspectCelery(request, now: now, into: &gathered)
            lastCompleteRound = gathered.celery?.isComplete == true ? gathered.celery : nil
        } else if let request, let last = lastCompleteRound, now >= last.observedAt, now - last.observedAt <= request.standsFor {
            // No round this tick: the last complete one's answer stands until the next.
            gathered.celery = last
        }
        let (readings, notes) = CeleryQueueAssembly.assemble(
            queues: queues, listings: Dictionary(uniqueKeysWithValues: zip(queues, replies[queueSlots])), unacked: unacked,
            activity: gathered.celery, now: now)
        gathered.readings = readings
        gathered.notes += notes
        gathered.listeners = gathered.celery?.listeners
        if let redash {
            let timeout = request?.visibilityTimeout ?? CelerySettings.defaultVisibilityTimeout
            var stranded: [String: Instant?] = [:]
            for case .observed(let observation) in readings.values {
                for message in observation.waiting?.stranded ?? [] {
                    if let task = message.taskID { stranded[task] = message.returnsAt(visibilityTimeout: timeout) }
                }
            }
            let liveness = SchedulerStateAssembly.Liveness(listeners: gathered.listeners, celery: gathered.celery, stranded: stranded)
            takeState(
                redash.slots, redash.replies, jobs: Dictionary(lockSlots.map { ($0.key, secondReplies[$0.slot]) }, uniquingKeysWith: { first, _ in first }),
                system: .celery, request: stateDue, liveness: liveness, visibilityTimeout: timeout, now: now, into: &gathered)
        }
    }

    /// One Celery remote-control round.
    func inspectCelery(_ request: CeleryInspectRequest, now: Instant, into gathered: inout Gathered) async {
        let clock = self.clock
        let start = clock.now
        let sweep = lastSweep.map { now - $0 >= ReplyBinding.sweepPeriod || now < $0 } ?? true
        if sweep { lastSweep = now }
        let round = CeleryRound(database: database, timeout: request.replyTimeout, now: now, poolLimit: request.poolLimit, ids: roundIDs)
        let (activity, leftovers) = await round.run(
            pipeline: pipeline, leftovers: celeryLeftovers, sweep: sweep, elapsed: { clock.now - start }, sleep: { try await clock.sleep(for: $0) })
        // At most a few: a Redis that refuses every clean-up is not carried forever.
        celeryLeftovers = Array(leftovers.suffix(16))
        gathered.celery = activity
        gathered.cost.add(roundTrips: activity.roundTrips, commands: activity.commands)
        if let problem = activity.problem { gathered.notes.append("Celery workers: \(problem); running tasks unknown") }
    }
}
