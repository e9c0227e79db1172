import AutoscalerCore
import RedisClient

extension QueueProber {
    /// Every queue's length in one round trip (`LLEN rq:queue:<name>` for RQ; Celery's list and
    /// its three priority lists, summed), once the layout is known (configured, or detected by an
    /// earlier probe): the queue watch's cheap read. Nil before the layout is known, or when a
    /// reply is not a length, so that the caller probes whole and the whole probe says what is
    /// wrong.
    public func lengths(queues: [String]) async -> QueueLengths? {
        guard let system = configuredLayout.system ?? detectedSystem else { return nil }
        let reads = queues.flatMap { queue in
            switch system {
            case .rq: [QueueLengthRead(queue: queue, key: "rq:queue:\(queue)")]
            case .celery: CeleryQueueRead.prioritySuffixes.map { QueueLengthRead(queue: queue, key: queue + $0) }
            }
        }
        var batch = ReadBatch()
        let slots = batch.add(contentsOf: reads)
        var cost = ProbeCost()
        guard let replies = try? await batch.send(through: pipeline, cost: &cost) else { return nil }
        var lengths: [String: Int] = [:]
        for (read, slot) in zip(reads, slots) {
            guard case .success(let length) = replies[slot] else { return nil }
            lengths[read.queue, default: 0] += length
        }
        return QueueLengths(lengths: lengths, commands: cost.commands)
    }
}
