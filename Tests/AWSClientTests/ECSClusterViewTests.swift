@testable import AWSClient
import AWSTestSupport
import AutoscalerCore
import Testing
import IntegrationSupport

/// The ECS call budget: what the view asks ECS for, tick after tick, counted at the HTTP level
/// on the real client over an in-memory ECS.
@Suite("ECS cluster view: calls per tick", .testThreads)
struct ECSClusterViewTests {
    static let start = Instant(secondsSinceEpoch: 1_800_000_000)

    /// `services` services of `tasksEach` running tasks each.
    static func cluster(services: Int, tasksEach: Int) -> (InMemoryECS, [String]) {
        let ecs = InMemoryECS()
        let names = (1...services).map { "worker-\($0)" }
        var ip = 0
        for name in names {
            ecs.addService(name, desired: tasksEach)
            for _ in 0..<tasksEach {
                ip += 1
                ecs.addTask(.init(service: name, ip: "10.0.\(ip / 250).\(ip % 250)"))
            }
        }
        return (ecs, names)
    }

    @Test("200 busy services: one read of everything, then at most 10 calls a tick, every service described within 30 s")
    func steadyState() async throws {
        let (ecs, names) = Self.cluster(services: 200, tasksEach: 2)
        let view = ECSClusterView(client: ecs.client())
        var now = Self.start
        _ = try await view.services(names, now: now)
        let first = try await view.tasks(of: names, now: now)
        #expect(first.values.map(\.count).reduce(0, +) == 400)
        #expect(first["worker-7"]?.allSatisfy { $0.phase == .running && $0.privateIP != nil && $0.protectedUntil == nil } == true)
        let warmUp = ecs.calls(reset: true)
        // 20 batches of ten, 4 pages of tasks, 4 describes and 4 protection reads of 100.
        #expect(warmUp == ["DescribeServices": 20, "ListTasks": 4, "DescribeTasks": 4, "GetTaskProtection": 4])

        var perTick: [Int] = []
        var oldest: Duration = .zero
        for _ in 0..<36 {  // three minutes at 5 s
            now = now + .seconds(5)
            let snapshot = try await view.services(names, now: now)
            _ = try await view.tasks(of: names, now: now)
            let calls = ecs.calls(reset: true)
            perTick.append(calls.values.reduce(0, +))
            #expect(calls["ListTasks"] == 4)
            #expect(calls["DescribeTasks"] == nil && calls["GetTaskProtection"] == nil)
            oldest = max(oldest, snapshot.states.values.map { now - $0.observedAt }.max() ?? .zero)
        }
        #expect(perTick.max()! <= 10, "calls per tick: \(perTick)")
        #expect(oldest <= .seconds(30), "a description \(oldest) old was served")
    }

    @Test("a new task: described once, its service read again at the next tick; a stopped one is forgotten")
    func taskChanges() async throws {
        let (ecs, names) = Self.cluster(services: 30, tasksEach: 1)
        let view = ECSClusterView(client: ecs.client())
        var now = Self.start
        _ = try await view.services(names, now: now)
        _ = try await view.tasks(of: names, now: now)
        now = now + .seconds(5)
        _ = try await view.services(names, now: now)
        _ = try await view.tasks(of: names, now: now)
        _ = ecs.calls(reset: true)

        let added = ecs.addTask(.init(service: "worker-17", ip: "10.9.9.9", lastStatus: "PENDING"))
        now = now + .seconds(5)
        _ = try await view.services(names, now: now)
        var tasks = try await view.tasks(of: names, now: now)
        #expect(tasks["worker-17"]?.first { $0.id == added }?.phase == .starting)
        #expect(ecs.calls(reset: true)["DescribeTasks"] == 1)

        // Still starting: described again; running: no longer.
        ecs.setStatus(added, "RUNNING")
        now = now + .seconds(5)
        let snapshot = try await view.services(names, now: now)
        #expect(snapshot.states["worker-17"]?.observedAt == now, "the service whose tasks changed was not read again")
        #expect(snapshot.states["worker-17"]?.running == 2)
        tasks = try await view.tasks(of: names, now: now)
        #expect(tasks["worker-17"]?.first { $0.id == added }?.phase == .running)
        now = now + .seconds(5)
        _ = try await view.tasks(of: names, now: now)
        #expect(ecs.calls(reset: true)["DescribeTasks"] == 1)

        ecs.stopTask(added)
        now = now + .seconds(5)
        tasks = try await view.tasks(of: names, now: now)
        #expect(tasks["worker-17"]?.count == 1)
    }

    @Test("protection: this controller's own writes keep it current; another hand's change is learnt at the resync")
    func protectionCache() async throws {
        let (ecs, names) = Self.cluster(services: 3, tasksEach: 2)
        let view = ECSClusterView(client: ecs.client())
        var now = Self.start
        _ = try await view.services(names, now: now)
        let tasks = try await view.tasks(of: names, now: now)
        let arn = try #require(tasks["worker-2"]?.first?.id)
        _ = ecs.calls(reset: true)

        let change = try await view.setProtection(true, tasks: [arn], duration: .seconds(600), within: .seconds(5))
        #expect(change.protected == [arn])
        now = now + .seconds(5)
        var seen = try await view.tasks(of: names, now: now)
        #expect(seen["worker-2"]?.first { $0.id == arn }?.protectedUntil != nil)
        #expect(ecs.calls(reset: true) == ["UpdateTaskProtection": 1, "ListTasks": 1])

        // Someone else releases it: unseen until the resync, then seen.
        let other = try #require(tasks["worker-3"]?.first?.id)
        _ = try await ecs.client().updateTaskProtection([other], enabled: true, expiresInMinutes: 30)
        now = now + .seconds(60)
        seen = try await view.tasks(of: names, now: now)
        #expect(seen["worker-3"]?.first { $0.id == other }?.protectedUntil == nil)
        now = now + .seconds(300)
        seen = try await view.tasks(of: names, now: now)
        #expect(seen["worker-3"]?.first { $0.id == other }?.protectedUntil != nil)
    }

    @Test("a write makes the service be read again at the next tick; refreshServices always asks ECS")
    func writesRefresh() async throws {
        let (ecs, names) = Self.cluster(services: 40, tasksEach: 1)
        let view = ECSClusterView(client: ecs.client())
        var now = Self.start
        _ = try await view.services(names, now: now)
        now = now + .seconds(5)
        _ = try await view.services(names, now: now)
        ecs.setDesired("worker-33", 4)  // outside the controller
        let fresh = try await view.refreshServices(["worker-33"], now: now)
        #expect(fresh.states["worker-33"]?.desired == 4)

        try await view.setDesiredCount(6, service: "worker-39", within: .seconds(5))
        now = now + .seconds(1)
        let snapshot = try await view.services(names, now: now)
        #expect(snapshot.states["worker-39"]?.desired == 6)
        #expect(snapshot.states["worker-39"]?.observedAt == now)
    }

    @Test("one service of a large cluster: its own listing, not the cluster's ten pages")
    func listsOneService() async throws {
        let (ecs, names) = Self.cluster(services: 100, tasksEach: 10)
        let view = ECSClusterView(client: ecs.client())
        let now = Self.start
        _ = try await view.tasks(of: names, now: now)
        #expect(ecs.calls(reset: true)["ListTasks"] == 10)
        let one = try await view.tasks(of: ["worker-5"], now: now + .seconds(5))
        #expect(one["worker-5"]?.count == 10)
        #expect(ecs.calls(reset: true)["ListTasks"] == 1)
    }

    @Test("serviceRefresh 0 reads every service every tick")
    func refreshEveryTick() async throws {
        let (ecs, names) = Self.cluster(services: 25, tasksEach: 1)
        let view = ECSClusterView(client: ecs.client(), settings: .init(serviceRefresh: .zero))
        var now = Self.start
        for _ in 0..<3 {
            let snapshot = try await view.services(names, now: now)
            #expect(snapshot.states.values.allSatisfy { $0.observedAt == now })
            now = now + .seconds(5)
        }
        #expect(ecs.calls()["DescribeServices"] == 9)
    }
}

@Suite("Client-side call budget", .testThreads)
struct CallBudgetTests {
    @Test("a burst, then the sustained rate; a call that would wait past its deadline takes nothing")
    func tokenBucket() throws {
        let budget = CallBudget(.init(callsPerSecond: 2, burst: 3), now: .now)
        let start = ContinuousClock.now
        var waits: [Duration] = []
        for _ in 0..<5 { waits.append(try budget.reserve(for: "ecs:ListTasks", now: start, until: nil)) }
        #expect(waits.prefix(3).allSatisfy { $0 == .zero })
        #expect(waits[3] > .milliseconds(499) && waits[3] < .milliseconds(501))
        #expect(waits[4] > .milliseconds(999) && waits[4] < .milliseconds(1001))
        #expect(throws: CallBudget.Exhausted.self) {
            try budget.reserve(for: "ecs:UpdateService", now: start, until: start + .milliseconds(200))
        }
        // The refused call took no token: the next one waits as long as it would have.
        let next = try budget.reserve(for: "ecs:ListTasks", now: start, until: nil)
        #expect(next > .milliseconds(1499) && next < .milliseconds(1501))
        // Two seconds on, the debt is paid and one token is back.
        #expect(try budget.reserve(for: "ecs:ListTasks", now: start + .seconds(3), until: nil) <= .milliseconds(1))
    }

    @Test("requests over the budget are spread out, counted per action, and the rate can change")
    func throughClient() async throws {
        let (ecs, names) = ECSClusterViewTests.cluster(services: 60, tasksEach: 1)
        let budget = CallBudget(.init(callsPerSecond: 20, burst: 2))
        let view = ECSClusterView(client: ecs.client(budget: budget))
        let clock = ContinuousClock()
        let elapsed = try await clock.measure { _ = try await view.services(names, now: ECSClusterViewTests.start) }
        // Six calls: two at once, four at 20 a second.
        #expect(elapsed >= .milliseconds(190))
        #expect(view.callsSoFar() == ["DescribeServices": 6])
        await view.adopt(ECSSettings(maxCallsPerSecond: 5, burst: 1, serviceRefresh: .seconds(10)))
        #expect(budget.rate == .init(callsPerSecond: 5, burst: 1))
        #expect(await view.settings.serviceRefresh == .seconds(10))
    }
}
