import AutoscalerCore
import Foundation
import Testing
import TestSupport
import IntegrationSupport

/// The step around the rule: outside changes, busy tasks, protection, the forecast, and how the
/// memory follows what the applier did.
@Suite("Service step", .testThreads)
struct ServiceStepTests {
    static let context = ServiceStep.Context(interval: .seconds(5))

    static func task(_ id: String, ip: String, protectedFor seconds: Double? = nil, at now: Instant = Build.monday) -> TaskSnapshot {
        TaskSnapshot(id: id, privateIP: ip, phase: .running, protectedUntil: seconds.map { now + .seconds($0) })
    }

    static func worker(_ name: String, ip: String, busy: Bool) -> WorkerIdentity {
        WorkerIdentity(name: name, hostname: nil, ipAddress: "\(ip):4000", isBusy: busy)
    }

    static func observation(
        pending: Int = 0, running: Int = 0, desired: Int, deploying: Bool = false, workers: [WorkerIdentity]? = nil,
        tasks: TaskReading = .notRead, due: [DueQuery]? = nil, at now: Instant = Build.monday
    ) -> ServiceObservation {
        ServiceObservation(
            queues: ["queries": Build.queue(pending: pending, running: running, oldest: pending > 0 ? 5 : nil, at: now)],
            service: Build.state(desired: desired, deploying: deploying, at: now), workers: workers, tasks: tasks, scheduledDue: due)
    }

    /// A memory that has watched the service idle for longer than any scale-down window.
    static func quietMemory(level: Int, lastSeen: Int, now: Instant = Build.monday) -> ServiceMemory {
        ServiceMemory(history: Build.steadyHistory(recommending: level, for: .seconds(600), until: now), lastSeenDesired: lastSeen)
    }

    /// Applies a plan as an obedient ECS would: protection and count accepted.
    static func obey(_ plan: ServicePlan) -> ApplyResult {
        let protection: ProtectionResult = plan.protection.isEmpty
            ? .nothingToDo : .applied(ProtectionChange(protected: plan.protection.protect, released: plan.protection.release))
        if case .send = plan.desiredCountToSend(after: protection) { return ApplyResult(protection: protection, scale: .sent) }
        return ApplyResult(protection: protection, scale: .nothingToSend)
    }

    struct Scenario: CustomTestStringConvertible, Sendable {
        var name: String
        var observation: ServiceObservation
        var memory: ServiceMemory
        var policy: ServicePolicy = Build.service(min: 1, max: 8, workers: 1)
        var action: ScaleAction
        var protect: [String] = []
        var release: [String] = []
        var busyFloor: Int?

        var testDescription: String { name }
    }

    static let scenarios: [Scenario] = [
        Scenario(
            name: "scale up: 4 pending, 1 per task, desired 1 -> set 4",
            observation: observation(pending: 4, desired: 1), memory: ServiceMemory(), action: .set(4)),
        Scenario(
            name: "idle for the whole window, desired 3 -> set 1",
            observation: observation(desired: 3), memory: quietMemory(level: 1, lastSeen: 3), action: .set(1)),
        Scenario(
            name: "deployment in progress: idle but no scale-in",
            observation: observation(desired: 3, deploying: true), memory: quietMemory(level: 1, lastSeen: 3), action: .none),
        Scenario(
            name: "someone set 5 by hand: the scale-in it would undo waits",
            observation: observation(desired: 5), memory: quietMemory(level: 1, lastSeen: 2),
            action: .respectOutsideChange(until: Build.monday + ServicePolicy.defaultExternalChangeHold)),
        Scenario(
            name: "desiredCount is what we set last tick: not an outside change",
            observation: observation(desired: 3), memory: {
                var memory = quietMemory(level: 1, lastSeen: 2)
                memory.lastSetByUs = 3
                return memory
            }(),
            action: .set(1)),
        Scenario(
            name: "no memory of the previous count (standby, restart): not an outside change",
            observation: observation(desired: 3), memory: quietMemory(level: 1, lastSeen: 3), action: .set(1)),
        Scenario(
            name: "two busy tasks of three are the floor: 3 -> 2, busy ones protected, idle one released",
            observation: observation(
                running: 2, desired: 3,
                workers: [worker("w1", ip: "10.0.0.1", busy: true), worker("w2", ip: "10.0.0.2", busy: true), worker("w3", ip: "10.0.0.3", busy: false)],
                tasks: .observed([task("t1", ip: "10.0.0.1"), task("t2", ip: "10.0.0.2"), task("t3", ip: "10.0.0.3", protectedFor: 600)])),
            memory: quietMemory(level: 2, lastSeen: 3), action: .set(2), protect: ["t1", "t2"], release: ["t3"], busyFloor: 2),
        Scenario(
            name: "busy tasks spread over three tasks with two slots each keep all three",
            observation: observation(
                running: 3, desired: 3,
                workers: [worker("a", ip: "10.0.0.1", busy: true), worker("b", ip: "10.0.0.2", busy: true), worker("c", ip: "10.0.0.3", busy: true)],
                tasks: .observed([task("t1", ip: "10.0.0.1"), task("t2", ip: "10.0.0.2"), task("t3", ip: "10.0.0.3")])),
            memory: quietMemory(level: 2, lastSeen: 3), policy: Build.service(min: 1, max: 8, workers: 2),
            action: .none, protect: ["t1", "t2", "t3"], busyFloor: 3),
        Scenario(
            name: "a protection about to run out is renewed",
            observation: observation(
                running: 1, desired: 1, workers: [worker("w1", ip: "10.0.0.1", busy: true)],
                tasks: .observed([task("t1", ip: "10.0.0.1", protectedFor: 60)])),
            memory: quietMemory(level: 1, lastSeen: 1), action: .none, protect: ["t1"], busyFloor: 1),
        Scenario(
            name: "a protection far from running out is left alone",
            observation: observation(
                running: 1, desired: 1, workers: [worker("w1", ip: "10.0.0.1", busy: true)],
                tasks: .observed([task("t1", ip: "10.0.0.1", protectedFor: 3000)])),
            memory: quietMemory(level: 1, lastSeen: 1), action: .none, busyFloor: 1),
        Scenario(
            name: "tasks could not be read: the scale-in is withheld",
            observation: observation(
                desired: 3, workers: [worker("w1", ip: "10.0.0.1", busy: true)], tasks: .unavailable(reason: "ListTasks: throttled")),
            memory: quietMemory(level: 1, lastSeen: 3),
            action: .withhold(reason: "busy tasks could not be read (ListTasks: throttled); not scaling in this tick")),
        Scenario(
            name: "during a deployment nothing stays protected",
            observation: observation(
                running: 1, desired: 2, deploying: true, workers: [worker("w1", ip: "10.0.0.1", busy: true)],
                tasks: .observed([task("t1", ip: "10.0.0.1", protectedFor: 3000), task("t2", ip: "10.0.0.2")])),
            memory: quietMemory(level: 1, lastSeen: 2), action: .none, release: ["t1"], busyFloor: 1),
        Scenario(
            name: "14 scheduled queries of 60 s due in 30 s, maxWait 30 s: the forecast asks for 14 tasks now, capped at 8",
            observation: observation(desired: 1, due: Array(repeating: DueQuery(dueIn: .seconds(30), expectedRuntime: .seconds(60)), count: 14)),
            memory: ServiceMemory(), action: .set(8)),
        Scenario(
            name: "scheduled queries due beyond the lead time ask for nothing yet",
            observation: observation(desired: 1, due: [DueQuery(dueIn: .seconds(300), expectedRuntime: .seconds(60))]),
            memory: quietMemory(level: 1, lastSeen: 1), action: .none),
    ]

    @Test("scenarios", arguments: scenarios)
    func scenario(_ scenario: Scenario) {
        let (plan, _) = ServiceStep.plan(scenario.observation, memory: scenario.memory, policy: scenario.policy, context: Self.context, now: Build.monday)
        #expect(plan.action == scenario.action, "\(plan.decision.reason)")
        #expect(plan.protection.protect.sorted() == scenario.protect)
        #expect(plan.protection.release.sorted() == scenario.release)
        #expect(plan.busyTasks.floor == scenario.busyFloor)
    }

    @Test("an outside change is respected for the hold, then the policy applies again")
    func outsideChangeThenResumed() {
        let policy = Build.service(min: 1, max: 8, workers: 1)
        var memory = Self.quietMemory(level: 2, lastSeen: 2)
        var now = Build.monday
        var desired = 2
        // Someone sets 6.
        desired = 6
        var actions: [ScaleAction] = []
        while now < Build.monday + .seconds(600) {
            let (plan, planned) = ServiceStep.plan(Self.observation(running: 2, desired: desired, at: now), memory: memory, policy: policy, context: Self.context, now: now)
            actions.append(plan.action)
            let settled = ServiceStep.settle(plan, memory: planned, result: Self.obey(plan))
            memory = settled.memory
            if case .set(let count) = plan.action { desired = count }
            now = now + .seconds(5)
        }
        let holdEnds = Build.monday + policy.externalChangeHold
        #expect(actions.first == .respectOutsideChange(until: holdEnds))
        // Held for exactly the hold time (scale-down waits for its window, which the quiet
        // memory has already watched), then scaled back to the work's 2.
        let firstSet = actions.firstIndex { if case .set = $0 { true } else { false } }
        #expect(firstSet == Int(policy.externalChangeHold.inSeconds / 5), "\(actions.prefix(70))")
        #expect(desired == 2)
    }

    @Test("a scale-in goes ahead only when every busy task got its protection")
    func protectionGate() throws {
        let observation = Self.observation(
            running: 1, desired: 3, workers: [Self.worker("w1", ip: "10.0.0.1", busy: true)],
            tasks: .observed([Self.task("t1", ip: "10.0.0.1"), Self.task("t2", ip: "10.0.0.2"), Self.task("t3", ip: "10.0.0.3")]))
        let (plan, planned) = ServiceStep.plan(
            observation, memory: Self.quietMemory(level: 1, lastSeen: 3), policy: Build.service(min: 1, max: 8, workers: 1),
            context: Self.context, now: Build.monday)
        #expect(plan.action == .set(1))
        #expect(plan.protection.protect == ["t1"])
        let accepted = ProtectionResult.applied(ProtectionChange(protected: ["t1"]))
        let refused = ProtectionResult.applied(ProtectionChange(refused: [.init(task: "t1", reason: "DEPLOYMENT_BLOCKED")]))
        #expect(plan.desiredCountToSend(after: accepted) == .send(1))
        guard case .withhold(let reason) = plan.desiredCountToSend(after: refused) else {
            Issue.record("a refused protection let the scale-in through")
            return
        }
        #expect(reason.contains("DEPLOYMENT_BLOCKED"))
        guard case .withhold = plan.desiredCountToSend(after: .failed("throttled")) else {
            Issue.record("a failed protection call let the scale-in through")
            return
        }
        // Withheld: no cooldown starts, the protected task is remembered, and nothing was "set".
        let (memory, outcome) = ServiceStep.settle(
            plan, memory: planned, result: ApplyResult(protection: refused, scale: .withheld(reason)))
        #expect(outcome == .withheld(reason))
        #expect(memory.history.lastScaleDown == nil && memory.lastSetByUs == nil)
    }

    @Test("the memory follows the applier: cooldowns start only on accepted changes; a standby forgets who set what")
    func settleFollowsTheApplier() {
        let (plan, planned) = ServiceStep.plan(
            Self.observation(pending: 4, desired: 1), memory: ServiceMemory(), policy: Build.service(min: 1, max: 8, workers: 1),
            context: Self.context, now: Build.monday)
        #expect(plan.action == .set(4))
        let live = ServiceStep.settle(plan, memory: planned, result: ApplyResult(protection: .nothingToDo, scale: .sent))
        #expect(live.outcome == .applied && live.memory.lastSetByUs == 4 && live.memory.history.lastScaleUp == Build.monday)
        let dryRun = ServiceStep.settle(plan, memory: planned, result: ApplyResult(protection: .nothingToDo, scale: .notSent(.dryRun)))
        #expect(dryRun.outcome == .dryRun && dryRun.memory.lastSetByUs == nil && dryRun.memory.history.lastScaleUp == nil)
        #expect(dryRun.memory.lastSeenDesired == 1)
        let standby = ServiceStep.settle(plan, memory: planned, result: ApplyResult(protection: .nothingToDo, scale: .notSent(.notLeader)))
        #expect(standby.outcome == .notLeader && standby.memory.lastSeenDesired == nil)
        let failed = ServiceStep.settle(plan, memory: planned, result: ApplyResult(protection: .nothingToDo, scale: .failed("AccessDenied")))
        #expect(failed.outcome == .failed("AccessDenied") && failed.memory.history.lastScaleUp == nil)
        // The recommendation is remembered whatever the applier did: windows see every tick.
        #expect(standby.memory.history.entries.count == 1 && dryRun.memory.history.entries.count == 1)
    }

    @Test("only services with busy workers or our protections need their tasks read")
    func needsTasks() {
        let policy = Build.service()
        let idle = [Self.worker("w", ip: "10.0.0.1", busy: false)]
        let busy = [Self.worker("w", ip: "10.0.0.1", busy: true)]
        let state = Build.state(desired: 1)
        #expect(!ServiceStep.needsTasks(policy: policy, workers: idle, service: state, memory: ServiceMemory()))
        #expect(ServiceStep.needsTasks(policy: policy, workers: busy, service: state, memory: ServiceMemory()))
        #expect(ServiceStep.needsTasks(policy: policy, workers: idle, service: state, memory: ServiceMemory(protectedByUs: ["t1"])))
        #expect(!ServiceStep.needsTasks(policy: policy, workers: nil, service: state, memory: ServiceMemory()), "Celery keeps no workers")
        #expect(!ServiceStep.needsTasks(policy: policy, workers: busy, service: nil, memory: ServiceMemory()), "ECS unread")
        var off = policy
        off.protectBusyTasks = false
        #expect(!ServiceStep.needsTasks(policy: off, workers: busy, service: state, memory: ServiceMemory()))
    }
}

/// Demand is only work a new task could pick up: the step finds the queues the service's
/// workers ignore and names what it leaves out.
@Suite("Servable demand in the step", .testThreads)
struct ServableStepTests {
    static let context = ServiceStep.Context(interval: .seconds(5))

    static func listener(_ name: String, ip: String, _ queues: [String]) -> QueueListener {
        QueueListener(name: name, hostname: "ip-\(ip.replacingOccurrences(of: ".", with: "-"))", queues: queues)
    }

    @Test("a queue the service's workers do not listen on (seen on its other queue): no scale-up, a notice naming it and what they listen on")
    func unconsumedBesideAConsumedQueue() {
        let policy = Build.service(queues: ["queries", "queries_ds2"], min: 1, max: 8)
        let observation = ServiceObservation(
            queues: ["queries": Build.queue("queries"), "queries_ds2": Build.queue("queries_ds2", pending: 1, oldest: 120)],
            service: Build.state(desired: 1), listeners: [Self.listener("w1", ip: "10.0.0.1", ["queries"])])
        let (plan, _) = ServiceStep.plan(observation, memory: ServiceMemory(), policy: policy, context: Self.context, now: Build.monday)
        #expect(plan.action == .none, "\(plan.decision.reason)")
        #expect(plan.notices.contains(.unconsumedQueues(["queries_ds2"], pending: 1, listenedTo: ["queries"])), "\(plan.notices)")
        #expect(plan.decision.reason.contains("which no worker of the service consumes"), "\(plan.decision.reason)")
    }

    @Test("a typo in QUEUES: the workers on the service's tasks listen elsewhere; found once the tasks are read")
    func typoFoundThroughTasks() {
        let policy = Build.service(min: 1, max: 8)
        let listeners = [Self.listener("w1", ip: "10.0.0.1", ["querys"]), Self.listener("other", ip: "10.0.9.9", ["scheduled_queries"])]
        var observation = ServiceObservation(
            queues: ["queries": Build.queue(pending: 3, oldest: 200)], service: Build.state(desired: 1), listeners: listeners)
        // Without the tasks the service's own workers are not known: still demand, and the
        // tasks are asked for.
        #expect(ServiceStep.needsTasks(policy: policy, workers: [], service: observation.service, memory: ServiceMemory(), observation: observation))
        let (unread, _) = ServiceStep.plan(observation, memory: ServiceMemory(), policy: policy, context: Self.context, now: Build.monday)
        #expect(unread.action == .set(2), "\(unread.decision.reason)")
        #expect(unread.notices.contains(.unlistenedQueues(["queries"])))
        observation.tasks = .observed([TaskSnapshot(id: "t1", privateIP: "10.0.0.1", phase: .running)])
        let (read, _) = ServiceStep.plan(observation, memory: ServiceMemory(), policy: policy, context: Self.context, now: Build.monday)
        #expect(read.action == .none, "\(read.decision.reason)")
        #expect(read.notices.contains(.unconsumedQueues(["queries"], pending: 3, listenedTo: ["querys"])), "\(read.notices)")
    }

    @Test("scaled to zero, or workers not registered yet: the work is servable (a new task takes it)")
    func noWorkersIsNotUnconsumed() {
        let policy = Build.service(min: 0, max: 8)
        let zero = ServiceObservation(queues: ["queries": Build.queue(pending: 2, oldest: 10)], service: Build.state(desired: 0), listeners: [])
        let (plan, _) = ServiceStep.plan(zero, memory: ServiceMemory(), policy: policy, context: Self.context, now: Build.monday)
        #expect(plan.action == .set(1))
        #expect(!plan.notices.contains { if case .unlistenedQueues = $0 { true } else { false } }, "no task runs: nothing to say")
        #expect(QueueConsumption.find(queues: ["queries"], waiting: ["queries"], listeners: nil, tasks: nil) == QueueConsumption.Finding())
    }

    @Test("stranded messages are named with when kombu gives them back; held ones with the prefetch setting")
    func strandedAndHeldNotices() {
        let observation = ServiceObservation(
            queues: ["queries": Build.celeryQueue(held: 1, stranded: 2, strandedAge: 534, running: 2)], service: Build.state(desired: 2),
            visibilityTimeout: .seconds(3600))
        let (plan, _) = ServiceStep.plan(observation, memory: ServiceMemory(), policy: Build.service(min: 1, max: 8), context: Self.context, now: Build.monday)
        #expect(plan.decision.desired == 2 && plan.action == .none, "\(plan.decision.reason)")
        #expect(plan.notices.contains(.strandedMessages(
            count: 2, fetchedAt: Build.monday - .seconds(534), returnsAt: Build.monday - .seconds(534) + .seconds(3600))), "\(plan.notices)")
        #expect(plan.notices.contains(.heldMessages(count: 1)))
        #expect(plan.decision.reason.hasPrefix("3 pending (0 servable; 1 held by busy nodes, 2 stranded) + 2 running"), "\(plan.decision.reason)")
        #expect(plan.decision.figures.servable == 0 && plan.decision.figures.stranded == 2 && plan.decision.figures.held == 1)
    }
}

@Suite("Celery nodes draining", .testThreads)
struct CeleryDrainTests {
    static let policy = Build.service(min: 1, max: 8)

    static func node(_ name: String, running: Int) -> CeleryNode {
        CeleryNode(name: "celery@\(name)", queues: ["queries"], active: (0..<running).map { CeleryActiveTask(id: "\(name)-\($0)", queue: "queries") })
    }

    static func observation(nodes: [CeleryNode], running: Int, tasks: [TaskSnapshot]?) -> ServiceObservation {
        ServiceObservation(
            queues: ["queries": Build.queue(pending: 0, running: running)], service: Build.state(desired: 2),
            tasks: tasks.map(TaskReading.observed) ?? .notRead, celeryNodes: nodes)
    }

    @Test("a node that stopped answering while its task stops: its 2 queries stay counted (running 4, not 2), until the task has stopped")
    func keptWhileStopping() {
        let both = Self.observation(nodes: [Self.node("ip-10-0-0-1", running: 2), Self.node("ip-10-0-0-2", running: 2)], running: 4, tasks: nil)
        let (_, memory) = ServiceStep.plan(both, memory: ServiceMemory(), policy: Self.policy, context: ServableStepTests.context, now: Build.monday)
        #expect(memory.celeryNodes.count == 2)

        // SIGTERM on node 1: it leaves the round; its task is stopping.
        let one = Self.observation(nodes: [Self.node("ip-10-0-0-2", running: 2)], running: 2, tasks: nil)
        #expect(ServiceStep.needsTasks(policy: Self.policy, workers: nil, service: one.service, memory: memory, observation: one))
        let stopping = Self.observation(
            nodes: [Self.node("ip-10-0-0-2", running: 2)], running: 2,
            tasks: [TaskSnapshot(id: "t1", privateIP: "10.0.0.1", phase: .stopping), TaskSnapshot(id: "t2", privateIP: "10.0.0.2", phase: .running)])
        let (plan, kept) = ServiceStep.plan(stopping, memory: memory, policy: Self.policy, context: ServableStepTests.context, now: Build.monday + .seconds(5))
        #expect(plan.decision.figures.running == 4, "\(plan.decision.reason)")
        #expect(plan.notices.contains(.drainingNodes(["celery@ip-10-0-0-1"], running: 2)))
        #expect(kept.celeryNodes["celery@ip-10-0-0-1"] != nil)

        // The task has stopped: the queries ended with it.
        let stopped = Self.observation(
            nodes: [Self.node("ip-10-0-0-2", running: 2)], running: 2, tasks: [TaskSnapshot(id: "t2", privateIP: "10.0.0.2", phase: .running)])
        let (after, forgotten) = ServiceStep.plan(stopped, memory: kept, policy: Self.policy, context: ServableStepTests.context, now: Build.monday + .seconds(10))
        #expect(after.decision.figures.running == 2)
        #expect(forgotten.celeryNodes["celery@ip-10-0-0-1"] == nil)
    }

    @Test("a node on none of the service's tasks (a forged reply, another cluster's worker) does not count toward its running jobs")
    func foreignNodeDoesNotCount() {
        let observation = Self.observation(
            nodes: [Self.node("ip-10-0-0-1", running: 2), Self.node("ip-10-9-9-9", running: 2)], running: 4,
            tasks: [TaskSnapshot(id: "t1", privateIP: "10.0.0.1", phase: .running)])
        let (plan, memory) = ServiceStep.plan(observation, memory: ServiceMemory(), policy: Self.policy, context: ServableStepTests.context, now: Build.monday)
        #expect(plan.decision.figures.running == 2, "\(plan.decision.reason)")
        #expect(memory.celeryNodes.keys.sorted() == ["celery@ip-10-0-0-1"])
    }
}

@Suite("Capacity that never arrives", .testThreads)
struct CapacityStallTests {
    static let policy = Build.service(min: 1, max: 10)
    static let placement = ServiceEventNote(
        message: "(service redash-adhoc-worker) was unable to place a task. Reason: Capacity is unavailable at this time.", at: Build.monday)

    static func observation(desired: Int, running: Int, pending: Int, at now: Instant) -> ServiceObservation {
        var state = Build.state(desired: desired, running: running, at: now)
        state.events = [ServiceEventNote(message: "(service redash-adhoc-worker) has started 2 tasks.", at: Build.monday - .seconds(60)), Self.placement]
        return ServiceObservation(queues: ["queries": Build.queue(pending: pending, oldest: 200, at: now)], service: state)
    }

    @Test("tasks asked for never start: within the start time plus a margin it is reported with ECS's reason, and desiredCount stops growing (never lowered); it ends when they run")
    func stalls() {
        var memory = ServiceMemory()
        let context = ServiceStep.Context(interval: .seconds(5))
        var now = Build.monday
        var plan: ServicePlan
        // 3 desired, 1 running, 20 jobs waiting: at first the rule asks for more, as it should.
        (plan, memory) = ServiceStep.plan(Self.observation(desired: 3, running: 1, pending: 20, at: now), memory: memory, policy: Self.policy, context: context, now: now)
        #expect(plan.action == .set(10), "\(plan.decision.reason)")
        #expect(memory.shortSince == now)
        // Still short well after the default start time (90 s) plus the margin (60 s).
        let timeout = TaskStartWatch.defaultStartTime + TaskStartWatch.margin
        now = Build.monday + timeout + .seconds(5)
        // (Say ECS took the count to 5 meanwhile, and 10 are still wanted.)
        (plan, memory) = ServiceStep.plan(Self.observation(desired: 5, running: 1, pending: 20, at: now), memory: memory, policy: Self.policy, context: context, now: now)
        #expect(plan.decision.code == .capacityStalled && plan.action == .none, "\(plan.decision.reason)")
        #expect(plan.decision.reason.contains("Capacity is unavailable"), "\(plan.decision.reason)")
        #expect(plan.notices.contains(.capacityStalled(missing: 4, since: Build.monday, timeout: timeout, reason: Self.placement.message)))
        // Less work: it may still come down (the stall never holds a count up).
        (plan, memory) = ServiceStep.plan(Self.observation(desired: 5, running: 1, pending: 0, at: now + .seconds(5)), memory: memory, policy: Self.policy, context: context, now: now + .seconds(5))
        #expect(plan.decision.code != .capacityStalled)
        // The tasks run: no longer short.
        (plan, memory) = ServiceStep.plan(Self.observation(desired: 10, running: 10, pending: 20, at: now + .seconds(10)), memory: memory, policy: Self.policy, context: context, now: now + .seconds(10))
        #expect(memory.shortSince == nil && !plan.notices.contains { if case .capacityStalled = $0 { true } else { false } })
    }

    @Test("start times are learned from the tasks read: the p90, plus the margin, is the timeout; a start from another clock is not learned")
    func learns() {
        let tasks = (0..<10).map { index in
            TaskSnapshot(
                id: "t\(index)", privateIP: nil, phase: .running, createdAt: Build.monday, startedAt: Build.monday + .seconds(Double(30 + index * 5)))
        } + [TaskSnapshot(id: "clock", privateIP: nil, phase: .running, createdAt: Build.monday, startedAt: Build.monday + .seconds(86_400))]
        let learned = TaskStartWatch.Learned().learning(from: tasks)
        #expect(learned.samples.count == 10)
        #expect(learned.p50 == .seconds(55) && learned.p90 == .seconds(75))
        #expect(TaskStartWatch.timeout(learned: learned, configured: nil) == .seconds(135))
        #expect(TaskStartWatch.timeout(learned: learned, configured: .seconds(40)) == .seconds(40))
        #expect(learned.learning(from: tasks).samples.count == 10, "a task is learned once")
    }
}
