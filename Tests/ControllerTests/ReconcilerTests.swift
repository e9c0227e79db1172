import AutoscalerCore
@testable import Controller
import Logging
@testable import RedashMetadata
import Testing
import TestSupport
import IntegrationSupport

/// The reconciler with in-memory ports: what it gathers, what it hands the applier, what it
/// reports. No Redis, no ECS.
@Suite("Reconciler", .testThreads)
struct ReconcilerTests {
    static let policy = Policy(
        cluster: "redash", interval: .seconds(5), redis: RedisSettings(url: SecretURL("redis://127.0.0.1:1/0"), layout: .rq),
        services: [ServicePolicy(name: "adhoc", queues: ["queries"], minTasks: 1, maxTasks: 6, workersPerTask: 1)])
    static let start = Build.monday
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func reconciler(
        queues: FakeQueues, cluster: FakeCluster, applier: PlanApplier? = nil, forecast: FakeForecast? = nil,
        store: FakeDecisionStore? = nil, leadership: FakeLeadership? = nil, policy: Policy = policy, metrics: MetricsRegistry = MetricsRegistry(),
        logger: Logger = quiet
    ) -> Reconciler {
        Reconciler(
            policy: policy,
            ports: .init(
                queues: queues, cluster: cluster, applier: applier ?? PlanApplier(writer: cluster), forecast: forecast, store: store,
                leadership: leadership),
            metrics: metrics, controllerName: "test", logger: logger)
    }

    static func at(_ seconds: Double) -> Instant { start + .seconds(seconds) }

    @Test("an outside change of desiredCount is left alone for the hold time, then the policy applies again")
    func externalChange() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 1])
        let reconciler = Self.reconciler(queues: queues, cluster: cluster)
        queues.set("queries", pending: 3)
        let first = await reconciler.reconcile(now: Self.at(0))
        #expect(first.services[0].outcome == .applied && cluster.count("adhoc") == 3)
        queues.set("queries", pending: 0, running: 3)

        // Someone sets 5 by hand (console, Terraform): the controller notices and holds.
        cluster.changeOutside("adhoc", to: 5)
        var outcomes: [ServiceOutcome] = []
        for second in stride(from: 5, through: 200, by: 5) {
            outcomes.append(await reconciler.reconcile(now: Self.at(Double(second))).services[0].outcome)
        }
        // Without the hold, the 2-minute scale-down window would bring it back to 3 by 200 s.
        #expect(cluster.count("adhoc") == 5)
        #expect(outcomes.last == .externalChangeRespected(until: Self.at(5) + ServicePolicy.defaultExternalChangeHold), "\(outcomes)")
        for second in stride(from: 310, through: 500, by: 5) {
            _ = await reconciler.reconcile(now: Self.at(Double(second)))
        }
        #expect(cluster.count("adhoc") == 3)
    }

    @Test("failures are loud but not noisy: one error line per dependency, again once a minute with a count, and a line when it works again")
    func loudFailures() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 2])
        let logs = CollectedLogs()
        let reconciler = Self.reconciler(queues: queues, cluster: cluster, applier: PlanApplier.dryRun, logger: logs.logger())
        cluster.setFailingReads(true)
        queues.setUnavailable("Connection refused (127.0.0.1:6379)")
        for second in 0..<130 { _ = await reconciler.reconcile(now: Self.at(Double(second))) }
        cluster.setFailingReads(false)
        queues.setUnavailable(nil)
        _ = await reconciler.reconcile(now: Self.at(130))
        let errors = logs.all.filter { $0.hasPrefix("error ") }
        #expect(errors.filter { $0.contains("ECS failed") }.count == 3, "\(errors)")
        #expect(errors.filter { $0.contains("Redis failed") }.count == 3, "\(errors)")
        #expect(errors.count == 6, "\(errors)")
        let second = errors.filter { $0.contains("ECS failed") }[1]
        #expect(second.contains("repeated=60"), "\(second)")
        let recovered = logs.all.filter { $0.contains("works again") }
        #expect(recovered.count == 2 && recovered.allSatisfy { $0.contains("failedTicks=130") }, "\(recovered)")
    }

    @Test("unknown is null: Celery's running jobs without a complete round are left out of the log line, null in the decision log, absent in /metrics; an age that cannot be read is absent, not 0")
    func unknownIsNull() async throws {
        let queues = FakeQueues(layout: .celery), cluster = FakeCluster(["adhoc": 1])
        queues.set("queries", pending: 3, running: nil, oldestAge: nil)
        let logs = CollectedLogs()
        let metrics = MetricsRegistry()
        let store = FakeDecisionStore()
        let reconciler = Self.reconciler(queues: queues, cluster: cluster, store: store, metrics: metrics, logger: logs.logger())
        let report = await reconciler.reconcile(now: Self.at(0))
        let decision = report.services[0].decision
        #expect(decision.figures.running == nil && decision.figures.pending == 3)
        #expect(DecisionRecorder.metadata(report.services[0])["running"] == nil)
        #expect(ControllerStateStore.json(decision.figures).contains(#""running":null"#))
        let text = metrics.render()
        #expect(!text.contains("redash_autoscaler_queue_running_jobs{"), "\(text)")
        #expect(!text.contains("redash_autoscaler_queue_oldest_age_seconds{"), "\(text)")
        #expect(text.contains(#"redash_autoscaler_queue_pending_jobs{queue="queries"} 3.0"#), "\(text)")
        // An empty queue has waited 0 s: that is known.
        queues.set("queries", pending: 0, running: nil, oldestAge: nil)
        _ = await reconciler.reconcile(now: Self.at(5))
        #expect(metrics.render().contains(#"redash_autoscaler_queue_oldest_age_seconds{queue="queries"} 0.0"#))
    }

    @Test("a Redis without redash:status: said once that the scheduler cannot be judged, no alarm; a stale one: the alarm")
    func schedulerNotJudged() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 2])
        let logs = CollectedLogs()
        let metrics = MetricsRegistry()
        let reconciler = Self.reconciler(queues: queues, cluster: cluster, applier: PlanApplier.dryRun, metrics: metrics, logger: logs.logger())
        queues.setSchedulerHealth(SchedulerHealth(lastRefreshAt: nil, sinceLastRefresh: nil, periodicWorkers: 0, isStale: false))
        for second in stride(from: 0, through: 20, by: 5) { _ = await reconciler.reconcile(now: Self.at(Double(second))) }
        #expect(logs.all.filter { $0.contains("cannot be judged yet") }.count == 1)
        #expect(!logs.all.contains { $0.contains("looks dead") })
        #expect(metrics.render().contains("redash_autoscaler_scheduler_stale 0"))

        queues.setSchedulerHealth(SchedulerHealth(
            lastRefreshAt: Self.at(-600), sinceLastRefresh: .seconds(625), periodicWorkers: 0, isStale: true))
        _ = await reconciler.reconcile(now: Self.at(25))
        #expect(logs.all.filter { $0.contains("looks dead") }.count == 1)
        #expect(metrics.render().contains("redash_autoscaler_scheduler_stale 1"))
    }

    @Test("an AccessDenied names the missing IAM action")
    func missingPermission() {
        let error = DependencyError(.ecs, "tasks of adhoc", "ecs:ListTasks failed (cluster redash): AccessDeniedException: User: arn:aws:iam::123456789012:user/ro is not authorized to perform: ecs:ListTasks on resource: *. The IAM policy …")
        #expect(error.missingPermission == "ecs:ListTasks")
        #expect(DependencyError(.ecs, "x", "HTTP 403: The IAM policy of these credentials must allow ecs:DescribeServices (deploy/iam/…)").missingPermission == "ecs:DescribeServices")
        #expect(DependencyError(.redis, "queue q", "Connection refused").missingPermission == nil)
    }

    @Test("ECS unreadable: no change at all; Redis unreadable: never a scale-in")
    func failingDependencies() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 4])
        let reconciler = Self.reconciler(queues: queues, cluster: cluster)
        cluster.setFailingReads(true)
        let blind = await reconciler.reconcile(now: Self.at(0))
        #expect(!blind.errors(of: .ecs).isEmpty && !blind.succeeded)
        #expect(blind.services[0].decision.code == .serviceUnknown && blind.services[0].outcome == .unchanged)
        cluster.setFailingReads(false)

        queues.setUnavailable("connection refused")
        for second in stride(from: 5, through: 300, by: 5) {
            let report = await reconciler.reconcile(now: Self.at(Double(second)))
            #expect(report.errors(of: .redis).first?.message == "connection refused")
        }
        #expect(cluster.count("adhoc") == 4)
        #expect(cluster.writes.isEmpty)
    }

    @Test("dry-run plans what live plans, and writes nothing")
    func dryRunIsOnlyTheApplier() async {
        let workers = [
            WorkerRecord(name: "w1", state: "busy", currentJob: "j1", ipAddress: "10.0.0.1:4000"),
            WorkerRecord(name: "w2", state: "idle", ipAddress: "10.0.0.2:4000"),
        ]
        let tasks = [
            TaskSnapshot(id: "t1", privateIP: "10.0.0.1", phase: .running),
            TaskSnapshot(id: "t2", privateIP: "10.0.0.2", phase: .running),
        ]
        func world() -> (FakeQueues, FakeCluster) {
            let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 2])
            queues.set("queries", pending: 5, running: 1, oldestAge: .seconds(40))
            queues.setWorkers("queries", workers)
            cluster.setTasks("adhoc", tasks)
            return (queues, cluster)
        }
        let (liveQueues, liveCluster) = world(), (dryQueues, dryCluster) = world()
        let live = Self.reconciler(queues: liveQueues, cluster: liveCluster)
        let dry = Self.reconciler(queues: dryQueues, cluster: dryCluster, applier: PlanApplier.dryRun)
        let liveReport = await live.reconcile(now: Self.at(0)), dryReport = await dry.reconcile(now: Self.at(0))
        // The same plan, carrying the mode it was decided in.
        var dryPlan = dryReport.services[0].plan
        #expect(dryPlan.authority == WriteAuthority(mode: .dryRun) && liveReport.services[0].plan.authority == WriteAuthority(mode: .active))
        dryPlan.authority = liveReport.services[0].plan.authority
        #expect(liveReport.services[0].plan == dryPlan)
        #expect(dryReport.services[0].plan.protection.protect == ["t1"])
        #expect(dryReport.mode == .dryRun && dryReport.services[0].outcome == .dryRun)
        #expect(dryReport.services[0].summary.hasPrefix("would scale adhoc 2 → 6: "))
        #expect(liveReport.services[0].outcome == .applied && liveCluster.count("adhoc") == 6)
        #expect(dryCluster.writes.isEmpty, "dry-run wrote \(dryCluster.writes)")

        // Nothing changes for a minute: the two keep planning alike, tick after tick.
        for second in stride(from: 5, through: 60, by: 5) {
            dryCluster.changeOutside("adhoc", to: 6)  // as if dry-run's world had followed
            let a = await live.reconcile(now: Self.at(Double(second))), b = await dry.reconcile(now: Self.at(Double(second)))
            #expect(a.services[0].plan.action == b.services[0].plan.action && a.services[0].decision == b.services[0].decision)
        }
    }

    @Test("a scale-in waits when busy tasks cannot be protected, and goes ahead once they are")
    func protectionGate() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 3])
        let reconciler = Self.reconciler(queues: queues, cluster: cluster)
        queues.set("queries", pending: 0, running: 1)
        queues.setWorkers("queries", [WorkerRecord(name: "w1", state: "busy", currentJob: "j1", ipAddress: "10.0.0.1:4000")])
        cluster.setTasks("adhoc", (1...3).map { TaskSnapshot(id: "t\($0)", privateIP: "10.0.0.\($0)", phase: .running) })
        cluster.setProtectionClock(Self.start)
        cluster.setFailingProtection(true)
        // The scale-down window (2 minutes) passes while protection keeps failing.
        var outcomes: [ServiceOutcome] = []
        for second in stride(from: 0, through: 180, by: 5) {
            outcomes.append(await reconciler.reconcile(now: Self.at(Double(second))).services[0].outcome)
        }
        #expect(cluster.count("adhoc") == 3)
        #expect(outcomes.contains { if case .withheld = $0 { true } else { false } }, "\(outcomes)")
        cluster.setFailingProtection(false)
        _ = await reconciler.reconcile(now: Self.at(185))
        #expect(cluster.count("adhoc") == 1)
        #expect(cluster.writes.first == .protection(isEnabled: true, tasks: ["t1"]), "protection goes first: \(cluster.writes)")
    }

    @Test("before a scale-in the workers are read again: a task whose worker took a job since the tick's reading is protected first")
    func recheckBeforeScaleIn() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 2])
        let reconciler = Self.reconciler(queues: queues, cluster: cluster)
        queues.set("queries", pending: 0, running: 0)
        let idle = [
            WorkerRecord(name: "w1", state: "idle", ipAddress: "10.0.0.1:4000"),
            WorkerRecord(name: "w2", state: "idle", ipAddress: "10.0.0.2:4000"),
        ]
        queues.setWorkers("queries", idle)
        queues.changeBetweenReads("queries", workers: [idle[0], WorkerRecord(name: "w2", state: "busy", currentJob: "j1", ipAddress: "10.0.0.2:4000")])
        cluster.setTasks("adhoc", (1...2).map { TaskSnapshot(id: "t\($0)", privateIP: "10.0.0.\($0)", phase: .running) })
        cluster.setProtectionClock(Self.start)
        var ticks = 0
        for second in stride(from: 0, through: 180, by: 5) {
            _ = await reconciler.reconcile(now: Self.at(Double(second)))
            ticks += 1
        }
        // Every worker idle at the tick's reading: the tasks were not even listed. The second
        // reading found w2 busy, listed the tasks, and protected t2 before setting 1.
        #expect(cluster.count("adhoc") == 1)
        let protection = cluster.writes.firstIndex(of: .protection(isEnabled: true, tasks: ["t2"]))
        let scaleIn = cluster.writes.firstIndex(of: .desiredCount(service: "adhoc", count: 1))
        #expect(protection != nil && scaleIn != nil && protection! < scaleIn!, "\(cluster.writes)")
        #expect(queues.probeCount == ticks + 1, "read twice only in the tick that scaled in")
    }

    @Test("the queue watch reads only the queues and asks for a reconcile only when they show work the last plan has no room for")
    func queueWatch() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 2])
        let reconciler = Self.reconciler(queues: queues, cluster: cluster)
        #expect(await !reconciler.needsEarlyReconcile(now: Self.at(0)), "nothing to compare with before a first reconcile")
        queues.set("queries", pending: 0, running: 2)
        _ = await reconciler.reconcile(now: Self.at(0))
        let (reads, writes, probes) = (cluster.reads, cluster.writes, queues.probeCount)
        #expect(await !reconciler.needsEarlyReconcile(now: Self.at(1)), "the same queues: no reconcile before the interval")
        // One query more than the two running ones: the rule would add a task (maxWait 0 is not
        // needed: a pending job with every worker busy is backlog).
        queues.set("queries", pending: 3, running: 2, oldestAge: .seconds(1))
        #expect(await reconciler.needsEarlyReconcile(now: Self.at(2)))
        #expect(cluster.reads == reads && cluster.writes == writes, "the watch neither reads nor writes ECS")
        #expect(queues.probeCount == probes + 2)
        // Fewer jobs than before: a scale-in waits for the interval.
        queues.set("queries", pending: 0, running: 0)
        #expect(await !reconciler.needsEarlyReconcile(now: Self.at(3)))
        // A standby never starts a reconcile early (it would write nothing).
        let standby = Self.reconciler(queues: queues, cluster: cluster, leadership: FakeLeadership(isLeader: false))
        _ = await standby.reconcile(now: Self.at(4))
        queues.set("queries", pending: 9, running: 2, oldestAge: .seconds(1))
        #expect(await !standby.needsEarlyReconcile(now: Self.at(5)))
    }

    @Test("the queue watch reads the lengths alone, and the queues whole only when a length has changed since its last whole reading")
    func queueWatchLengthsFirst() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 2])
        queues.setLengthsReadable(true)
        let reconciler = Self.reconciler(queues: queues, cluster: cluster)
        queues.set("queries", pending: 0, running: 1)
        _ = await reconciler.reconcile(now: Self.at(0))
        let probes = queues.probeCount
        // The first watch has no lengths to compare with: it reads whole.
        #expect(await !reconciler.needsEarlyReconcile(now: Self.at(1)))
        #expect(queues.probeCount == probes + 1 && queues.lengthReadCount == 1)
        // The same lengths (the running count changed, which the lengths do not show): no
        // whole reading, no early reconcile; the reconcile at the interval sees it.
        queues.set("queries", pending: 0, running: 2)
        #expect(await !reconciler.needsEarlyReconcile(now: Self.at(2)))
        #expect(await !reconciler.needsEarlyReconcile(now: Self.at(3)))
        #expect(queues.probeCount == probes + 1 && queues.lengthReadCount == 3)
        // A burst changes a length: read whole, and the plan has no room for it.
        queues.set("queries", pending: 9, running: 2, oldestAge: .seconds(1))
        #expect(await reconciler.needsEarlyReconcile(now: Self.at(4)))
        #expect(queues.probeCount == probes + 2)
        // Lengths that cannot be read alone (Redis gone): the whole probe, which says so, and
        // no early reconcile on a lost reading.
        queues.setUnavailable("connection refused")
        #expect(await !reconciler.needsEarlyReconcile(now: Self.at(4.5)))
        #expect(queues.probeCount == probes + 3)
    }

    @Test("a query that outlives many protection periods keeps its task protected the whole time, then the task is released")
    func protectionRenewedWhileBusy() async {
        let policy = Policy(
            cluster: "redash", interval: .seconds(5), redis: Self.policy.redis,
            services: [ServicePolicy(
                name: "adhoc", queues: ["queries"], minTasks: 1, maxTasks: 6, workersPerTask: 1, taskProtection: .seconds(60))])
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 2])
        let reconciler = Self.reconciler(queues: queues, cluster: cluster, policy: policy)
        cluster.setTasks("adhoc", [
            TaskSnapshot(id: "t1", privateIP: "10.0.0.1", phase: .running), TaskSnapshot(id: "t2", privateIP: "10.0.0.2", phase: .running),
        ])
        queues.set("queries", pending: 0, running: 1)
        queues.setWorkers("queries", [
            WorkerRecord(name: "w1", state: "busy", currentJob: "j1", ipAddress: "10.0.0.1:4000"),
            WorkerRecord(name: "w2", state: "idle", ipAddress: "10.0.0.2:4000"),
        ])
        // Twelve minutes of one query with one-minute protections: twelve periods and more.
        var unprotectedAt: [Double] = []
        for second in stride(from: 0.0, through: 720, by: 5) {
            _ = await reconciler.reconcile(now: Self.at(second))
            let t1 = cluster.tasks("adhoc").first { $0.id == "t1" }
            if !(t1?.isProtected(at: Self.at(second + 5)) ?? false) { unprotectedAt.append(second) }
        }
        #expect(unprotectedAt.isEmpty, "t1 ran unprotected into the ticks after \(unprotectedAt)")
        let renewals = cluster.writes.filter { $0 == .protection(isEnabled: true, tasks: ["t1"]) }.count
        #expect(renewals >= 12, "protected \(renewals) times")
        #expect(cluster.count("adhoc") == 1, "the idle task went")
        // The query ends: the protection is released.
        queues.set("queries", pending: 0, running: 0)
        queues.setWorkers("queries", [WorkerRecord(name: "w1", state: "idle", ipAddress: "10.0.0.1:4000")])
        _ = await reconciler.reconcile(now: Self.at(725))
        #expect(cluster.writes.last == .protection(isEnabled: false, tasks: ["t1"]))
    }

    @Test("task reads failing: no scale-in, and both errors of the tick are kept")
    func everyErrorKept() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 3])
        let policy = Policy(
            cluster: "redash", interval: .seconds(5), redis: Self.policy.redis,
            services: Self.policy.services + [ServicePolicy(name: "gone", queues: ["other"], minTasks: 1, maxTasks: 2)])
        let reconciler = Self.reconciler(queues: queues, cluster: cluster, policy: policy)
        queues.setWorkers("queries", [WorkerRecord(name: "w1", state: "busy", currentJob: "j1", ipAddress: "10.0.0.1:4000")])
        queues.set("queries", pending: 0, running: 1)
        cluster.setFailingTaskReads(true)
        var report = await reconciler.reconcile(now: Self.at(0))
        for second in stride(from: 5, through: 180, by: 5) { report = await reconciler.reconcile(now: Self.at(Double(second))) }
        #expect(cluster.count("adhoc") == 3)
        let operations = report.errors.map(\.operation)
        #expect(operations.contains("DescribeServices"), "the missing service: \(operations)")
        #expect(operations.contains("tasks of adhoc"), "\(operations)")
        guard case .withheld(let reason) = report.services[0].outcome else {
            Issue.record("expected a withheld scale-in, got \(report.services[0].outcome)")
            return
        }
        #expect(reason.contains("busy tasks could not be read"))
    }

    @Test("a standby writes nothing; once it leads, the old leader's last change is not taken for an outside one")
    func standbyThenLeader() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 1])
        let leadership = FakeLeadership(isLeader: false)
        let reconciler = Self.reconciler(queues: queues, cluster: cluster, leadership: leadership)
        queues.set("queries", pending: 4)
        let standby = await reconciler.reconcile(now: Self.at(0))
        #expect(standby.services[0].outcome == .notLeader && !standby.isLeader && cluster.writes.isEmpty)
        // The leader acts, then dies.
        cluster.changeOutside("adhoc", to: 4)
        _ = await reconciler.reconcile(now: Self.at(5))
        queues.set("queries", pending: 0, running: 4)
        cluster.changeOutside("adhoc", to: 5)
        leadership.set(true)
        let leading = await reconciler.reconcile(now: Self.at(10))
        #expect(leading.isLeader)
        if case .externalChangeRespected = leading.services[0].outcome { Issue.record("the predecessor's change was taken for an outside one") }
        #expect(leading.services[0].plan.notices.isEmpty)
    }

    @Test("a new leader in its takeover guard: its predecessor's write landing then is not taken for an outside change")
    func predecessorWriteLandsInGuard() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 3])
        // It has just taken the lease and waits out its guard before any write.
        let leadership = FakeLeadership(isLeader: true, mayWrite: false)
        let reconciler = Self.reconciler(queues: queues, cluster: cluster, leadership: leadership)
        // ECS already has what the work needs: there is nothing it would send.
        queues.set("queries", pending: 3)
        let guarded = await reconciler.reconcile(now: Self.at(0))
        #expect(guarded.isLeader && guarded.services[0].outcome == .unchanged && cluster.writes.isEmpty)
        // The old leader's scale-in, decided on older readings, sent inside its lease and
        // delayed, lands now.
        cluster.changeOutside("adhoc", to: 1)
        let landed = await reconciler.reconcile(now: Self.at(5))
        #expect(landed.services[0].plan.notices.isEmpty, "\(landed.services[0].plan.notices)")
        #expect(cluster.writes.isEmpty)
        // The guard is over: the work's count again, not a 5-minute hold.
        leadership.setMayWrite(true)
        let leading = await reconciler.reconcile(now: Self.at(10))
        if case .externalChangeRespected = leading.services[0].outcome { Issue.record("the predecessor's late write froze the service") }
        #expect(leading.services[0].outcome == .applied && cluster.count("adhoc") == 3, "\(leading.services[0].outcome)")
    }

    @Test("one instant per tick; the probe reads the scheduler state for the forecast's data sources")
    func oneInstantAndSchedulerState() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 1])
        let forecast = FakeForecast(dataSources: [1, 2], due: ["queries": [DueQuery(dueIn: .seconds(20), expectedRuntime: .seconds(120))]])
        let state = RedashSchedulerState(executions: [7: Self.start], dataSources: [1, 2], readAt: Self.start)
        queues.setSchedulerState(state)
        let reconciler = Self.reconciler(queues: queues, cluster: cluster, forecast: forecast)
        let report = await reconciler.reconcile(now: Self.at(42))
        #expect(report.at == Self.at(42) && report.probe.observedAt == Self.at(42))
        #expect(report.services[0].state?.observedAt == Self.at(42))
        #expect(forecast.schedulersSeen == [state])
        #expect(report.services[0].decision.code == .forecast, "\(report.services[0].decision.reason)")
    }

    @Test("cooldowns come back from the store; applied changes go into it")
    func durableCooldowns() async {
        let policy = Policy(
            cluster: "redash", interval: .seconds(5), redis: Self.policy.redis,
            services: [ServicePolicy(
                name: "adhoc", queues: ["queries"], minTasks: 1, maxTasks: 6, workersPerTask: 1,
                scaleDown: ScalingBehavior(stabilizationWindow: .seconds(60), maxStep: 4, cooldown: .seconds(300)))])
        func run(store: FakeDecisionStore?) async -> FakeCluster {
            let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 3])
            let reconciler = Self.reconciler(queues: queues, cluster: cluster, store: store, policy: policy)
            for second in stride(from: 0, through: 150, by: 5) { _ = await reconciler.reconcile(now: Self.at(Double(second))) }
            return cluster
        }
        // A previous controller scaled it down 10 s before this one started: 290 s of cooldown left.
        let store = FakeDecisionStore(times: ["adhoc": ActionTimes(lastScaleUp: nil, lastScaleDown: Self.at(-10))])
        #expect(await run(store: store).count("adhoc") == 3)
        #expect(await run(store: nil).count("adhoc") == 1, "without the restored cooldown it scales in after the window")
        let fresh = FakeDecisionStore()
        _ = await run(store: fresh)
        #expect(fresh.times["adhoc"]?.lastScaleDown.map { $0 > Self.start } == true)
        #expect(fresh.rows.contains { $0.mode == "applied" && $0.decision.desired == 1 })
    }

    @Test("task start times learned from the tasks read are kept in the state store and come back after a restart")
    func startTimesPersist() async {
        let queues = FakeQueues(), cluster = FakeCluster(["adhoc": 2])
        queues.setWorkers("queries", [WorkerRecord(name: "w1", state: "busy", currentJob: "j1", ipAddress: "10.0.0.1:4000")])
        queues.set("queries", pending: 0, running: 1)
        cluster.setTasks("adhoc", [
            TaskSnapshot(id: "t1", privateIP: "10.0.0.1", phase: .running, createdAt: Self.at(-100), startedAt: Self.at(-60)),
            TaskSnapshot(id: "t2", privateIP: "10.0.0.2", phase: .running, createdAt: Self.at(-100), startedAt: Self.at(-30)),
        ])
        let store = FakeDecisionStore()
        let first = Self.reconciler(queues: queues, cluster: cluster, store: store)
        let report = await first.reconcile(now: Self.at(0))
        #expect(report.services[0].startTimes.samples.sorted() == [40, 70])
        #expect(store.starts["adhoc"]?.sorted() == [40, 70])
        // A new controller: the learned times come back before any task is read again.
        let idle = FakeQueues()
        let second = Self.reconciler(queues: idle, cluster: FakeCluster(["adhoc": 2]), store: store)
        let restored = await second.reconcile(now: Self.at(5))
        #expect(restored.services[0].startTimes.p90 == .seconds(70))
    }
}
