import AutoscalerCore
import Synchronization
import PropertyBased
import Testing
import TestSupport
import IntegrationSupport

/// A random but well-formed situation, built from a handful of generated numbers.
struct RandomSituation: Sendable, CustomStringConvertible {
    var input: DecisionInput

    init(shape rawShape: [Int], signals rawSignals: [Int], history rawHistory: [Int]) {
        // The shrinker may shorten the arrays; missing numbers read as 0.
        let shape = Numbers(rawShape), signals = Numbers(rawSignals), history = Numbers(rawHistory)
        let now = Build.monday
        let minTasks = shape[0] % 4
        let maxTasks = minTasks + shape[1] % 12
        let policy = Build.service(
            min: minTasks, max: maxTasks, workers: 1 + shape[2] % 4,
            backlogPerWorker: [0.5, 1, 2, 5][shape[3] % 4],
            maxWait: .seconds(10 + shape[4] % 120),
            scaleUp: ScalingBehavior(
                stabilizationWindow: .seconds([0, 0, 30, 60][shape[5] % 4]), maxStep: 1 + shape[6] % 6,
                cooldown: .seconds([0, 0, 30][shape[7] % 3])),
            scaleDown: ScalingBehavior(
                stabilizationWindow: .seconds([60, 300, 600][shape[8] % 3]), maxStep: 1 + shape[9] % 4,
                cooldown: .seconds([0, 60, 120][shape[10] % 3])),
            fallback: shape[11] % 3 == 0 ? shape[11] % (maxTasks + 1) : nil)
        let reading: QueueReading
        switch signals[0] % 6 {
        case 0: reading = .unavailable(reason: "redis: timeout")
        case 1: reading = Build.queue(pending: signals[1] % 40, at: now - .seconds(Double(31 + signals[2] % 300)))
        default:
            // Light, moderate and heavy load in equal measure.
            let scale = [3, 12, 60][signals[4] % 3]
            let pending = signals[1] % scale
            reading = Build.queue(
                pending: pending, running: signals[2] % (scale / 2 + 1),
                oldest: pending > 0 ? Double(signals[3] % 200) : nil,
                busy: signals[5] % 2 == 0 ? signals[5] % (scale / 2 + 1) : nil, at: now - .seconds(Double(signals[6] % 10)))
        }
        let desired = signals[7] % 20
        let running = signals[8] % 2 == 0 ? desired : max(0, desired - signals[9] % 3)
        let state = Build.state(
            desired: desired, running: running, pending: desired - running, deploying: signals[10] % 5 == 0)
        var entries: [ScalingHistory.Entry] = []
        var at = now - .seconds(Double(history[0] % 1200))
        // Half the histories are quiet (one low level), so that scale-downs are common enough
        // for the invariants about them to be exercised.
        let quietLevel = history[0] % 2 == 0 ? Optional(history[1] % 4) : nil
        for value in rawHistory.dropFirst(3) {
            entries.append(.init(at: at, recommendation: quietLevel ?? value % 20))
            at = at + .seconds(Double(1 + value % 30))
            if at >= now { break }
        }
        let scaleUpAgo = history[1] % 4 == 0 ? nil : Optional(now - .seconds(Double(history[1] % 200)))
        let scaleDownAgo = history[2] % 4 == 0 ? nil : Optional(now - .seconds(Double(history[2] % 200)))
        input = DecisionInput(
            policy: policy, queues: ["queries": reading], service: state,
            history: ScalingHistory(entries: entries, lastScaleUp: scaleUpAgo, lastScaleDown: scaleDownAgo),
            now: now)
    }

    var description: String {
        "policy \(input.policy.minTasks)…\(input.policy.maxTasks)×\(input.policy.workersPerTask), "
            + "queues \(input.queues), service \(String(describing: input.service)), "
            + "history \(input.history.entries.map(\.recommendation))"
    }
}

/// Non-negative numbers by position, 0 past the end.
struct Numbers {
    let values: [Int]
    init(_ values: [Int]) { self.values = values }
    subscript(index: Int) -> Int { index < values.count ? abs(values[index]) : 0 }
}

private let numbers = Gen.int(in: 0...10_000)
private let situations = zip(numbers.array(of: 12), numbers.array(of: 11), numbers.array(of: 3...40))
    .map { RandomSituation(shape: $0, signals: $1, history: $2) }

/// Counts how often a property met the case it is about, so a generator that never produces
/// that case fails the test instead of passing vacuously.
final class CaseCounter: Sendable {
    private let value = Atomic<Int>(0)
    func increment() { value.add(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}

@Suite("Scaling rule invariants", .testThreads)
struct ScalingRulePropertyTests {
    @Test("a change never lands outside minTasks…maxTasks")
    func neverOutsideBounds() async {
        let changes = CaseCounter()
        await propertyCheck(count: 2000, input: situations) { situation in
            let decision = ScalingRule.decide(situation.input)
            guard decision.isChange, let desired = decision.desired, let current = decision.current else { return }
            changes.increment()
            #expect(desired >= situation.input.policy.minTasks, "\(decision.reason)")
            // Above a lowered maxTasks a scale-down may stop at the running jobs' floor.
            let ceiling = current > situation.input.policy.maxTasks
                ? max(situation.input.policy.maxTasks, min(current, decision.figures.runningFloor)) : situation.input.policy.maxTasks
            #expect(desired <= ceiling, "\(decision.reason)")
            #expect(desired >= decision.figures.lowerBound, "\(decision.reason)")
        }
        #expect(changes.count >= 200, "exercised \(changes.count) changes")
    }

    @Test("a scale-down never goes below what the running jobs need")
    func neverBelowRunningFloor() async {
        let busyDowns = CaseCounter()
        await propertyCheck(count: 10_000, input: situations) { situation in
            let decision = ScalingRule.decide(situation.input)
            guard decision.direction == .down, let desired = decision.desired else { return }
            if decision.figures.runningFloor > 0 { busyDowns.increment() }
            // Never below the running jobs, not even to return under a lowered maxTasks.
            let floor = min(decision.figures.runningFloor, decision.current ?? 0)
            #expect(desired >= floor, "\(decision.reason)")
        }
        #expect(busyDowns.count >= 50, "exercised \(busyDowns.count) scale-downs with running jobs")
    }

    @Test("inside the bounds, no step is larger than the direction's maxStep")
    func neverLargerStep() async {
        let downs = CaseCounter(), ups = CaseCounter()
        await propertyCheck(count: 10_000, input: situations) { situation in
            let decision = ScalingRule.decide(situation.input)
            guard let current = decision.current, let desired = decision.desired,
                  current >= decision.figures.lowerBound, current <= decision.figures.upperBound
            else { return }
            let policy = situation.input.policy
            switch decision.direction {
            case .up:
                ups.increment()
                #expect(desired - current <= policy.scaleUp.maxStep, "\(decision.reason)")
            case .down:
                downs.increment()
                #expect(current - desired <= policy.scaleDown.maxStep, "\(decision.reason)")
            case .hold: break
            }
        }
        #expect(ups.count >= 100 && downs.count >= 100, "exercised \(ups.count) ups, \(downs.count) downs")
    }

    @Test("a scale-down inside the bounds needs a whole quiet window, a cooldown, complete signals and no deployment")
    func scaleDownOnlyAfterWindow() async {
        let downs = CaseCounter()
        await propertyCheck(count: 10_000, input: situations) { situation in
            let decision = ScalingRule.decide(situation.input)
            guard decision.direction == .down, let current = decision.current, let desired = decision.desired,
                  current <= decision.figures.upperBound else { return }
            downs.increment()
            let input = situation.input
            let window = input.policy.scaleDown.stabilizationWindow
            #expect(decision.figures.missingQueues.isEmpty)
            #expect(input.service?.isDeploymentInProgress == false)
            #expect(input.history.observingSince.map { input.now - $0 >= window } == true)
            for entry in input.history.entries where entry.at >= input.now - window {
                #expect(entry.recommendation <= desired, "window held \(entry.recommendation) at \(entry.at)")
            }
            if let last = input.history.lastAction {
                #expect(input.now - last >= input.policy.scaleDown.cooldown)
            }
        }
        #expect(downs.count >= 100, "exercised \(downs.count) scale-downs")
    }

    @Test("missing or stale signals never cause a scale-in")
    func missingSignalsNeverScaleIn() async {
        let missing = CaseCounter()
        await propertyCheck(count: 2000, input: situations) { situation in
            let decision = ScalingRule.decide(situation.input)
            if !decision.figures.missingQueues.isEmpty {
                missing.increment()
                #expect(decision.direction != .down, "\(decision.reason)")
            }
        }
        #expect(missing.count >= 100, "exercised \(missing.count) missing signals")
    }

    @Test("identical inputs give identical decisions")
    func deterministic() async {
        await propertyCheck(count: 500, input: situations) { situation in
            #expect(ScalingRule.decide(situation.input) == ScalingRule.decide(situation.input))
        }
    }

    @Test("the step never scales in below its busy tasks, never protects more tasks than it keeps, and never scales in blind")
    func stepInvariants() async {
        let busyDowns = CaseCounter(), blindDowns = CaseCounter(), protections = CaseCounter()
        await propertyCheck(count: 4000, input: zip(situations, numbers.array(of: 12))) { situation, raw in
            let numbers = Numbers(raw)
            let input = situation.input
            guard let state = input.service else { return }
            // Up to 8 tasks, some busy, some protected, some unreadable.
            let count = numbers[0] % 9
            let tasks = (0..<count).map { index in
                TaskSnapshot(
                    id: "t\(index)", privateIP: "10.0.0.\(index)", phase: numbers[1 + index % 4] % 7 == 0 ? .starting : .running,
                    protectedUntil: numbers[5 + index % 4] % 3 == 0 ? input.now + .seconds(Double(numbers[9] % 4000)) : nil)
            }
            let workers = tasks.enumerated().map { index, task in
                WorkerIdentity(name: "w\(index)", hostname: nil, ipAddress: "\(task.privateIP!):4000", isBusy: (numbers[10] >> index) & 1 == 1)
            }
            let reading: TaskReading = numbers[11] % 5 == 0 ? .unavailable(reason: "throttled") : .observed(tasks)
            let observation = ServiceObservation(queues: input.queues, service: state, workers: workers, tasks: reading)
            let (plan, _) = ServiceStep.plan(
                observation, memory: ServiceMemory(history: input.history), policy: input.policy,
                context: .init(interval: .seconds(5)), now: input.now)
            let decision = plan.decision
            if !plan.protection.protect.isEmpty {
                protections.increment()
                #expect(!state.isDeploymentInProgress, "protected during a deployment")
            }
            if case .observed = reading, input.policy.protectBusyTasks {
                // Whoever protected them, no more tasks stay protected than the service keeps:
                // protection on more would hold it above its count.
                let keeps = decision.desired ?? state.desired
                let protectedAfter = Set(tasks.filter { $0.isProtected(at: input.now) }.map(\.id))
                    .union(plan.protection.protect).subtracting(plan.protection.release)
                #expect(protectedAfter.count <= keeps, "\(protectedAfter.count) protected, keeping \(keeps)")
                if state.isDeploymentInProgress { #expect(protectedAfter.isEmpty, "protection left on during a deployment") }
            }
            guard case .set(let target) = plan.action, target < state.desired else { return }
            if case .unavailable = reading {
                blindDowns.increment()
                Issue.record("scaled in \(state.desired) → \(target) without reading the tasks")
            }
            if let floor = plan.busyTasks.floor, floor > 0 {
                busyDowns.increment()
                #expect(target >= min(floor, input.policy.maxTasks), "below \(floor) busy tasks: \(decision.reason)")
            }
        }
        #expect(busyDowns.count >= 30, "exercised \(busyDowns.count) scale-ins with busy tasks")
        #expect(protections.count >= 100, "exercised \(protections.count) protection plans")
        #expect(blindDowns.count == 0)
    }
}
