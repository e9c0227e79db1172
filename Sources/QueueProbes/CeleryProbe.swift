import AutoscalerCore
import Foundation
import RedisClient

/// Celery 4 with kombu's Redis transport (Redash v7–v8):
/// - pending: the list named after the queue, plus its priority lists `<name>\x06\x163`,
///   `\x06\x166`, `\x06\x169`; producers LPUSH, so the oldest message is at index -1;
/// - prefetched messages: taken from the list by a worker but not yet started, kept in the
///   `unacked` hash (`[message, exchange, routing_key]`): still waiting, so counted as pending;
/// - oldest age: Redash's execute_query puts `enqueue_time` (epoch seconds) in the message's
///   `headers.argsrepr`; other tasks carry no enqueue time, so the age is then unknown;
/// - running: not in Redis (a message is acknowledged, and deleted, when its task starts);
/// - workers: Celery keeps no registry in Redis.
enum CeleryProbe {
    static let prioritySuffixes = ["", "\u{06}\u{16}3", "\u{06}\u{16}6", "\u{06}\u{16}9"]

    /// Probes `queues`; `extra` commands ride along in the round trip and their replies are
    /// returned.
    static func probe(
        queues: [String], pipeline: RedisPipeline, now: Instant, report: inout ProbeReport, readsStatus: Bool = true,
        appending extra: [[String]] = []
    ) async throws -> [RESPValue] {
        var commands: [[String]] = []
        for queue in queues {
            for suffix in prioritySuffixes {
                commands.append(["LLEN", queue + suffix])
                commands.append(["LINDEX", queue + suffix, "-1"])
            }
        }
        commands.append(["HLEN", "unacked"])
        commands.append(["HVALS", "unacked"])
        if readsStatus { commands.append(SchedulerHealth.command) }
        let all = try await pipeline(commands + extra)
        report.roundTrips += 1
        report.commands += commands.count + extra.count
        let replies = Array(all.prefix(commands.count))
        let unackedIndex = queues.count * prioritySuffixes.count * 2
        if readsStatus { report.takeSchedulerHealth(replies[unackedIndex + 2], now: now) }

        // Prefetched messages per queue, with their enqueue times. `unacked` is shared by every
        // queue: when it cannot be read, no queue's count can be trusted.
        var prefetched: [String: (count: Int, oldest: Instant?)] = [:]
        var untrusted: [String: String] = [:]
        do throws(UntrustedReply) {
            let count = try replies[unackedIndex].count("unacked")
            guard count <= unackedLimit else {
                throw UntrustedReply("unacked holds \(count) messages, more than \(unackedLimit) prefetched ones a Redash fleet keeps; not trusted")
            }
            for entry in try replies[unackedIndex + 1].elements("unacked") {
                guard let text = try entry.optionalText("unacked message"),
                      let triple = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Any],
                      triple.count >= 3, let routingKey = triple[2] as? String else { continue }
                var record = prefetched[routingKey] ?? (0, nil)
                record.count += 1
                if let message = triple[0] as? [String: Any], let time = enqueueTime(of: message) {
                    do throws(UntrustedReply) {
                        let enqueued = try PlausibleTime.check(time, "enqueue_time of a prefetched \(routingKey) message", now: now)
                        record.oldest = min(record.oldest ?? enqueued, enqueued)
                    } catch {
                        untrusted[routingKey] = error.message
                    }
                }
                prefetched[routingKey] = record
            }
        } catch {
            for queue in queues { report.readings[queue] = .unavailable(reason: error.message) }
            return Array(all.dropFirst(commands.count))
        }

        let perQueue = prioritySuffixes.count * 2
        for (index, queue) in queues.enumerated() {
            var pending = 0
            var oldest: Instant?
            var unreadable = false
            do throws(UntrustedReply) {
                if let problem = untrusted[queue] { throw UntrustedReply(problem) }
                for (offset, suffix) in prioritySuffixes.enumerated() {
                    let key = printable(queue + suffix)
                    pending += try replies[index * perQueue + offset * 2].count(key)
                    guard let text = try replies[index * perQueue + offset * 2 + 1].optionalText(key) else { continue }
                    if let message = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] {
                        if let time = enqueueTime(of: message) {
                            let enqueued = try PlausibleTime.check(time, "enqueue_time of the oldest \(key) message", now: now)
                            oldest = min(oldest ?? enqueued, enqueued)
                        }
                    } else {
                        unreadable = true
                    }
                }
            } catch {
                report.readings[queue] = .unavailable(reason: error.message)
                continue
            }
            if let extra = prefetched[queue] {
                pending += extra.count
                if let time = extra.oldest { oldest = min(oldest ?? time, time) }
            }
            if unreadable {
                report.notes.append("\(queue): the oldest message is not a Celery message; its age is unknown")
            }
            report.readings[queue] = .observed(QueueObservation(
                queue: queue, pending: pending, running: nil,
                oldestAge: pending > 0 ? oldest.map { max(.zero, now - $0) } : nil,
                workers: nil, observedAt: now))
        }
        return Array(all.dropFirst(commands.count))
    }

    /// Prefetched messages read at the most: each worker process holds a few (Celery's prefetch
    /// multiplier), so even a large fleet keeps far fewer.
    static let unackedLimit = 10_000

    /// `headers.argsrepr.enqueue_time` of Redash's execute_query message.
    static func enqueueTime(of message: [String: Any]) -> Instant? {
        guard let headers = message["headers"] as? [String: Any],
              let argsrepr = headers["argsrepr"] as? String,
              let arguments = try? JSONSerialization.jsonObject(with: Data(argsrepr.utf8)) as? [String: Any],
              let number = arguments["enqueue_time"] as? NSNumber, !(arguments["enqueue_time"] is Bool)
        else { return nil }
        return Instant(secondsSinceEpoch: number.doubleValue)
    }

    /// Queue names with kombu's separator bytes made visible.
    static func printable(_ key: String) -> String {
        key.replacingOccurrences(of: "\u{06}\u{16}", with: "\\x06\\x16")
    }
}
