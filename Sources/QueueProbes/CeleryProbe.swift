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
        queues: [String], client: RedisClient, now: Instant, report: inout ProbeReport, appending extra: [[String]] = []
    ) async throws -> [RESPValue] {
        var commands: [[String]] = []
        for queue in queues {
            for suffix in prioritySuffixes {
                commands.append(["LLEN", queue + suffix])
                commands.append(["LINDEX", queue + suffix, "-1"])
            }
        }
        commands.append(["HVALS", "unacked"])
        commands.append(["HGET", "redash:status", "last_refresh_at"])
        let all = try await client.pipeline(commands + extra)
        report.roundTrips += 1
        report.commands += commands.count + extra.count
        let replies = Array(all.prefix(commands.count))
        report.scheduler = SchedulerHealth.from(lastRefresh: replies[replies.count - 1], periodicWorkers: nil, now: now)

        // Prefetched messages per queue, with their enqueue times.
        var prefetched: [String: (count: Int, oldest: Instant?)] = [:]
        if let entries = replies[replies.count - 2].array {
            for entry in entries {
                guard let text = entry.string,
                      let triple = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Any],
                      triple.count >= 3, let routingKey = triple[2] as? String else { continue }
                var record = prefetched[routingKey] ?? (0, nil)
                record.count += 1
                if let message = triple[0] as? [String: Any], let enqueued = enqueueTime(of: message) {
                    record.oldest = min(record.oldest ?? enqueued, enqueued)
                }
                prefetched[routingKey] = record
            }
        }

        let perQueue = prioritySuffixes.count * 2
        for (index, queue) in queues.enumerated() {
            var pending = 0
            var oldest: Instant?
            var problem: String?
            var unreadable = false
            for (offset, suffix) in prioritySuffixes.enumerated() {
                let length = replies[index * perQueue + offset * 2], tail = replies[index * perQueue + offset * 2 + 1]
                if let message = length.errorMessage ?? tail.errorMessage {
                    problem = "\(printable(queue + suffix)): \(message)"
                    break
                }
                pending += length.integer ?? 0
                guard let text = tail.string else { continue }
                if let message = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] {
                    if let enqueued = enqueueTime(of: message) { oldest = min(oldest ?? enqueued, enqueued) }
                } else {
                    unreadable = true
                }
            }
            if let problem {
                report.readings[queue] = .unavailable(reason: problem)
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

    /// `headers.argsrepr.enqueue_time` of Redash's execute_query message.
    static func enqueueTime(of message: [String: Any]) -> Instant? {
        guard let headers = message["headers"] as? [String: Any],
              let argsrepr = headers["argsrepr"] as? String,
              let arguments = try? JSONSerialization.jsonObject(with: Data(argsrepr.utf8)) as? [String: Any],
              let time = arguments["enqueue_time"] as? Double
        else { return nil }
        return Instant(secondsSinceEpoch: time)
    }

    /// Queue names with kombu's separator bytes made visible.
    static func printable(_ key: String) -> String {
        key.replacingOccurrences(of: "\u{06}\u{16}", with: "\\x06\\x16")
    }
}
