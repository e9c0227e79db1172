import AutoscalerCore
import Logging
import QueueProbes
import RedisClient
import Synchronization

/// Redis replies, any at all, through the RQ and Celery probes (`QueueProber`, with layout
/// detection, Redash's scheduler keys and the queue registry), one to three probes in a row.
///
/// The promises, on every probe: each queue has a reading; a reading is `.observed` with
/// non-negative counts and a non-negative age, or `.unavailable`; a queue one of whose replies is
/// an error (anywhere in it) is unavailable, never read as a number; every time in the report is
/// a number.
public enum ProbeRepliesTarget: FuzzTarget {
    public static let name = "probe-replies"

    public static func check(_ input: [UInt8]) async -> [String] {
        let scenario = ProbeScenario(bytes: input)
        if RESPWire.announcesHugeArray(scenario.replies) { return [] }
        let (reports, exchanges) = await run(scenario)
        var problems: [String] = []
        for (tick, report) in reports.enumerated() {
            let now = scenario.now(tick: tick)
            let inputs = QueueInputs(scenario: scenario, system: report.system, exchanges: exchanges.filter { $0.tick == tick })
            for queue in scenario.queues {
                let at = "probe \(tick + 1), \(queue)"
                switch report.readings[queue] {
                case nil:
                    problems.append("\(at): no reading")
                case .unavailable:
                    continue
                case .observed(let observation):
                    problems += observationProblems(observation, now: now).map { "\(at): \($0)" }
                    if let error = inputs.firstError(for: queue) {
                        problems.append("\(at): observed (\(observation)) although its reply to \(error.command) was the error \(error.message)")
                    }
                }
            }
            problems += timeProblems(report).map { "probe \(tick + 1): \($0)" }
            problems += celeryProblems(report).map { "probe \(tick + 1): \($0)" }
        }
        return problems
    }

    /// One round trip the prober made.
    public struct Exchange: Sendable {
        public var tick: Int
        /// Sent to Redash's own Redis (`redis.redashUrl`).
        public var isRedash: Bool
        public var commands: [[String]]
        /// `nil` when the stream ended first (the connection closed).
        public var replies: [RESPValue]?
    }

    /// Runs the scenario's probes on one prober whose Redis answers from the scenario's stream.
    public static func run(_ scenario: ProbeScenario) async -> (reports: [ProbeReport], exchanges: [Exchange]) {
        let stream = ReplyStream(RESPWire.decode(scenario.replies).replies)
        var redashPipeline: RedisPipeline?
        if scenario.hasRedashRedis { redashPipeline = { try stream.answer($0, isRedash: true) } }
        // The stream answers at once, and the round's clock jumps over its waits: a Celery round
        // polls as a live one would, until its replies (or its timeout) are used up.
        let prober = QueueProber(
            pipeline: { try stream.answer($0, isRedash: false) }, redashPipeline: redashPipeline, layout: scenario.layout,
            clock: JumpingClock(), roundIDs: SequentialIDs().next, logger: quietLogger)
        var reports: [ProbeReport] = []
        for tick in 0..<scenario.ticks {
            stream.tick = tick
            reports.append(await prober.probe(
                queues: scenario.queues, scheduler: scenario.schedulerRequest, activity: scenario.celeryRequest, now: scenario.now(tick: tick)))
        }
        return (reports, stream.exchanges)
    }

    /// Probes a real Redis (and Redash's, when given) as `scenario` says, recording its answers:
    /// the scenario with them as its stream, and the reports the probes made. Replaying the
    /// scenario must make the same reports.
    public static func record(
        _ scenario: ProbeScenario, client: RedisClient, redashClient: RedisClient? = nil
    ) async -> (scenario: ProbeScenario, reports: [ProbeReport]) {
        let recording = Mutex<[UInt8]>([])
        let recorded = { @Sendable (replies: [RESPValue]) -> [RESPValue] in
            recording.withLock { $0 += RESPWire.encode(replies) }
            return replies
        }
        var redashPipeline: RedisPipeline?
        if let redashClient { redashPipeline = { recorded(try await redashClient.pipeline($0)) } }
        let prober = QueueProber(
            pipeline: { recorded(try await client.pipeline($0)) }, redashPipeline: redashPipeline, layout: scenario.layout,
            roundIDs: SequentialIDs().next, logger: quietLogger)
        var reports: [ProbeReport] = []
        for tick in 0..<scenario.ticks {
            reports.append(await prober.probe(
                queues: scenario.queues, scheduler: scenario.schedulerRequest, activity: scenario.celeryRequest, now: scenario.now(tick: tick)))
        }
        var made = scenario
        made.hasRedashRedis = redashClient != nil
        made.replies = recording.withLock { $0 }
        return (made, reports)
    }

    /// Celery round ids a replay makes again in the same order as the recording.
    final class SequentialIDs: Sendable {
        private let count = Mutex(0)
        @Sendable func next() -> String {
            count.withLock { value in
                value += 1
                return "fuzz-\(value)"
            }
        }
    }

    static let quietLogger = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

    static func observationProblems(_ observation: QueueObservation, now: Instant) -> [String] {
        var problems: [String] = []
        if observation.pending < 0 { problems.append("pending \(observation.pending)") }
        if let running = observation.running, running < 0 { problems.append("running \(running)") }
        if let age = observation.oldestAge, age < .zero || !age.inSeconds.isFinite { problems.append("oldest age \(age)") }
        if let workers = observation.workers, workers.busy < 0 || workers.idle < 0 { problems.append("workers \(workers)") }
        if observation.observedAt != now { problems.append("observed at \(observation.observedAt), not at the probe's \(now)") }
        return problems
    }

    /// A Celery round's promises: an incomplete round gives no running count and maps no busy
    /// worker; a complete one gives each queue exactly the tasks the replies list on it.
    static func celeryProblems(_ report: ProbeReport) -> [String] {
        var problems: [String] = []
        // Whatever the replies: a queue's servable work is never more than its pending work,
        // and no message is stranded or held without a complete round to say so.
        for (queue, reading) in report.readings {
            guard case .observed(let observation) = reading, let waiting = observation.waiting else { continue }
            if observation.servable > observation.pending || observation.servable < 0 {
                problems.append("\(queue): servable \(observation.servable) of \(observation.pending) pending")
            }
            if waiting.listed + waiting.prefetched.count != observation.pending {
                problems.append("\(queue): \(waiting.listed) listed + \(waiting.prefetched.count) prefetched is not \(observation.pending) pending")
            }
            if report.celery?.isComplete != true, waiting.prefetched.contains(where: { $0.holder != .unknown }) {
                problems.append("\(queue): a prefetched message's holder known without a complete round")
            }
        }
        guard let celery = report.celery else { return problems }
        for (queue, reading) in report.readings {
            guard case .observed(let observation) = reading else { continue }
            if !celery.isComplete, observation.running != nil {
                problems.append("\(queue): running \(observation.running!) from an incomplete Celery round (\(celery.problem ?? "?"))")
            }
            if celery.isComplete, observation.running != celery.nodes.flatMap(\.active).filter({ $0.queue == queue }).count {
                problems.append("\(queue): running \(String(describing: observation.running)) is not the replies' count")
            }
        }
        if !celery.isComplete, report.busyAwareWorkers(on: Array(report.readings.keys), runningTasks: 0) != nil {
            problems.append("busy workers from an incomplete Celery round")
        }
        if let reached = celery.reached, reached < 0 { problems.append("reached \(reached) nodes") }
        for task in celery.nodes.flatMap(\.active) {
            if let started = task.startedAt, !started.isPlausible { problems.append("task \(task.id) started at \(started.secondsSinceEpoch)") }
        }
        return problems
    }

    static func timeProblems(_ report: ProbeReport) -> [String] {
        var instants: [(String, Instant)] = []
        if let health = report.scheduler {
            instants += [("redash:status last_refresh_at", health.lastRefreshAt), ("redash:status started_at", health.lastRefreshStartedAt)]
                .compactMap { name, instant in instant.map { (name, $0) } }
        }
        if let state = report.redashScheduler {
            instants += state.executions.map { ("sq:executed_at \($0.key)", $0.value) }
            for (key, lock) in state.locks {
                if case .blocked(let until, _) = lock { instants.append(("lock \(key) expiry", until)) }
            }
        }
        for (queue, records) in report.workers {
            instants += records.compactMap { record in record.lastHeartbeat.map { ("\(queue) worker \(record.name) heartbeat", $0) } }
        }
        return instants.filter { !$0.1.secondsSinceEpoch.isFinite }.map { "\($0.0) is \($0.1.secondsSinceEpoch)" }
    }
}

/// The scenario's replies, handed out one round trip at a time, with a transcript.
///
/// The prober awaits each round trip before the next, so the lock is never contended; it is
/// there because the pipeline functions must be `Sendable`.
final class ReplyStream: Sendable {
    private struct State {
        var replies: [RESPValue]
        var next = 0
        var tick = 0
        var exchanges: [ProbeRepliesTarget.Exchange] = []
    }

    private let state: Mutex<State>

    init(_ replies: [RESPValue]) {
        state = Mutex(State(replies: replies))
    }

    var tick: Int {
        get { state.withLock { $0.tick } }
        set { state.withLock { $0.tick = newValue } }
    }

    var exchanges: [ProbeRepliesTarget.Exchange] { state.withLock { $0.exchanges } }

    /// One reply per command, or the connection closes when the stream has too few.
    func answer(_ commands: [[String]], isRedash: Bool) throws -> [RESPValue] {
        try state.withLock { state throws(RedisError) -> [RESPValue] in
            guard state.replies.count - state.next >= commands.count else {
                state.next = state.replies.count
                state.exchanges.append(.init(tick: state.tick, isRedash: isRedash, commands: commands, replies: nil))
                throw RedisError(.connectionClosed, server: "fuzz:6379", "the connection closed with 1 request(s) unanswered")
            }
            let replies = Array(state.replies[state.next..<(state.next + commands.count)])
            state.next += commands.count
            state.exchanges.append(.init(tick: state.tick, isRedash: isRedash, commands: commands, replies: replies))
            return replies
        }
    }
}

/// Which replies of one probe each queue's reading rests on, read from the commands the probe
/// sent (so that the check does not repeat the probe's own bookkeeping):
/// - RQ: `LLEN`/`LINDEX rq:queue:<q>`, every command on `rq:wip:<q>` and `rq:workers:<q>`, the
///   `HGET rq:job:<id> enqueued_at` of the queue's oldest job (when no other queue has the same
///   one), and the `HMGET` of each worker `rq:workers:<q>` lists;
/// - Celery: `LLEN`/`LINDEX` of the queue's lists in the round trip that sizes `unacked`, and
///   `HLEN unacked` and `HGETALL unacked`, which every queue's count includes (a garbled
///   `unacked_index` only loses fetch times);
/// - layout detection (`SCARD rq:queues`, `SCARD rq:workers`, the kombu bindings), for every
///   queue: a reply that is an error there may have hidden the other layout's keys.
struct QueueInputs {
    struct Failure {
        var command: String
        var message: String
    }

    private var failures: [String: Failure] = [:]

    init(scenario: ProbeScenario, system: QueueSystem?, exchanges: [ProbeRepliesTarget.Exchange]) {
        let queues = scenario.queues
        var pairs: [(command: [String], reply: RESPValue)] = []
        for exchange in exchanges where !exchange.isRedash {
            guard let replies = exchange.replies else { continue }
            for (index, (command, reply)) in zip(exchange.commands, replies).enumerated() {
                // A queue's worker count comes with its SRANDMEMBER; a lone `SCARD
                // rq:workers:periodic` is the scheduler health's count of periodic workers, which
                // no queue's reading rests on, even a queue named `periodic`.
                let next = index + 1 < exchange.commands.count ? exchange.commands[index + 1] : []
                if command.count == 2, command[0] == "SCARD", command[1].hasPrefix("rq:workers:"), next.first != "SRANDMEMBER" || next.dropFirst().first != command[1] {
                    continue
                }
                pairs.append((command, reply))
            }
        }
        func note(_ queue: String, _ command: [String], _ reply: RESPValue) {
            guard failures[queue] == nil, let message = Self.firstError(in: reply) else { return }
            failures[queue] = Failure(command: command.joined(separator: " "), message: message)
        }
        for exchange in exchanges where !exchange.isRedash {
            guard exchange.commands.count >= 2, exchange.commands[0] == ["SCARD", "rq:queues"], exchange.commands[1] == ["SCARD", "rq:workers"],
                  let replies = exchange.replies else { continue }
            for (command, reply) in zip(exchange.commands, replies) { for queue in queues { note(queue, command, reply) } }
        }
        switch system {
        case .rq:
            var oldest: [String: String] = [:]
            var workerKeys: [String: Set<String>] = [:]
            for (command, reply) in pairs where command.count >= 2 {
                for queue in queues {
                    let key = command[1]
                    let isList = key == "rq:queue:\(queue)" && (command[0] == "LLEN" || command[0] == "LINDEX")
                    guard isList || key == "rq:wip:\(queue)" || key == "rq:workers:\(queue)" else { continue }
                    note(queue, command, reply)
                    if command[0] == "LINDEX", let id = reply.string { oldest[queue] = id }
                    if command[0] == "SRANDMEMBER", let members = reply.array {
                        workerKeys[queue, default: []].formUnion(members.compactMap(\.string))
                    }
                }
            }
            for (command, reply) in pairs where command.count >= 3 {
                if command[0] == "HGET", command[2] == "enqueued_at", command[1].hasPrefix("rq:job:") {
                    let id = String(command[1].dropFirst("rq:job:".count))
                    let owners = queues.filter { oldest[$0] == id }
                    if owners.count == 1 { note(owners[0], command, reply) }
                } else if command[0] == "HMGET", command[2] == "state" {
                    for queue in queues where workerKeys[queue]?.contains(command[1]) == true { note(queue, command, reply) }
                }
            }
        case .celery, nil:
            for exchange in exchanges where !exchange.isRedash {
                guard let replies = exchange.replies else { continue }
                // The queue's lists, in the round trip that sizes `unacked` (`HLEN`; and the
                // `HGETALL unacked` of the next one), which every queue's count includes.
                if let unacked = exchange.commands.firstIndex(of: ["HLEN", "unacked"]) {
                    for (command, reply) in zip(exchange.commands[..<unacked], replies) where command.count >= 2 {
                        for queue in queues where CeleryKeys.lists(of: queue).contains(command[1]) { note(queue, command, reply) }
                    }
                    for queue in queues { note(queue, exchange.commands[unacked], replies[unacked]) }
                }
                if let entries = exchange.commands.firstIndex(of: ["HGETALL", "unacked"]) {
                    for queue in queues { note(queue, exchange.commands[entries], replies[entries]) }
                }
            }
        }
    }

    func firstError(for queue: String) -> Failure? { failures[queue] }

    static func firstError(in reply: RESPValue) -> String? {
        switch reply {
        case .error(let message): return message
        case .array(let elements): return elements.lazy.compactMap(firstError(in:)).first
        default: return nil
        }
    }
}

/// kombu's list names for a Celery queue: the queue's own and its three priority lists.
enum CeleryKeys {
    static func lists(of queue: String) -> [String] {
        ["", "\u{06}\u{16}3", "\u{06}\u{16}6", "\u{06}\u{16}9"].map { queue + $0 }
    }
}
