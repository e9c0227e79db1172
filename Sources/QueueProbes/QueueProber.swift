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
public actor QueueProber {
    let client: RedisClient
    let configuredLayout: QueueLayout
    let logger: Logger
    let now: @Sendable () -> Instant
    private var detected: (layout: QueueLayout, evidence: String)?

    /// - Parameters:
    ///   - layout: `.auto` detects from the keys on the first probe that finds any.
    ///   - now: the wall clock (injectable for tests).
    public init(
        client: RedisClient, layout: QueueLayout, logger: Logger,
        now: @escaping @Sendable () -> Instant = WallClock.now
    ) {
        self.client = client
        self.configuredLayout = layout
        self.logger = logger
        self.now = now
    }

    /// Reads every queue in `queues`.
    public func probe(queues: [String]) async -> ProbeReport {
        let startedAt = now()
        var report = ProbeReport(
            layout: configuredLayout, layoutSource: "configured", readings: [:], workers: [:],
            scheduler: nil, roundTrips: 0, commands: 0, observedAt: startedAt)
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
                    return report
                }
                layout = found
                report.layoutSource = "detected from \(detected?.evidence ?? "")"
            }
            report.layout = layout
            switch layout {
            case .rq: try await RQProbe.probe(queues: queues, client: client, now: startedAt, report: &report)
            case .celery, .auto: try await CeleryProbe.probe(queues: queues, client: client, now: startedAt, report: &report)
            }
        } catch {
            let reason = (error as? RedisError)?.description ?? "\(error)"
            for queue in queues { report.readings[queue] = .unavailable(reason: reason) }
        }
        return report
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
