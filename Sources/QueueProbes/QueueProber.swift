import AutoscalerCore
import Foundation
import Logging
import RedisClient
import SystemClock

/// Reads the backlog of Redash's queues from Redis: one pipelined round trip for every queue,
/// plus at most one more for the job and worker hashes it needs. Never KEYS, never SCAN.
///
/// A failure is never turned into a zero: a queue that cannot be read gets
/// `QueueReading.unavailable` with the reason, so the scaling rule holds instead of scaling in.
public actor QueueProber: QueueSource {
    let client: RedisClient
    let configuredLayout: QueueLayout
    let logger: Logger
    private var detected: (layout: QueueLayout, evidence: String)?
    /// The scheduler state last read, reused until `schedulerStateRefresh` has passed.
    private var schedulerState: RedashSchedulerState?

    /// Redash's scheduler runs every 30 s: its state (`sq:executed_at`, the pause keys) changes
    /// no faster, and on a large Redash it is thousands of fields, so it is read that often.
    public static let schedulerStateRefresh: Duration = .seconds(30)

    /// - Parameters:
    ///   - layout: `.auto` detects from the keys on the first probe that finds any.
    public init(client: RedisClient, layout: QueueLayout, logger: Logger) {
        self.client = client
        self.configuredLayout = layout
        self.logger = logger
    }

    /// Reads every queue in `queues` now (commands and tests).
    public func probe(queues: [String]) async -> ProbeReport {
        await probe(queues: queues, dataSources: nil, now: WallClock.now())
    }

    /// Reads every queue in `queues`, stamped `now` (the tick's instant). With `dataSources`,
    /// also Redash's scheduler state for them, in the same first round trip, at most every
    /// `schedulerStateRefresh` (and at once when the data sources change).
    public func probe(queues: [String], dataSources: [Int]?, now: Instant) async -> ProbeReport {
        var report = ProbeReport(layout: configuredLayout, observedAt: now)
        var schedulerCommands: [[String]] = []
        if let dataSources {
            if let state = schedulerState, state.dataSources == dataSources, let readAt = state.readAt,
               now - readAt < Self.schedulerStateRefresh, now >= readAt {
                report.redashScheduler = state
            } else {
                schedulerCommands = RedashSchedulerStateReader.commands(dataSources: dataSources)
            }
        }
        do {
            let layout: QueueLayout
            if configuredLayout != .auto {
                layout = configuredLayout
            } else if let detected {
                layout = detected.layout
                report.layoutSource = "detected from \(detected.evidence)"
            } else {
                guard let found = try await detect(queues: queues, report: &report) else {
                    let reason = "cannot tell Celery (Redash v7–v8) from RQ (v10+) keys yet; set redis.layout"
                    for queue in queues { report.readings[queue] = .unavailable(reason: reason) }
                    report.layoutSource = "undetected"
                    if !schedulerCommands.isEmpty { try await readSchedulerState(schedulerCommands, dataSources: dataSources ?? [], now: now, report: &report) }
                    return report
                }
                layout = found
                report.layoutSource = "detected from \(detected?.evidence ?? "")"
            }
            report.layout = layout
            let extra: [RESPValue]
            switch layout {
            case .rq: extra = try await RQProbe.probe(queues: queues, client: client, now: now, report: &report, appending: schedulerCommands)
            case .celery, .auto: extra = try await CeleryProbe.probe(queues: queues, client: client, now: now, report: &report, appending: schedulerCommands)
            }
            if !schedulerCommands.isEmpty { interpretSchedulerState(extra, dataSources: dataSources ?? [], now: now, report: &report) }
        } catch {
            let reason = (error as? RedisError)?.description ?? "\(error)"
            for queue in queues { report.readings[queue] = .unavailable(reason: reason) }
            if !schedulerCommands.isEmpty {
                report.redashSchedulerProblem = "sq:executed_at: \(reason)"
                report.redashScheduler = schedulerState
            }
        }
        return report
    }

    private func readSchedulerState(_ commands: [[String]], dataSources: [Int], now: Instant, report: inout ProbeReport) async throws {
        let replies = try await client.pipeline(commands)
        report.roundTrips += 1
        report.commands += commands.count
        interpretSchedulerState(replies, dataSources: dataSources, now: now, report: &report)
    }

    private func interpretSchedulerState(_ replies: [RESPValue], dataSources: [Int], now: Instant, report: inout ProbeReport) {
        switch RedashSchedulerStateReader.interpret(replies, dataSources: dataSources, now: now) {
        case .success(let state):
            schedulerState = state
            report.redashScheduler = state
        case .failure(let problem):
            // The last good state is better than none: Redash's rule would use it too.
            report.redashSchedulerProblem = problem.message
            report.redashScheduler = schedulerState
        }
    }

    /// RQ registers queues and workers in sets; kombu keeps bindings per exchange.
    private func detect(queues: [String], report: inout ProbeReport) async throws -> QueueLayout? {
        var commands: [[String]] = [["SCARD", "rq:queues"], ["SCARD", "rq:workers"], ["EXISTS", "_kombu.binding.celery"]]
        commands += queues.map { ["EXISTS", "_kombu.binding.\($0)"] }
        let replies = try await client.pipeline(commands)
        report.roundTrips += 1
        report.commands += commands.count
        let rqQueues = replies[0].integer ?? 0, rqWorkers = replies[1].integer ?? 0
        let kombu = replies.dropFirst(2).reduce(0) { $0 + ($1.integer ?? 0) }
        let found: (QueueLayout, String)?
        if rqQueues + rqWorkers > 0 {
            found = (.rq, "\(rqQueues) RQ queue(s), \(rqWorkers) RQ worker(s) registered")
        } else if kombu > 0 {
            found = (.celery, "\(kombu) kombu binding(s)")
        } else {
            found = nil
        }
        guard let found else { return nil }
        detected = found
        logger.info("queue layout detected", metadata: ["layout": "\(found.0.rawValue)", "evidence": "\(found.1)"])
        return found.0
    }
}
