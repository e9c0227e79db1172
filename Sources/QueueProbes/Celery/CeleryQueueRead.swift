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

/// How many messages kombu's `unacked` hash holds (messages workers took from their queues and
/// have not acknowledged: prefetched, not yet started; with `acks_late` off, Redash v8's
/// setting, a message is acknowledged when its task starts), and how many fetch times its index
/// `unacked_index` keeps. One hash for every queue: when it cannot be read, no queue's count can
/// be trusted. The entries themselves are the next round trip's read (`CeleryUnackedEntriesRead`),
/// only when there are any and not more than a Redash fleet keeps.
struct CeleryUnackedRead: RedisRead {
    /// Prefetched messages read at the most: each worker process holds one or two (Celery's
    /// prefetch multiplier 1, and one more per busy process under `-Ofair`), so even a large
    /// fleet keeps far fewer.
    static let limit = 10_000

    var commands: [[String]] { [["HLEN", "unacked"], ["ZCARD", "unacked_index"]] }

    /// The sizes.
    struct Sizes: Sendable {
        var entries: Int
        var indexed: Int
    }

    func interpret(_ replies: inout ReplyCursor) -> Result<Sizes, UntrustedReply> {
        Result { () throws(UntrustedReply) -> Sizes in
            let count = try replies.next().count("unacked")
            let indexed = try replies.next().count("unacked_index")
            guard count <= Self.limit else {
                throw UntrustedReply("unacked holds \(count) messages, more than \(Self.limit) prefetched ones a Redash fleet keeps; not read, not trusted")
            }
            return Sizes(entries: count, indexed: indexed)
        }
    }
}

/// kombu's `unacked` entries (delivery tag → `[message, exchange, routing_key]`) with their fetch
/// times from `unacked_index` (delivery tag → seconds since the epoch), by routing key.
struct CeleryUnackedEntriesRead: RedisRead {
    let sizes: CeleryUnackedRead.Sizes
    let now: Instant

    var commands: [[String]] {
        // An index larger than any fleet keeps is not read: fetch times are then unknown.
        [["HGETALL", "unacked"]] + (sizes.indexed <= CeleryUnackedRead.limit ? [["ZRANGE", "unacked_index", "0", "-1", "WITHSCORES"]] : [])
    }

    /// The prefetched messages of each queue, and the queues one of whose messages carries an
    /// implausible time (unreadable: their counts are not trusted).
    struct Prefetched: Sendable {
        var byQueue: [String: [PrefetchedMessage]] = [:]
        var untrusted: [String: String] = [:]
    }

    func interpret(_ replies: inout ReplyCursor) -> Result<Prefetched, UntrustedReply> {
        Result { () throws(UntrustedReply) -> Prefetched in
            let fields = try replies.next().elements("unacked")
            guard fields.count % 2 == 0, fields.count / 2 <= CeleryUnackedRead.limit else {
                throw UntrustedReply("unacked: \(fields.count) elements, not field and value pairs of a Redash fleet; not trusted")
            }
            var fetched: [String: Instant] = [:]
            if sizes.indexed <= CeleryUnackedRead.limit {
                let elements = try replies.next().elements("unacked_index")
                guard elements.count / 2 <= CeleryUnackedRead.limit else {
                    throw UntrustedReply("unacked_index: \(elements.count / 2) entries, more than a Redash fleet keeps; not trusted")
                }
                var index = ReplyCursor(elements[...])
                for _ in 0..<(elements.count / 2) {
                    // A garbled fetch time only loses that message's return time.
                    guard let tag = (try? index.next().optionalText("unacked_index member")) ?? nil,
                          let text = (try? index.next().optionalText("unacked_index score")) ?? nil,
                          let time = try? PlausibleTime.epoch(text, "unacked_index score", now: now, maximumAge: nil)
                    else { continue }
                    fetched[tag] = time
                }
            }
            var prefetched = Prefetched()
            var pairs = ReplyCursor(fields[...])
            for _ in 0..<(fields.count / 2) {
                let (tagReply, valueReply) = (pairs.next(), pairs.next())
                guard let tag = try tagReply.optionalText("unacked field"), let text = try valueReply.optionalText("unacked message"),
                      let entry = UnackedEntry.parse(text) else { continue }
                let queue = entry.routingKey
                var enqueued: Instant?
                if let time = entry.message.enqueueTime {
                    do throws(UntrustedReply) {
                        enqueued = try PlausibleTime.check(time, "enqueue_time of a prefetched \(queue) message", now: now)
                    } catch {
                        prefetched.untrusted[queue] = error.message
                    }
                }
                let taskID = entry.message.taskID.flatMap { try? CeleryRound.printable($0, "a task id", allowEmpty: false) }
                prefetched.byQueue[queue, default: []].append(PrefetchedMessage(
                    deliveryTag: (try? CeleryRound.printable(tag, "a delivery tag")) ?? "?", taskID: taskID, enqueuedAt: enqueued,
                    deliveredAt: fetched[tag]))
            }
            return prefetched
        }
    }
}

/// The Celery queues' readings: the lists plus what workers prefetched from them, each
/// prefetched message with its holder when a complete remote-control round says. Pure.
enum CeleryQueueAssembly {
    /// Readings per queue, and notes for an operator (a foreign message at a list's end).
    /// - Parameters:
    ///   - unacked: `nil` when `unacked` was empty (no second read).
    ///   - activity: the round, when one ran; a complete one tells each prefetched message's holder.
    static func assemble(
        queues: [String], listings: [String: Result<CeleryQueueRead.Listing, UntrustedReply>],
        unacked: Result<CeleryUnackedEntriesRead.Prefetched, UntrustedReply>?, activity: CeleryActivity?, now: Instant
    ) -> (readings: [String: QueueReading], notes: [String]) {
        let prefetched: CeleryUnackedEntriesRead.Prefetched
        switch unacked {
        case .success(let value)?: prefetched = value
        case nil: prefetched = CeleryUnackedEntriesRead.Prefetched()
        case .failure(let problem)?:
            return (Dictionary(uniqueKeysWithValues: queues.map { ($0, QueueReading.unavailable(reason: problem.message)) }), [])
        }
        var readings: [String: QueueReading] = [:]
        var notes: [String] = []
        for queue in queues {
            guard let listed = listings[queue] else { continue }
            do throws(UntrustedReply) {
                if let problem = prefetched.untrusted[queue] { throw UntrustedReply(problem) }
                let listing = try listed.get()
                let messages = (prefetched.byQueue[queue] ?? []).map { message in
                    var message = message
                    message.holder = activity?.holder(of: message.taskID) ?? .unknown
                    return message
                }
                if listing.hasForeignMessage { notes.append("\(queue): the oldest message is not a Celery message; its age is unknown") }
                var oldest = listing.oldest
                for time in messages.compactMap(\.enqueuedAt) { oldest = min(oldest ?? time, time) }
                let pending = listing.pending + messages.count
                let waiting = WaitingWork(listed: listing.pending, oldestListedAge: listing.oldest.map { max(.zero, now - $0) }, prefetched: messages)
                readings[queue] = .observed(QueueObservation(
                    queue: queue, pending: pending, running: activity?.running(on: queue),
                    oldestAge: pending > 0 ? oldest.map { max(.zero, now - $0) } : nil, workers: nil, observedAt: now,
                    waiting: messages.isEmpty ? nil : waiting))
            } catch {
                readings[queue] = .unavailable(reason: error.message)
            }
        }
        return (readings, notes)
    }
}
