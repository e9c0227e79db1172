import Foundation
import AutoscalerCore
import RedisClient

/// The reply queue a round binds on kombu's reply exchange, and its clean-up.
///
/// kombu's Redis transport routes a direct exchange through a set of bindings
/// (`_kombu.binding.reply.celery.pidbox`), each member `<routing key>\x06\x16<pattern>\x06\x16<queue>`.
/// A round adds one member, whose list (`<routing key>.reply.celery.pidbox`) the nodes `LPUSH`
/// their replies onto, and removes both when it ends. A clean-up that fails is tried again at
/// the next round; members of ours that a round cut short left (a controller killed mid-round)
/// are swept every ten minutes once older than a minute. A member is only ever removed, and its
/// list deleted, when it has our shape: a foreign or garbled member never makes us delete
/// another key (such as a queue).
struct ReplyBinding: Hashable, Sendable {
    static let bindingKey = "_kombu.binding.reply.celery.pidbox"
    /// kombu's separator between a binding's routing key, pattern and queue.
    static let separator = "\u{06}\u{16}"
    /// Our reply routing keys start with this, then the round's start in milliseconds.
    static let keyPrefix = "redash-autoscaler."
    /// Stale bindings of ours: older than this, a round that never finished left them.
    static let staleAfter: Duration = .seconds(60)
    /// How often stale bindings are looked for.
    static let sweepPeriod: Duration = .seconds(600)

    /// The routing key the nodes answer to.
    let routingKey: String

    init(now: Instant, random: String) {
        routingKey = Self.keyPrefix + String(Int64(now.secondsSinceEpoch * 1000)) + "." + random
    }

    /// The list the replies land in.
    var queue: String { routingKey + "." + ControlEnvelope.replyExchange }
    /// The binding's member.
    var member: String { routingKey + Self.separator + Self.separator + queue }

    /// Binds the reply queue.
    var bindCommand: [String] { ["SADD", Self.bindingKey, member] }

    /// Removes binding members of ours and the reply lists they name.
    static func removalCommands(_ members: [String]) -> [[String]] {
        guard !members.isEmpty else { return [] }
        return [["SREM", bindingKey] + members] + members.compactMap(ownQueue(ofMember:)).map { ["DEL", $0] }
    }

    /// Removes `members` now; returns those that could not be removed, for the next round.
    static func remove(_ members: [String], through pipeline: RedisPipeline) async -> [String] {
        let commands = removalCommands(members)
        guard !commands.isEmpty else { return [] }
        return (try? await pipeline(commands)) == nil ? members : []
    }

    /// Whether a binding member is ours and older than `staleAfter` at `now`.
    static func isStaleMember(_ member: String, now: Instant) -> Bool {
        guard ownQueue(ofMember: member) != nil else { return false }
        let rest = member.dropFirst(keyPrefix.count)
        guard let millis = rest.split(separator: ".", maxSplits: 1).first.flatMap({ Int64($0) }) else { return false }
        return now - Instant(secondsSinceEpoch: Double(millis) / 1000) > staleAfter
    }

    /// The reply list a binding member of ours names: only when it has our shape (our prefix,
    /// no pattern, the list named after the routing key).
    static func ownQueue(ofMember member: String) -> String? {
        let parts = member.components(separatedBy: separator)
        guard parts.count == 3, parts[0].hasPrefix(keyPrefix), parts[1].isEmpty, parts[2] == parts[0] + "." + ControlEnvelope.replyExchange else { return nil }
        return parts[2]
    }

    /// Removes members of ours older than `staleAfter`, read a page at a time (at most ten),
    /// with their lists.
    static func sweepStale(through pipeline: RedisPipeline, now: Instant) async {
        var cursor = "0"
        for _ in 0..<10 {
            guard let replies = try? await pipeline([["SSCAN", bindingKey, cursor, "MATCH", keyPrefix + "*", "COUNT", "1000"]]),
                  let page = try? replies.first?.elements("SSCAN"), page.count == 2,
                  let next = (try? page[0].optionalText("SSCAN cursor")) ?? nil,
                  let members = try? page[1].elements("SSCAN members") else { return }
            let stale = members.compactMap { (try? $0.optionalText("member")) ?? nil }.filter { isStaleMember($0, now: now) }
            if !stale.isEmpty { _ = try? await pipeline(removalCommands(stale)) }
            cursor = next
            if cursor == "0" { return }
        }
    }
}
