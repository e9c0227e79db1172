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

        var unacked: Result<CeleryUnackedEntriesRead.Prefetched, UntrustedReply>?
        switch replies[unackedSlot] {
        case .failure(let problem):
            unacked = .failure(problem)
        case .success(let sizes) where sizes.entries > 0:
            var entries = ReadBatch()
            let slot = entries.add(CeleryUnackedEntriesRead(sizes: sizes, now: now))
            unacked = try await entries.send(through: pipeline, cost: &gathered.cost)[slot]
        case .success:
            unacked = nil
        }
        if let redash = separate ?? shared.map({ ($0, replies) }) {
            if separate == nil { takeHealth(redash.slots, redash.replies, into: &gathered) }
            takeState(redash.slots, redash.replies, statuses: nil, request: stateDue, liveness: .init(running: [], abandoned: []), now: now, into: &gathered)
        }
        if let registrySlot { takeRegistry(replies[registrySlot], now: now, into: &gathered) }

        if let request { await inspectCelery(request, now: now, into: &gathered) }
        let (readings, notes) = CeleryQueueAssembly.assemble(
            queues: queues, listings: Dictionary(uniqueKeysWithValues: zip(queues, replies[queueSlots])), unacked: unacked,
            activity: gathered.celery, now: now)
        gathered.readings = readings
        gathered.notes += notes
        gathered.listeners = gathered.celery?.listeners
    }

    /// One Celery remote-control round.
    func inspectCelery(_ request: CeleryInspectRequest, now: Instant, into gathered: inout Gathered) async {
        let start = ContinuousClock.now
        let sweep = lastSweep.map { now - $0 >= ReplyBinding.sweepPeriod || now < $0 } ?? true
        if sweep { lastSweep = now }
        let round = CeleryRound(database: database, timeout: request.replyTimeout, now: now, ids: roundIDs)
        let (activity, leftovers) = await round.run(
            pipeline: pipeline, leftovers: celeryLeftovers, sweep: sweep, elapsed: { ContinuousClock.now - start }, sleep: pollSleep)
        // At most a few: a Redis that refuses every clean-up is not carried forever.
        celeryLeftovers = Array(leftovers.suffix(16))
        gathered.celery = activity
        gathered.cost.add(roundTrips: activity.roundTrips, commands: activity.commands)
        if let problem = activity.problem { gathered.notes.append("Celery workers: \(problem); running tasks unknown") }
    }
}
