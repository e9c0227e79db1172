import AutoscalerCore
import Controller
import Testing
import TestSupport
import IntegrationSupport

/// The reconciler on Celery-era Redash with `celery.inspect`: what a complete remote-control round
/// changes (busy tasks protected, a running floor), and that an incomplete one changes nothing.
@Suite("Reconciler on Celery with inspect", .testThreads)
struct CeleryReconcileTests {
    static func policy(inspect: Bool) -> Policy {
        Policy(
            cluster: "redash", interval: .seconds(5), redis: RedisSettings(url: SecretURL("redis://127.0.0.1:1/0"), layout: .celery),
            services: [ServicePolicy(name: "adhoc", queues: ["queries"], minTasks: 1, maxTasks: 6, workersPerTask: 2)],
            celery: CelerySettings(inspect: inspect))
    }

    static func node(_ octet: Int, busy: Int) -> CeleryNode {
        CeleryNode(
            name: "celery@ip-10-0-0-\(octet)", queues: ["queries"],
            active: (0..<busy).map { CeleryActiveTask(id: "job-\(octet)-\($0)", queue: "queries", workerPID: 100 + $0) })
    }

    struct Run {
        var writes: [FakeCluster.Write]
        var desired: [Int?]
        var rounds: Int
        var outcomes: [ServiceOutcome]
    }

    /// Three tasks, an empty queue, a query running on the second task: three minutes of ticks.
    static func run(inspect: Bool, activity: CeleryActivity?, leader: Bool = true) async -> Run {
        let queues = FakeQueues(layout: .celery), cluster = FakeCluster(["adhoc": 3])
        queues.set("queries", pending: 0, running: nil)
        queues.setCelery(activity)
        cluster.setTasks("adhoc", (1...3).map { TaskSnapshot(id: "t\($0)", privateIP: "10.0.0.\($0)", phase: .running) })
        cluster.setProtectionClock(ReconcilerTests.start)
        let reconciler = ReconcilerTests.reconciler(
            queues: queues, cluster: cluster, leadership: FakeLeadership(isLeader: leader), policy: policy(inspect: inspect))
        var desired: [Int?] = [], outcomes: [ServiceOutcome] = []
        for second in stride(from: 0.0, through: 180, by: 5) {
            let report = await reconciler.reconcile(now: ReconcilerTests.at(second))
            desired.append(cluster.count("adhoc"))
            outcomes.append(report.services[0].outcome)
        }
        return Run(writes: cluster.writes, desired: desired, rounds: queues.celeryRounds.count, outcomes: outcomes)
    }

    static let complete = CeleryActivity(reached: 3, nodes: [node(1, busy: 0), node(2, busy: 1), node(3, busy: 0)], elapsed: .milliseconds(4), observedAt: ReconcilerTests.start)

    @Test("a complete round: the busy task is protected before the scale-in, and the scale-in goes around it")
    func completeRoundProtects() async {
        let run = await Self.run(inspect: true, activity: Self.complete)
        #expect(run.desired.last == 1, "\(run.desired)")
        let protection = run.writes.firstIndex(of: .protection(isEnabled: true, tasks: ["t2"]))
        let scaleIn = run.writes.firstIndex { $0 == .desiredCount(service: "adhoc", count: 1) }
        #expect(protection != nil && scaleIn != nil && protection! < scaleIn!, "protection goes first: \(run.writes)")
        #expect(!run.writes.contains(.protection(isEnabled: true, tasks: ["t1"])) && !run.writes.contains(.protection(isEnabled: true, tasks: ["t3"])))
        let scaleIns = run.writes.filter { if case .desiredCount = $0 { true } else { false } }.count
        #expect(scaleIns == 1, "\(run.writes)")
        #expect(run.rounds == run.desired.count - 1 + scaleIns,
                "asked every tick while the service could scale in or holds protection, from the second (the first learns it leads), and once more just before the scale-in")
    }

    @Test("no reply, a partial reply, or inspect off: exactly today's behaviour (no protection, the same counts)")
    func incompleteIsToday() async {
        let today = await Self.run(inspect: false, activity: Self.complete)
        #expect(today.rounds == 0, "off: Celery's workers are never asked")
        #expect(!today.writes.contains { if case .protection = $0 { true } else { false } })
        var partial = Self.complete
        partial.nodes.removeLast()
        partial.problem = "1 of 3 Celery node(s) did not answer within 1s"
        for activity in [nil, partial] as [CeleryActivity?] {
            let run = await Self.run(inspect: true, activity: activity)
            #expect(run.writes == today.writes, "\(String(describing: activity?.problem)): \(run.writes) vs \(today.writes)")
            #expect(run.desired == today.desired)
            #expect(run.rounds > 0)
        }
    }

    @Test("more running tasks than answering nodes: a task that did not answer may run a query, so nothing is protected or judged")
    func fewerNodesThanTasks() async {
        let today = await Self.run(inspect: false, activity: nil)
        var twoNodes = Self.complete
        twoNodes.reached = 2
        twoNodes.nodes.removeLast()
        let run = await Self.run(inspect: true, activity: twoNodes)
        // Three tasks run and two nodes answer: the step judges as today, the same scale-in at the
        // same tick, and no protection at all (the third task still has no node).
        #expect(run.desired == today.desired, "\(run.desired) vs \(today.desired)")
        #expect(run.writes == today.writes, "\(run.writes)")
    }

    @Test("a task whose node stops answering keeps its protection: enough nodes answer, but none on that task")
    func uncoveredTaskKeepsProtection() async {
        let queues = FakeQueues(layout: .celery), cluster = FakeCluster(["adhoc": 3])
        queues.set("queries", pending: 0, running: nil)
        queues.setCelery(Self.complete)
        cluster.setTasks("adhoc", (1...3).map { TaskSnapshot(id: "t\($0)", privateIP: "10.0.0.\($0)", phase: .running) })
        cluster.setProtectionClock(ReconcilerTests.start)
        cluster.setFollowsDesired(false)
        let reconciler = ReconcilerTests.reconciler(queues: queues, cluster: cluster, policy: Self.policy(inspect: true))
        for second in stride(from: 0.0, through: 10, by: 5) { _ = await reconciler.reconcile(now: ReconcilerTests.at(second)) }
        #expect(cluster.writes.contains(.protection(isEnabled: true, tasks: ["t2"])), "\(cluster.writes)")
        // t2's node drops out of remote control (not subscribed: the round is complete without
        // it), and a node outside ECS that consumes `queries` makes the count look enough.
        var outside = Self.complete
        outside.nodes = [Self.node(1, busy: 0), Self.node(3, busy: 0), Self.node(9, busy: 0)]
        queues.setCelery(outside)
        let before = cluster.writes.count
        for second in stride(from: 15.0, through: 120, by: 5) { _ = await reconciler.reconcile(now: ReconcilerTests.at(second)) }
        let later = cluster.writes.dropFirst(before)
        #expect(!later.contains(.protection(isEnabled: false, tasks: ["t2"])), "t2's protection was released: \(Array(later))")
    }

    @Test("asked every tick only while a service could scale in; at its minimum, once a minute; never on a standby")
    func cadence() async {
        let queues = FakeQueues(layout: .celery), cluster = FakeCluster(["adhoc": 1])
        queues.set("queries", pending: 0, running: nil)
        queues.setCelery(CeleryActivity(reached: 1, nodes: [Self.node(1, busy: 0)], elapsed: .zero, observedAt: ReconcilerTests.start))
        cluster.setTasks("adhoc", [TaskSnapshot(id: "t1", privateIP: "10.0.0.1", phase: .running)])
        let reconciler = ReconcilerTests.reconciler(queues: queues, cluster: cluster, policy: Self.policy(inspect: true))
        for second in stride(from: 0.0, through: 175, by: 5) { _ = await reconciler.reconcile(now: ReconcilerTests.at(second)) }
        // The first tick (nothing known yet), then every 60 s: the service is at its minimum.
        #expect(queues.celeryRounds.map { $0 - ReconcilerTests.start } == [.zero, .seconds(60), .seconds(120)],
                "\(queues.celeryRounds.map { $0 - ReconcilerTests.start })")

        let standby = await Self.run(inspect: true, activity: Self.complete, leader: false)
        #expect(standby.rounds == 0, "a controller with a lease asks only once it knows it leads")
    }

    @Test("dry-run at minTasks with rounds once a minute: the proposal does not flip between rounds, and would-scale counts one action per proposal")
    func quietDryRun() async {
        let queues = FakeQueues(layout: .celery), cluster = FakeCluster(["adhoc": 1])
        // Four queries run on the one task of 2 workers, 3 more wait: 4 tasks wanted.
        queues.set("queries", pending: 3, running: nil, oldestAge: .seconds(5))
        queues.setCelery(CeleryActivity(reached: 1, nodes: [Self.node(1, busy: 2)], elapsed: .milliseconds(3), observedAt: ReconcilerTests.start))
        let metrics = MetricsRegistry()
        var policy = Self.policy(inspect: true)
        policy = Policy(
            cluster: policy.cluster, interval: policy.interval, redis: policy.redis,
            services: [ServicePolicy(name: "adhoc", queues: ["queries"], minTasks: 1, maxTasks: 8, workersPerTask: 2)], celery: policy.celery)
        let reconciler = ReconcilerTests.reconciler(queues: queues, cluster: cluster, applier: .dryRun, policy: policy, metrics: metrics)
        var proposals: [Int?] = []
        for second in stride(from: 0.0, through: 180, by: 5) {
            proposals.append(await reconciler.reconcile(now: ReconcilerTests.at(second)).services[0].decision.desired)
        }
        #expect(queues.celeryRounds.count < proposals.count, "rounds only every idlePeriod at minTasks: \(queues.celeryRounds.count)")
        #expect(Set(proposals).count == 1, "the proposal flipped: \(proposals)")
        #expect(metrics.render().contains(#"redash_autoscaler_would_scale_actions_total{direction="up",service="adhoc"} 1"#), "\(metrics.render())")
    }
}

/// The status page draws the Celery nodes of the last round: each node, what it listens on, what
/// it runs and holds.
@Suite("Status page: Celery workers", .testThreads)
struct StatusPageCeleryTests {
    @Test("each answering node is a row with its queues and running and prefetched counts; an incomplete round says so")
    func nodesDrawn() async {
        let queues = FakeQueues(layout: .celery), cluster = FakeCluster(["adhoc": 3])
        queues.set("queries", pending: 1, running: nil)
        var busy = CeleryReconcileTests.node(2, busy: 2)
        busy.reserved = [CeleryActiveTask(id: "held", queue: "queries", workerPID: nil)]
        queues.setCelery(CeleryActivity(reached: 2, nodes: [CeleryReconcileTests.node(1, busy: 0), busy], elapsed: .milliseconds(3), observedAt: ReconcilerTests.start))
        cluster.setTasks("adhoc", (1...3).map { TaskSnapshot(id: "t\($0)", privateIP: "10.0.0.\($0)", phase: .running) })
        let reconciler = ReconcilerTests.reconciler(queues: queues, cluster: cluster, policy: CeleryReconcileTests.policy(inspect: true))
        for second in [0.0, 5] { _ = await reconciler.reconcile(now: ReconcilerTests.at(second)) }
        var page = StatusPage.html(history: reconciler.history, report: await reconciler.lastReport, now: ReconcilerTests.at(5))
        #expect(page.contains("2 of 2 node(s) answered"), "\(page.prefix(1500))")
        #expect(page.contains("<tr class=\"celery-node\"><td>celery@ip-10-0-0-1</td><td>queries</td><td>0</td><td>0</td></tr>"))
        #expect(page.contains("<tr class=\"celery-node\"><td>celery@ip-10-0-0-2</td><td>queries</td><td>2</td><td>1</td></tr>"))

        queues.setCelery(CeleryActivity(reached: 3, nodes: [busy], problem: "1 of 3 nodes did not answer", elapsed: .seconds(1), observedAt: ReconcilerTests.start))
        _ = await reconciler.reconcile(now: ReconcilerTests.at(10))
        page = StatusPage.html(history: reconciler.history, report: await reconciler.lastReport, now: ReconcilerTests.at(10))
        #expect(page.contains("running queries unknown"), "\(page.prefix(1500))")
    }
}

@Suite("Unmapped busy workers on Celery", .testThreads)
struct CeleryUnmappedTests {
    @Test("a busy Celery node on none of the service's tasks counts in unmapped_busy_workers, as a busy RQ worker would")
    func counted() async {
        let queues = FakeQueues(layout: .celery), cluster = FakeCluster(["adhoc": 3])
        queues.set("queries", pending: 0, running: nil)
        queues.setCelery(CeleryActivity(
            reached: 4,
            nodes: [CeleryReconcileTests.node(1, busy: 1), CeleryReconcileTests.node(2, busy: 0), CeleryReconcileTests.node(3, busy: 0), CeleryReconcileTests.node(9, busy: 2)],
            elapsed: .milliseconds(3),
            observedAt: ReconcilerTests.start))
        cluster.setTasks("adhoc", (1...3).map { TaskSnapshot(id: "t\($0)", privateIP: "10.0.0.\($0)", phase: .running) })
        let metrics = MetricsRegistry()
        let reconciler = ReconcilerTests.reconciler(queues: queues, cluster: cluster, policy: CeleryReconcileTests.policy(inspect: true), metrics: metrics)
        for second in [0.0, 5] { _ = await reconciler.reconcile(now: ReconcilerTests.at(second)) }
        let line = metrics.render().split(separator: "\n").first { $0.hasPrefix("redash_autoscaler_unmapped_busy_workers{service=\"adhoc\"}") }
        #expect(line.map(String.init) == "redash_autoscaler_unmapped_busy_workers{service=\"adhoc\"} 2.0", "\(String(describing: line))")
    }
}
