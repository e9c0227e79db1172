import AutoscalerCore
import Foundation
import RedisClient

/// One Celery queue (Redash v7–v8: Celery 4 with kombu's Redis transport): the list named after
/// the queue and its priority lists `<name>\x06\x163`, `\x06\x166`, `\x06\x169`. Producers
/// LPUSH, so the oldest message of each list is at index -1. Running tasks are not in Redis (a
/// message is acknowledged, and deleted, when its task starts) and Celery keeps no worker
/// registry there; messages a worker prefetched are in `unacked` (`CeleryUnackedRead`).
struct CeleryQueueRead: RedisRead {
    let queue: String
    let now: Instant

    static let prioritySuffixes = ["", "\u{06}\u{16}3", "\u{06}\u{16}6", "\u{06}\u{16}9"]

    var commands: [[String]] {
        Self.prioritySuffixes.flatMap { suffix in [["LLEN", queue + suffix], ["LINDEX", queue + suffix, "-1"]] }
    }

    /// The waiting messages of the queue's lists.
    struct Listing: Sendable {
        var pending: Int
        /// The earliest enqueue time among the lists' oldest messages that carry one.
        var oldest: Instant?
        /// Whether some list's oldest message is not a Celery message (its age is unknown).
        var hasForeignMessage: Bool
    }

    func interpret(_ replies: inout ReplyCursor) -> Result<Listing, UntrustedReply> {
        Result { () throws(UntrustedReply) -> Listing in
            var listing = Listing(pending: 0, oldest: nil, hasForeignMessage: false)
            for suffix in Self.prioritySuffixes {
                let key = Self.printable(queue + suffix)
                listing.pending += try replies.next().count(key)
                guard let text = try replies.next().optionalText(key) else { continue }
                guard let message = CeleryMessage.parse(text) else {
                    listing.hasForeignMessage = true
                    continue
                }
                if let time = message.enqueueTime {
                    let enqueued = try PlausibleTime.check(time, "enqueue_time of the oldest \(key) message", now: now)
                    listing.oldest = min(listing.oldest ?? enqueued, enqueued)
                }
            }
            return listing
        }
    }

    /// Queue names with kombu's separator bytes made visible.
    static func printable(_ key: String) -> String {
        key.replacingOccurrences(of: "\u{06}\u{16}", with: "\\x06\\x16")
    }
}

/// kombu's `unacked` hash: messages workers took from their queues and have not acknowledged
/// (prefetched, not yet started; with `acks_late` off, Redash v8's setting, a message is
/// acknowledged when its task starts). They still wait, so they count as pending on the queue
/// their routing key names. One hash for every queue: when it cannot be read, no queue's count
/// can be trusted.
struct CeleryUnackedRead: RedisRead {
    let now: Instant

    /// Prefetched messages read at the most: each worker process holds a few (Celery's prefetch
    /// multiplier), so even a large fleet keeps far fewer.
    static let limit = 10_000

    var commands: [[String]] { [["HLEN", "unacked"], ["HVALS", "unacked"]] }

    /// Per routing key: prefetched messages, and the earliest enqueue time among them.
    struct Prefetched: Sendable {
        var byQueue: [String: (count: Int, oldest: Instant?)] = [:]
        /// Routing keys one of whose messages carries an implausible time.
        var untrusted: [String: String] = [:]
    }

    func interpret(_ replies: inout ReplyCursor) -> Result<Prefetched, UntrustedReply> {
        Result { () throws(UntrustedReply) -> Prefetched in
            let count = try replies.next().count("unacked")
            guard count <= Self.limit else {
                throw UntrustedReply("unacked holds \(count) messages, more than \(Self.limit) prefetched ones a Redash fleet keeps; not trusted")
            }
            var prefetched = Prefetched()
            for value in try replies.next().elements("unacked") {
                guard let text = try value.optionalText("unacked message"), let entry = UnackedEntry.parse(text) else { continue }
                let queue = entry.routingKey
                var record = prefetched.byQueue[queue] ?? (0, nil)
                record.count += 1
                if let time = entry.message.enqueueTime {
                    do throws(UntrustedReply) {
                        let enqueued = try PlausibleTime.check(time, "enqueue_time of a prefetched \(queue) message", now: now)
                        record.oldest = min(record.oldest ?? enqueued, enqueued)
                    } catch {
                        prefetched.untrusted[queue] = error.message
                    }
                }
                prefetched.byQueue[queue] = record
            }
            return prefetched
        }
    }
}

/// The Celery queues' readings: the lists plus what workers prefetched from them. Pure.
enum CeleryQueueAssembly {
    /// Readings per queue, and notes for an operator (a foreign message at a list's end).
    static func assemble(
        queues: [String], listings: [String: Result<CeleryQueueRead.Listing, UntrustedReply>],
        unacked: Result<CeleryUnackedRead.Prefetched, UntrustedReply>, now: Instant
    ) -> (readings: [String: QueueReading], notes: [String]) {
        let prefetched: CeleryUnackedRead.Prefetched
        switch unacked {
        case .success(let value): prefetched = value
        case .failure(let problem):
            return (Dictionary(uniqueKeysWithValues: queues.map { ($0, QueueReading.unavailable(reason: problem.message)) }), [])
        }
        var readings: [String: QueueReading] = [:]
        var notes: [String] = []
        for queue in queues {
            guard let listed = listings[queue] else { continue }
            do throws(UntrustedReply) {
                if let problem = prefetched.untrusted[queue] { throw UntrustedReply(problem) }
                var listing = try listed.get()
                if let extra = prefetched.byQueue[queue] {
                    listing.pending += extra.count
                    if let time = extra.oldest { listing.oldest = min(listing.oldest ?? time, time) }
                }
                if listing.hasForeignMessage { notes.append("\(queue): the oldest message is not a Celery message; its age is unknown") }
                readings[queue] = .observed(QueueObservation(
                    queue: queue, pending: listing.pending, running: nil,
                    oldestAge: listing.pending > 0 ? listing.oldest.map { max(.zero, now - $0) } : nil, workers: nil, observedAt: now))
            } catch {
                readings[queue] = .unavailable(reason: error.message)
            }
        }
        return (readings, notes)
    }
}
