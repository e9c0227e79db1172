import AutoscalerCore

/// The RQ queues' readings from both round trips: the listings (`RQQueueRead`), the oldest jobs'
/// enqueue times (`RQOldestJobRead`) and the worker hashes (`RQWorkerRead`). Pure.
struct RQQueueAssembly {
    /// Per queue: what the first round trip listed, or why it cannot be trusted.
    var listings: [String: Result<RQQueueRead.Listing, UntrustedReply>]
    /// Per queue with a pending job: its enqueue time (nil: the job was just taken).
    var oldest: [String: Result<Instant?, UntrustedReply>]
    /// Per worker key: the worker (nil: gone), or why its hash cannot be read.
    var workers: [String: Result<WorkerRecord?, UntrustedReply>]
    var now: Instant

    /// What the assembly gives the report.
    struct Readings {
        var readings: [String: QueueReading] = [:]
        var workers: [String: [WorkerRecord]] = [:]
        /// Jobs in a started registry that no worker runs, per queue.
        var abandonedJobs: [String: Int] = [:]
        var runningJobIDs: Set<String> = []
        var abandonedJobIDs: Set<String> = []
        /// Every live worker read, with its queues; `nil` when the registry could not be read.
        var listeners: [QueueListener]?
    }

    /// The second round trip's reads for `listings`: each queue's oldest job, each worker once
    /// (those of the queues, then the rest of `registry`).
    static func followUps(
        _ listings: [String: Result<RQQueueRead.Listing, UntrustedReply>], queues: [String], registry: [String] = [], now: Instant
    ) -> (oldest: [RQOldestJobRead], workers: [RQWorkerRead]) {
        var oldest: [RQOldestJobRead] = []
        var workers: [RQWorkerRead] = []
        var seen = Set<String>()
        for queue in queues {
            guard case .success(let listing)? = listings[queue] else { continue }
            if listing.pending > 0, let id = listing.oldestID { oldest.append(RQOldestJobRead(queue: queue, jobID: id, now: now)) }
        }
        for queue in queues {
            guard case .success(let listing)? = listings[queue] else { continue }
            for key in listing.workerKeys where seen.insert(key).inserted { workers.append(RQWorkerRead(key: key, now: now)) }
        }
        for key in registry where seen.insert(key).inserted { workers.append(RQWorkerRead(key: key, now: now)) }
        return (oldest, workers)
    }

    /// - Parameter registryRead: whether `workers` holds every registered worker (the registry
    ///   was read and every hash could be), so that the listeners are known.
    func assemble(queues: [String], registryRead: Bool = false) -> Readings {
        var result = Readings()
        let live = workers.compactMapValues { try? $0.get() }
        if registryRead, !workers.values.contains(where: { if case .failure = $0 { true } else { false } }) {
            result.listeners = workers.keys.sorted().compactMap { key -> QueueListener? in
                guard let record = live[key] ?? nil, let queues = record.queues else { return nil }
                return QueueListener(name: record.name, hostname: record.hostname, ipAddress: record.ipAddress, queues: queues)
            }
        }
        // A job without a deadline runs only while a live worker holds it.
        let heldByWorkers = Set(live.values.compactMap(\.currentJob))
        var usable: [(queue: String, listing: RQQueueRead.Listing, enqueued: Instant?, running: Int)] = []
        for queue in queues {
            guard let listed = listings[queue] else { continue }
            do throws(UntrustedReply) {
                let listing = try listed.get()
                for key in listing.workerKeys { if case .failure(let problem)? = workers[key] { throw problem } }
                let running = listing.live.filter { !$0.isTimeless || heldByWorkers.contains($0.id) }.map(\.id)
                let phantoms = listing.live.filter { $0.isTimeless && !heldByWorkers.contains($0.id) }.map(\.id)
                result.runningJobIDs.formUnion(running)
                result.abandonedJobIDs.formUnion(phantoms)
                result.abandonedJobs[queue] = listing.expired + phantoms.count
                let enqueued = try oldest[queue]?.get() ?? nil
                usable.append((queue, listing, enqueued, running.count))
            } catch {
                result.readings[queue] = .unavailable(reason: error.message)
            }
        }
        for (queue, listing, enqueued, running) in usable {
            // Busy only while the job is running; otherwise the worker died mid-job and its
            // hash has not expired yet.
            var registered = listing.workerKeys.compactMap { live[$0] ?? nil }
            for index in registered.indices where registered[index].isBusy {
                if let job = registered[index].currentJob, result.runningJobIDs.contains(job) { continue }
                registered[index].hasAbandonedJob = true
            }
            result.workers[queue] = registered
            let busy = registered.filter(\.isBusy).count
            result.readings[queue] = .observed(QueueObservation(
                queue: queue, pending: listing.pending, running: running,
                oldestAge: listing.pending > 0 ? enqueued.map { max(.zero, now - $0) } : nil,
                workers: WorkerCounts(busy: busy, idle: registered.count - busy), observedAt: now))
        }
        return result
    }
}
