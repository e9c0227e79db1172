import AutoscalerCore
import Controller
import Foundation
@testable import PolicyFile
import Testing
import TestSupport
import IntegrationSupport

/// Every key of the policy either takes effect on reload or the reload is refused, loudly, naming
/// it and saying a restart is needed (and `/status` shows the change waiting): never "reloaded"
/// while a key is ignored.
@Suite("Reload is honest for every key", .testThreads)
struct ReloadHonestyTests {
    static let base = """
        cluster: redash
        region: ap-northeast-1
        interval: 5s
        mode: active
        redis:
          url: redis://127.0.0.1:1/0
          layout: rq
          redashUrl: redis://127.0.0.1:2/0
        database: postgresql://redash@127.0.0.1:1/redash
        ecs: {maxCallsPerSecond: 10, burst: 40, serviceRefresh: 30s}
        celery: {inspect: false, replyTimeout: 1s, idlePeriod: 1m, visibilityTimeout: 1h}
        defaults:
          workersPerTask: 2
        services:
          adhoc:
            queues: [queries]
            minTasks: 1
            maxTasks: 6
        """

    /// One change per key: the YAML to put in place of the base's line (or to add), and whether
    /// it needs a restart. A key of the schema with no entry here fails the test.
    static let changes: [String: (edit: @Sendable (String) -> String, restart: Bool)] = {
        func replace(_ old: String, _ new: String) -> @Sendable (String) -> String { { $0.replacingOccurrences(of: old, with: new) } }
        func add(_ line: String) -> @Sendable (String) -> String { { $0 + "\n" + line } }
        func service(_ line: String) -> @Sendable (String) -> String { { $0 + "\n    " + line } }
        func yaml(_ key: String) -> String {
            switch key {
            case "workersPerTask": "workersPerTask: 3"
            case "target.backlogPerWorker": "target: {backlogPerWorker: 2}"
            case "target.maxWait": "target: {maxWait: 45s}"
            case "target.drainTime": "target: {drainTime: 5m}"
            case "protectBusyTasks": "protectBusyTasks: false"
            case "taskProtection": "taskProtection: 2h"
            case "scaleUp.stabilizationWindow": "scaleUp: {stabilizationWindow: 10s}"
            case "scaleUp.maxStep": "scaleUp: {maxStep: 3}"
            case "scaleUp.cooldown": "scaleUp: {cooldown: 20s}"
            case "scaleDown.stabilizationWindow": "scaleDown: {stabilizationWindow: 5m}"
            case "scaleDown.maxStep": "scaleDown: {maxStep: 2}"
            case "scaleDown.cooldown": "scaleDown: {cooldown: 1m}"
            case "staleAfter": "staleAfter: 40s"
            case "mode": "mode: dry-run"
            case "externalChangeHold": "externalChangeHold: 10m"
            default: "unknown: \(key)"
            }
        }
        var table: [String: (@Sendable (String) -> String, Bool)] = [
            "cluster": (replace("cluster: redash", "cluster: redash-staging"), true),
            "region": (replace("region: ap-northeast-1", "region: eu-west-1"), true),
            "interval": (replace("interval: 5s", "interval: 7s"), false),
            "reactInterval": (replace("interval: 5s", "interval: 5s\nreactInterval: 1s"), false),
            "mode": (replace("mode: active", "mode: dry-run"), false),
            "killSwitch": (add("killSwitch: /run/redash-autoscaler/mode"), false),
            "redis.url": (replace("url: redis://127.0.0.1:1/0", "url: redis://127.0.0.1:3/0"), true),
            "redis.layout": (replace("layout: rq", "layout: celery"), true),
            "redis.redashUrl": (replace("redashUrl: redis://127.0.0.1:2/0", "redashUrl: redis://127.0.0.1:4/0"), true),
            "database": (replace("redash@127.0.0.1:1/redash", "redash@127.0.0.1:2/redash"), true),
            "ecs.maxCallsPerSecond": (replace("maxCallsPerSecond: 10", "maxCallsPerSecond: 5"), false),
            "ecs.burst": (replace("burst: 40", "burst: 20"), false),
            "ecs.serviceRefresh": (replace("serviceRefresh: 30s", "serviceRefresh: 10s"), false),
            "ecs.taskStartTimeout": (replace("serviceRefresh: 30s}", "serviceRefresh: 30s, taskStartTimeout: 3m}"), false),
            "celery.inspect": (replace("inspect: false", "inspect: true"), false),
            "celery.replyTimeout": (replace("replyTimeout: 1s", "replyTimeout: 2s"), false),
            "celery.idlePeriod": (replace("idlePeriod: 1m", "idlePeriod: 2m"), false),
            "celery.visibilityTimeout": (replace("visibilityTimeout: 1h", "visibilityTimeout: 2h"), false),
            "services.queues": (replace("queues: [queries]", "queries: x"), false),
            "services.minTasks": (replace("minTasks: 1", "minTasks: 2"), false),
            "services.maxTasks": (replace("maxTasks: 6", "maxTasks: 5"), false),
            "services.fallbackTasks": (service("fallbackTasks: 2"), false),
            "services.schedules": (service("schedules: [{name: office, start: \"09:00\", end: \"18:00\", minTasks: 3}]"), false),
            // These two only let the policy's checks accept more; the policy is the same.
            "services.allowSharedQueues": (service("allowSharedQueues: true"), false),
            "services.allowMultipleSchedulers": (service("allowMultipleSchedulers: true"), false),
        ]
        table["services.queues"] = (replace("queues: [queries]", "queues: [queries, bi_queries]"), false)
        for setting in ServiceSetting.all {
            // defaults already gives workersPerTask: change it there, add the others.
            let line = yaml(setting.key)
            table["defaults.\(setting.key)"] = (
                setting.key == "workersPerTask" ? replace("  workersPerTask: 2", "  workersPerTask: 3") : replace("  workersPerTask: 2", "  workersPerTask: 2\n  " + line),
                false)
            table["services.\(setting.key)"] = (service(line), false)
        }
        return table.mapValues { (edit: $0.0, restart: $0.1) }
    }()

    /// Keys that only let the policy's own checks accept more (the policy built is the same).
    static let checksOnly: Set<String> = ["services.allowSharedQueues", "services.allowMultipleSchedulers"]

    /// Every key path the schema reads.
    static var schemaKeys: [String] {
        var keys: [String] = []
        for key in PolicySchema.topLevelKeys {
            switch key {
            case "redis": keys += ["redis.url", "redis.layout", "redis.redashUrl"]
            case "ecs": keys += PolicySchema.ecsKeys.map { "ecs.\($0)" }
            case "celery": keys += PolicySchema.celeryKeys.map { "celery.\($0)" }
            case "defaults": keys += ServiceSetting.all.map { "defaults.\($0.key)" }
            case "services": keys += (PolicySchema.serviceOwnKeys + ServiceSetting.all.map(\.key)).map { "services.\($0)" }
            default: keys.append(key)
            }
        }
        return keys
    }

    @Test("each key: applied on reload, or the reload refused for a restart, naming it, with the change waiting in /status")
    func everyKey() async throws {
        let missing = Self.schemaKeys.filter { Self.changes[$0] == nil }
        #expect(missing.isEmpty, "keys without a reload case: \(missing)")
        let directory = NSTemporaryDirectory() + "reload-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/policies.yaml"
        let basePolicy = try #require(PolicyLoader.parse(Self.base, file: path, environment: [:]).policy)
        for key in Self.schemaKeys {
            guard let change = Self.changes[key] else { continue }
            let text = change.edit(Self.base)
            let loaded = PolicyLoader.parse(text, file: path, environment: [:])
            let changed = try #require(loaded.policy, "\(key): the changed policy is invalid: \(loaded.diagnostics)")
            let checksOnly = Self.checksOnly.contains(key)
            #expect(checksOnly || changed != basePolicy, "\(key): the change changes nothing")
            try Self.base.write(toFile: path, atomically: true, encoding: .utf8)
            let logs = CollectedLogs(), metrics = MetricsRegistry()
            let reconciler = Reconciler(
                policy: basePolicy, ports: .init(queues: FakeQueues(), cluster: FakeCluster(["adhoc": 1]), applier: PlanApplier.dryRun),
                metrics: metrics, controllerName: "test", logger: logs.logger())
            let loop = ControllerLoop(
                reconciler: reconciler, policySource: FileText(path: path), initialText: Self.base, environment: [:], metrics: metrics, logger: logs.logger())
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            await loop.reload(reason: "changed", force: false)
            let now = await reconciler.policy
            if change.restart {
                #expect(now == basePolicy, "\(key): applied although it needs a restart")
                let refusal = logs.all.first { $0.contains("new policy not applied") && $0.contains("restart") }
                let name = key.split(separator: ".").first.map(String.init) ?? key
                #expect(refusal?.contains(name) == true, "\(key): \(logs.all)")
                #expect(loop.state.pending?.changes.contains { $0.hasPrefix(name) } == true, "\(key): not waiting in /status")
                #expect(!logs.all.contains { $0.contains("policy reloaded") }, "\(key): said reloaded")
            } else {
                #expect(now == changed, "\(key): not applied on reload")
                #expect(checksOnly || logs.all.contains { $0.contains("policy reloaded") }, "\(key): \(logs.all)")
                #expect(loop.state.pending == nil)
            }
        }
    }
}
