import AutoscalerCore
import Foundation
@testable import PolicyFile
import Testing
import IntegrationSupport

private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func parse(_ text: String, _ environment: [String: String] = [:]) -> PolicyLoadResult {
    PolicyLoader.parse(text, file: "test.yaml", environment: environment)
}

private let minimal = """
    cluster: redash
    redis: ${REDIS:-redis://127.0.0.1:6379/0}
    services:
      redash-adhoc-worker:
        queues: [queries]
        minTasks: 1
        maxTasks: 4

    """

@Suite("Policy loader", .testThreads)
struct PolicyLoaderTests {
    @Test("the shipped policies.yaml is valid, with no warnings, and manages the three services")
    func shippedPolicy() throws {
        let result = PolicyLoader.load(
            path: repositoryRoot.appendingPathComponent("policies.yaml").path, environment: [:])
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let policy = try #require(result.policy)
        #expect(policy.services.map(\.name) == ["redash-adhoc-worker", "redash-scheduled-worker", "redash-scheduler"])
        #expect(policy.service(named: "redash-scheduler")?.maxTasks == 1)
        #expect(policy.database == nil)
        #expect(policy.interval == .seconds(5))
    }

    @Test("a value given in defaults and inherited by three services is warned about once, where defaults says it; a service's own value at its own line")
    func inheritedWarningAtDefaults() throws {
        let text = """
            cluster: redash
            redis: redis://127.0.0.1:6379/0
            defaults:
              scaleDown: {stabilizationWindow: 30s, maxStep: 1, cooldown: 0s}
              target: {maxWait: 2s}
            services:
              a: {queues: [qa], minTasks: 1, maxTasks: 4}
              b: {queues: [qb], minTasks: 1, maxTasks: 4}
              c:
                queues: [qc]
                minTasks: 1
                maxTasks: 4
                scaleDown: {stabilizationWindow: 20s, maxStep: 1, cooldown: 0s}
            """
        let result = parse(text)
        let windows = result.diagnostics.filter { $0.path.hasSuffix("stabilizationWindow") }
        #expect(windows.map(\.path).sorted() == ["defaults.scaleDown.stabilizationWindow", "services.c.scaleDown.stabilizationWindow"], "\(windows)")
        #expect(windows.first { $0.path.hasPrefix("defaults") }?.line == 4)
        #expect(windows.first { $0.path.hasPrefix("services.c") }?.line == 13)
        let waits = result.diagnostics.filter { $0.path.hasSuffix("maxWait") }
        #expect(waits.count == 1 && waits.first?.path == "defaults.target.maxWait" && waits.first?.line == 5, "\(waits)")
    }

    @Test("environment values replace ${VAR}; ${VAR:-default} falls back; $$ is a dollar")
    func interpolation() throws {
        let text = """
            cluster: ${CLUSTER:-fallback}-$$x
            redis: ${REDIS_URL}
            database: ${REDASH_DATABASE_URL:-}
            services:
              redash-adhoc-worker:
                queues: [queries]
                minTasks: ${MIN_TASKS:-2}
                maxTasks: ${MAX_TASKS}

            """
        let policy = try #require(parse(text, ["REDIS_URL": "redis://:pw@cache:6379/2", "MAX_TASKS": "7"]).policy)
        #expect(policy.cluster == "fallback-$x")
        #expect(policy.redis.url.unredacted == "redis://:pw@cache:6379/2")
        #expect(policy.database == nil)
        #expect(policy.services[0].minTasks == 2)
        #expect(policy.services[0].maxTasks == 7)
    }

    @Test("a database URL from the environment is kept, and an empty one means Redis only")
    func optionalDatabase() throws {
        let text = minimal + "database: ${DB:-}\n"
        #expect(try #require(parse(text).policy).database == nil)
        let withDatabase = try #require(parse(text, ["DB": "postgresql://redash:pw@db/redash"]).policy)
        #expect(withDatabase.database?.url.unredacted == "postgresql://redash:pw@db/redash")
    }

    @Test("services inherit defaults field by field and override them")
    func defaultsMerge() throws {
        let text = """
            cluster: redash
            redis: redis://127.0.0.1:6379/0
            defaults:
              workersPerTask: 4
              target: {maxWait: 1m}
              scaleDown: {stabilizationWindow: 10m, maxStep: 3}
            services:
              a:
                queues: [queries]
                minTasks: 1
                maxTasks: 9
                scaleDown: {maxStep: 1}
              b:
                queues: [scheduled_queries]
                minTasks: 1
                maxTasks: 2
                workersPerTask: 1
                target: {backlogPerWorker: 3}

            """
        let policy = try #require(parse(text).policy)
        let a = try #require(policy.service(named: "a")), b = try #require(policy.service(named: "b"))
        #expect(a.workersPerTask == 4 && b.workersPerTask == 1)
        #expect(a.scaleDown == ScalingBehavior(stabilizationWindow: .seconds(600), maxStep: 1, cooldown: ScalingBehavior.defaultScaleDown.cooldown))
        #expect(b.scaleDown.maxStep == 3)
        #expect(a.target == ScalingTarget(backlogPerWorker: 1, maxWait: .seconds(60)))
        #expect(b.target == ScalingTarget(backlogPerWorker: 3, maxWait: .seconds(60)))
        #expect(a.scaleUp == .defaultScaleUp)
    }

    @Test("schedules parse to floors at their UTC offset")
    func schedules() throws {
        let text = minimal + """
                schedules:
                  - name: office
                    days: [mon, friday]
                    start: "09:00"
                    end: "24:00"
                    utcOffset: "+09:00"
                    minTasks: 3

            """
        let floor = try #require(parse(text).policy?.services[0].schedules.first)
        #expect(floor.days == [.monday, .friday])
        #expect(floor.startMinute == 540 && floor.endMinute == 1440)
        #expect(floor.utcOffset == .seconds(9 * 3600))
    }

    @Test("a password never appears in a diagnostic")
    func secretsStayOut() {
        let text = """
            cluster: redash
            redis: http://admin:hunter2@cache:6379
            database: mysql://redash:hunter2@db/redash?password=hunter2
            services: {}

            """
        let result = parse(text)
        #expect(result.errors.count == 3)
        for diagnostic in result.diagnostics {
            #expect(!diagnostic.description.contains("hunter2"), "\(diagnostic)")
        }
    }

    @Test("every problem is reported in one run, in file order")
    func reportsEverything() {
        let text = """
            cluster: ""
            interval: soon
            redis: redis://127.0.0.1:6379/0
            services:
              a:
                queues: []
                minTasks: 5
                maxTasks: 1
                workersPerTask: none

            """
        let lines = parse(text).errors.map(\.line)
        #expect(lines == [1, 2, 6, 8, 9])
    }

    @Test("ecs: the call budget and the refresh of service descriptions, with defaults and checked bounds")
    func ecsSettings() throws {
        let defaults = try #require(parse(minimal).policy)
        #expect(defaults.ecs == ECSSettings(maxCallsPerSecond: 10, burst: 40, serviceRefresh: .seconds(30)))
        let tuned = try #require(parse(minimal + "ecs:\n  maxCallsPerSecond: 2.5\n  burst: 5\n  serviceRefresh: 0s\n").policy)
        #expect(tuned.ecs == ECSSettings(maxCallsPerSecond: 2.5, burst: 5, serviceRefresh: .zero))
        let bad = parse(minimal + "ecs:\n  maxCallsPerSecond: 0\n  burst: 5000\n  serviceRefresh: 10m\n  calls: 3\n")
        #expect(bad.policy == nil)
        #expect(bad.errors.map { "\($0.line) \($0.path)" } == ["9 ecs.maxCallsPerSecond", "10 ecs.burst", "11 ecs.serviceRefresh", "12 ecs.calls"])
    }

    @Test("reactInterval: off by default; read as a duration; a warning when it cannot act or reads Redis very often")
    func reactInterval() throws {
        #expect(try #require(parse(minimal).policy).reactInterval == .zero)
        let watched = parse(minimal + "reactInterval: 1s\n")
        #expect(try #require(watched.policy).reactInterval == .seconds(1))
        #expect(watched.diagnostics.isEmpty, "\(watched.diagnostics)")
        let useless = parse(minimal + "interval: 5s\nreactInterval: 5s\n")
        #expect(useless.policy?.reactInterval == .seconds(5))
        #expect(useless.diagnostics.map { "\($0.severity.rawValue) \($0.line) \($0.path)" } == ["warning 9 reactInterval"], "\(useless.diagnostics)")
        let eager = parse(minimal + "reactInterval: 100ms\n")
        #expect(eager.diagnostics.map { "\($0.line) \($0.message)" }.first?.contains("below 500ms") == true, "\(eager.diagnostics)")
        let bad = parse(minimal + "reactInterval: soon\n")
        #expect(bad.policy == nil && bad.errors.map { "\($0.line) \($0.path)" } == ["8 reactInterval"], "\(bad.errors)")
    }

    @Test("celery: the remote-control round is off by default; its timeout and period are checked, with their lines")
    func celerySettings() throws {
        let defaults = try #require(parse(minimal).policy)
        #expect(defaults.celery == CelerySettings(inspect: false, replyTimeout: .seconds(1), idlePeriod: .seconds(60)))
        let tuned = try #require(parse(minimal + "celery:\n  inspect: true\n  replyTimeout: 500ms\n  idlePeriod: 2m\n").policy)
        #expect(tuned.celery == CelerySettings(inspect: true, replyTimeout: .milliseconds(500), idlePeriod: .seconds(120)))
        let bad = parse(minimal + "celery:\n  inspect: yes please\n  replyTimeout: 10s\n  idlePeriod: 2h\n  ping: true\n")
        #expect(bad.policy == nil)
        #expect(bad.errors.map { "\($0.line) \($0.path)" } == ["9 celery.inspect", "10 celery.replyTimeout", "11 celery.idlePeriod", "12 celery.ping"])
        let rq = parse(minimal.replacingOccurrences(of: "redis: ${REDIS:-redis://127.0.0.1:6379/0}", with: "redis:\n  url: redis://127.0.0.1:6379/0\n  layout: rq")
            + "celery:\n  inspect: true\n")
        #expect(rq.policy != nil)
        #expect(rq.diagnostics.contains { $0.path == "celery.inspect" && $0.message.contains("no effect") }, "\(rq.diagnostics)")
    }

    @Test("modes: per service, from defaults, controller-wide; a kill switch path; bad values are errors with their line")
    func modes() throws {
        let text = """
            cluster: redash
            mode: dry-run
            killSwitch: /run/redash-autoscaler/mode
            redis: redis://127.0.0.1:6379/0
            defaults:
              mode: paused
            services:
              a:
                queues: [queries]
                minTasks: 1
                maxTasks: 4
                mode: active
                externalChangeHold: 0s
              b:
                queues: [scheduled_queries]
                minTasks: 1
                maxTasks: 4

            """
        let policy = try #require(parse(text).policy)
        #expect(policy.mode == .dryRun && policy.killSwitch == "/run/redash-autoscaler/mode")
        #expect(policy.services.map(\.mode) == [.active, .paused])
        #expect(policy.services[0].externalChangeHold == .zero && policy.services[1].externalChangeHold == ServicePolicy.defaultExternalChangeHold)
        let bad = parse(minimal.replacingOccurrences(of: "maxTasks: 4\n", with: "maxTasks: 4\n    mode: off\n") + "killSwitch: mode.txt\n")
        #expect(bad.policy == nil)
        #expect(bad.errors.map { "\($0.line) \($0.path)" } == ["8 services.redash-adhoc-worker.mode", "9 killSwitch"])
    }
}

@Suite("Policy syntax helpers", .testThreads)
struct PolicySyntaxTests {
    @Test("durations", arguments: [
        ("30s", 30.0), ("5m", 300), ("1h", 3600), ("1m30s", 90), ("500ms", 0.5), ("0s", 0), ("1.5s", 1.5), ("7d", 604_800), ("1d12h", 129_600),
    ])
    func durations(_ text: String, _ seconds: Double) {
        #expect(DurationSyntax.parse(text)?.inSeconds == seconds)
    }

    @Test("not durations", arguments: ["30", "", "s", "5 minutes", "-5s", "5w"])
    func notDurations(_ text: String) {
        #expect(DurationSyntax.parse(text) == nil)
        #expect(DurationSyntax.read(text) == .failure(.malformed))
    }

    /// The policy-text fuzzer found the first one crashing the loader (a Double past Int64
    /// milliseconds, converted unchecked).
    @Test("durations past ten years are too long, not a crash", arguments: ["3099999999999999999999s", "9223372036854775808ms", "87601h", String(repeating: "9", count: 400) + "s"])
    func tooLong(_ text: String) {
        #expect(DurationSyntax.read(text) == .failure(.tooLong))
        #expect(DurationSyntax.read("87600h") == .success(DurationSyntax.longest))
    }

    @Test("suggestions for typos, none for unrelated words")
    func suggestions() {
        let keys = PolicySchema.serviceKeys
        #expect(Suggestion.closest(to: "maxTask", among: keys) == "maxTasks")
        #expect(Suggestion.closest(to: "workerspertask", among: keys) == "workersPerTask")
        #expect(Suggestion.closest(to: "queue", among: keys) == "queues")
        #expect(Suggestion.closest(to: "banana", among: keys) == nil)
    }
}
