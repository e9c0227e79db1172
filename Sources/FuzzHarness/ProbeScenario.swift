import AutoscalerCore
import RedisClient

/// One fuzz input of the probe target: how the prober is set up, and the byte stream its Redis
/// answers with. The first line says the setup, as `key=value` words (any word missing or
/// unreadable takes its default); the rest is RESP, read by hiredis, from which each round trip
/// takes one reply per command it sent until the stream ends, after which Redis is gone:
///
///     layout=rq queues=2 scheduler=1 redash=0 locks=1 ticks=2 now=1764000000.25
///     *2\r\n...
public struct ProbeScenario: Sendable, Equatable {
    /// `redis.layout`; `auto` detects.
    public var layout: QueueLayout = .auto
    /// How many of `queueNames` the policy consumes (1–4).
    public var queueCount = 2
    /// Whether Redash's scheduler state is read too (the forecast is on).
    public var readsScheduler = false
    /// Whether Redash's own keys are on a second Redis (`redis.redashUrl`); its replies come
    /// from the same stream, in the order the prober asks.
    public var hasRedashRedis = false
    /// Whether each probe also runs a Celery remote-control round (`celery.inspect`), whose
    /// replies come from the same stream.
    public var inspectsCelery = false
    /// How many of `lockKeys` the scheduler state asks about (0–3).
    public var lockCount = 0
    /// Probes in a row (1–3), `tickInterval` apart, on one prober: its caches (the detected
    /// layout, the scheduler state, the queue registry) carry over.
    public var ticks = 1
    /// The first probe's instant: a replayed recording needs the clock it was made with.
    public var start = ProbeScenario.defaultStart
    /// The server's bytes.
    public var replies: [UInt8] = []

    public static let queueNames = ["queries", "scheduled_queries", "periodic", "schemas"]
    public static let lockKeys = ["query_hash_job:1:6fa4b8d0", "query_hash_job:2:0c5d7e11", "query_hash_job:1:93b2aa40"]
    public static let dataSources = [1, 2]
    public static let tickInterval: Duration = .seconds(5)
    /// 2025-06-15T15:06:40Z.
    public static let defaultStart = Instant(secondsSinceEpoch: 1_750_000_000)

    public init() {}

    /// Reads an input; never fails (a fuzzer's bytes are all inputs).
    public init(bytes: [UInt8]) {
        let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
        replies = newline < bytes.endIndex ? Array(bytes[(newline + 1)...]) : []
        for word in String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ") {
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            let number = Int(parts[1])
            switch parts[0] {
            case "layout": layout = QueueLayout(rawValue: parts[1]) ?? layout
            case "queues": queueCount = number.map { min(max($0, 1), Self.queueNames.count) } ?? queueCount
            case "scheduler": readsScheduler = parts[1] == "1"
            case "redash": hasRedashRedis = parts[1] == "1"
            case "celery": inspectsCelery = parts[1] == "1"
            case "locks": lockCount = number.map { min(max($0, 0), Self.lockKeys.count) } ?? lockCount
            case "ticks": ticks = number.map { min(max($0, 1), 3) } ?? ticks
            case "now":
                // Our own clock is trusted; only the server's bytes are fuzzed.
                if let seconds = Double(parts[1]), Instant(secondsSinceEpoch: seconds).isPlausible {
                    start = Instant(secondsSinceEpoch: seconds)
                }
            default: continue
            }
        }
    }

    /// The input's bytes: the setup line, then the stream.
    public var bytes: [UInt8] {
        let setup = "layout=\(layout.rawValue) queues=\(queueCount) scheduler=\(readsScheduler ? 1 : 0) redash=\(hasRedashRedis ? 1 : 0)"
            + " locks=\(lockCount) ticks=\(ticks) now=\(start.secondsSinceEpoch)\(inspectsCelery ? " celery=1" : "")\n"
        return Array(setup.utf8) + replies
    }

    public var queues: [String] { Array(Self.queueNames.prefix(queueCount)) }

    /// The Celery round each probe asks for, when the scenario inspects Celery: the longest reply
    /// timeout a policy allows, so that a seed recorded from real nodes on a loaded machine holds
    /// a round that completed, not one whose time ran out live (a replay, on its own clock, would
    /// then poll on past the recorded polls and read the next reply as an answer to LLEN).
    public var celeryRequest: CeleryInspectRequest? { inspectsCelery ? CeleryInspectRequest(replyTimeout: .seconds(5)) : nil }

    public var schedulerRequest: SchedulerStateRequest? {
        readsScheduler ? SchedulerStateRequest(dataSources: Self.dataSources, locks: Array(Self.lockKeys.prefix(lockCount))) : nil
    }

    /// The instant of probe `tick` (0-based).
    public func now(tick: Int) -> Instant { start + Self.tickInterval * tick }
}
