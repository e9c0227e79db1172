import AutoscalerCore
import RedisClient

/// RQ-era Redash (v10, v25+): the reads of one probe, in two round trips.
extension QueueProber {
    /// RQ: the queues and, riding along, Redash's keys and the registry; then the oldest jobs,
    /// the worker hashes, the jobs locks point at and the lengths of queues outside the policy.
    func probeRQ(_ pass: QueuePass, into gathered: inout Gathered) async throws {
        let (queues, stateDue, separate, now) = (pass.queues, pass.stateDue, pass.separate, pass.now)
        var first = ReadBatch()
        let queueSlots = first.add(contentsOf: queues.map { RQQueueRead(queue: $0, now: now) })
        let periodicSlot = first.add(PeriodicWorkersRead())
        let workerRegistrySlot = first.add(RQWorkerRegistryRead())
        let shared = separate == nil ? RedashKeySlots(&first, state: stateDue, now: now) : nil
        let registrySlot = pass.registryDue ? first.add(QueueRegistryRead.RQ()) : nil
        let firstReplies = try await first.send(through: pipeline, cost: &gathered.cost)

        let listings = Dictionary(uniqueKeysWithValues: zip(queues, firstReplies[queueSlots]))
        gathered.periodicWorkers = firstReplies[periodicSlot]
        let redash = separate ?? shared.map { ($0, firstReplies) }
        let stateReading = redash.flatMap { $0.slots.state.map { slot in redash!.replies[slot] } }
        let registryNames = registrySlot.map { firstReplies[$0] }

        var second = ReadBatch()
        let registeredWorkers = try? firstReplies[workerRegistrySlot].get()
        let (oldestReads, workerReads) = RQQueueAssembly.followUps(listings, queues: queues, registry: registeredWorkers ?? [], now: now)
        let oldestSlots = second.add(contentsOf: oldestReads)
        let workerSlots = second.add(contentsOf: workerReads)
        var lockSlots: [(key: String, slot: ReadBatch.Slot<LockedJobRead>)] = []
        if case .success(let reading)? = stateReading {
            lockSlots = SchedulerStateAssembly.followUps(reading, system: .rq).map { ($0.key, second.add($0.read)) }
        }
        var outsideReads: [QueueLengthRead] = []
        if case .success(let names)? = registryNames { outsideReads = QueueRegistryRead.RQ.followUps(names, policyQueues: queues) }
        let outsideSlots = second.add(contentsOf: outsideReads)
        let secondReplies = try await second.send(through: pipeline, cost: &gathered.cost)

        let assembly = RQQueueAssembly(
            listings: listings,
            oldest: Dictionary(uniqueKeysWithValues: zip(oldestReads.map(\.queue), secondReplies[oldestSlots])),
            workers: Dictionary(uniqueKeysWithValues: zip(workerReads.map(\.key), secondReplies[workerSlots])), now: now)
        gathered.rq = assembly.assemble(queues: queues, registryRead: registeredWorkers != nil)
        gathered.listeners = gathered.rq.listeners
        gathered.readings = gathered.rq.readings
        if let redash {
            let jobs = Dictionary(lockSlots.map { ($0.key, secondReplies[$0.slot]) }, uniquingKeysWith: { first, _ in first })
            let liveness = SchedulerStateAssembly.Liveness(
                running: gathered.rq.runningJobIDs, abandoned: gathered.rq.abandonedJobIDs, listeners: gathered.rq.listeners)
            if separate == nil { takeHealth(redash.slots, redash.replies, into: &gathered) }
            takeState(redash.slots, redash.replies, jobs: jobs, system: .rq, request: stateDue, liveness: liveness, now: now, into: &gathered)
        }
        if let registryNames {
            let lengths = zip(outsideReads, secondReplies[outsideSlots]).map { ($0, $1) }
            takeRegistry(registryNames.flatMap { QueueRegistryRead.RQ.known($0, outside: lengths) }, now: now, into: &gathered)
        }
    }
}
