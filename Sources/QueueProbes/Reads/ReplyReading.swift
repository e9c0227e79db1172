import AutoscalerCore
import RedisClient

/// A reply that cannot be trusted: an error reply, a wrong type, a number out of range. The
/// probe turns it into an unavailable reading with this message, never into a zero.
struct UntrustedReply: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Checked readings of Redis replies: every number from Redis is suspect.
extension RESPValue {
    /// A count (LLEN, SCARD, ZCOUNT, EXISTS): an integer from 0 to `maximum`.
    func count(_ what: String, maximum: Int = 1 << 40) throws(UntrustedReply) -> Int {
        if let message = errorMessage { throw UntrustedReply("\(what): \(message)") }
        guard case .integer(let value) = self else { throw UntrustedReply("\(what): not a count (\(kind))") }
        guard value >= 0, value <= maximum else { throw UntrustedReply("\(what): \(value) is out of range") }
        return value
    }

    /// A string or nil (GET, HGET, LINDEX).
    func optionalText(_ what: String) throws(UntrustedReply) -> String? {
        switch self {
        case .null: return nil
        case .bulkString, .simpleString: return string
        case .error(let message): throw UntrustedReply("\(what): \(message)")
        default: throw UntrustedReply("\(what): not a string (\(kind))")
        }
    }

    /// The elements of an array reply (SMEMBERS, ZRANGE, HMGET, HVALS).
    func elements(_ what: String) throws(UntrustedReply) -> [RESPValue] {
        switch self {
        case .array(let elements): return elements
        case .error(let message): throw UntrustedReply("\(what): \(message)")
        default: throw UntrustedReply("\(what): not a list (\(kind))")
        }
    }

    var kind: String {
        switch self {
        case .simpleString: "a status"
        case .error: "an error"
        case .integer: "an integer"
        case .bulkString: "a string"
        case .null: "nil"
        case .array: "an array"
        }
    }
}

/// Times read from Redis, checked against the tick's clock.
enum PlausibleTime {
    /// The oldest a waiting job's enqueue time may be: Redash's jobs do not wait a week.
    static let maximumAge: Duration = .seconds(7 * 86_400)
    /// How far ahead of our clock a writer's clock may be.
    static let maximumSkew: Duration = .seconds(300)

    /// Seconds since the epoch from a decimal string (`time.time()` as Redash writes it).
    static func epoch(_ text: String, _ what: String, now: Instant, maximumAge: Duration? = maximumAge) throws(UntrustedReply) -> Instant {
        guard let seconds = Double(text.trimmingWhitespace) else { throw UntrustedReply("\(what): \(printable(text)) is not a time") }
        return try check(Instant(secondsSinceEpoch: seconds), what, now: now, maximumAge: maximumAge)
    }

    /// An ISO 8601 timestamp (RQ's `enqueued_at`, `last_heartbeat`).
    static func iso(_ text: String, _ what: String, now: Instant, maximumAge: Duration? = maximumAge) throws(UntrustedReply) -> Instant {
        guard let instant = CivilTime.parseTimestamp(text) else { throw UntrustedReply("\(what): \(printable(text)) is not a timestamp") }
        return try check(instant, what, now: now, maximumAge: maximumAge)
    }

    /// A time from another machine: a real date, no older than `maximumAge` (when given), no
    /// later than `maximumSkew` ahead of now.
    static func check(_ instant: Instant, _ what: String, now: Instant, maximumAge: Duration? = maximumAge) throws(UntrustedReply) -> Instant {
        guard instant.isPlausible, maximumAge.map({ now - instant <= $0 }) ?? true, instant - now <= maximumSkew else {
            throw UntrustedReply("\(what): \(instant.isPlausible ? instant.description : "\(instant.secondsSinceEpoch)") is implausible (now \(now))")
        }
        return instant
    }

    /// At most 40 characters of a value, for messages.
    static func printable(_ text: String) -> String {
        let shown = text.prefix(40)
        return "\"\(shown)\(text.count > 40 ? "…" : "")\""
    }
}
