import AutoscalerCore
import Foundation
import IntegrationSupport
import Logging
import QueueProbes
import RedisClient

/// Runs the fixture script with the real rq/celery libraries; returns its last JSON line.
@discardableResult
func fixture(_ arguments: [String], python: String = Repository.python) async throws -> [String: Any] {
    let script = Repository.root.appendingPathComponent("Tests/QueueProbesTests/Python/redash_queues.py").path
    let output = try await ManagedProcess.run(python, [script] + arguments, environment: ["PYTHONPATH": scriptDirectory])
    guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
          let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
        throw HarnessError("no JSON from the fixture script:\n\(output)")
    }
    return object
}

let scriptDirectory = Repository.root.appendingPathComponent("Tests/QueueProbesTests/Python").path

/// Starts a long-running fixture command (an rq worker, a misbehaving server).
func backgroundFixture(_ arguments: [String], python: String = Repository.python) throws -> ManagedProcess {
    let script = Repository.root.appendingPathComponent("Tests/QueueProbesTests/Python/redash_queues.py").path
    return try ManagedProcess(python, ["-u", script] + arguments, environment: ["PYTHONPATH": scriptDirectory])
}

let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

func makeProber(_ url: String, layout: QueueLayout = .auto, timeouts: RedisTimeouts = RedisTimeouts()) throws -> (RedisClient, QueueProber) {
    let client = RedisClient(endpoint: try RedisEndpoint(url: url), timeouts: timeouts, logger: quietLogger)
    return (client, QueueProber(client: client, layout: layout, logger: quietLogger))
}

extension ProbeReport {
    func observation(_ queue: String) -> QueueObservation? {
        if case .observed(let observation) = readings[queue] { return observation }
        return nil
    }

    func failure(_ queue: String) -> String? {
        if case .unavailable(let reason) = readings[queue] { return reason }
        return nil
    }
}

func doubles(_ value: Any?) -> [Double] { (value as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue } ?? [] }
