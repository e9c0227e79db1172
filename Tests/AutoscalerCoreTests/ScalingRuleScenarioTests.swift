import AutoscalerCore
import Testing
import TestSupport
import IntegrationSupport

/// One named situation and what the rule must decide in it.
struct RuleScenario: CustomTestStringConvertible, Sendable {
    var name: String
    var input: DecisionInput
    var desired: Int?
    var code: ReasonCode

    var testDescription: String { name }
}

private let now = Build.monday
private let quietTenMinutes = Build.steadyHistory(recommending: 1, for: .seconds(600))

private func scenario(
    _ name: String, _ policy: ServicePolicy, _ queues: [String: QueueReading], _ state: ServiceState?,
    history: ScalingHistory = ScalingHistory(), predicted: PredictedDemand? = nil, at: Instant = now, unconsumed: Set<String> = [],
    expect desired: Int?, _ code: ReasonCode
) -> RuleScenario {
    RuleScenario(
        name: name,
        input: DecisionInput(policy: policy, queues: queues, service: state, predicted: predicted, history: history, now: at, unconsumedQueues: unconsumed),
        desired: desired, code: code)
}

let ruleScenarios: [RuleScenario] = [
    scenario("scale up: 12 pending, 2 per task, 1 running, max 5 -> 5",
             Build.service(max: 5), ["queries": Build.queue(pending: 12, running: 1, oldest: 5)],
             Build.state(desired: 1), expect: 5, .maximum),
    scenario("overload: 20 minute-long adhoc queries on 1 task with 2 workers, max 8 -> 8",
             Build.service(max: 8), ["queries": Build.queue(pending: 18, running: 2, oldest: 45, busy: 2)],
             Build.state(desired: 1), expect: 8, .maximum),
    scenario("backlog: 5 pending + 2 running at 2 workers/task -> 4",
             Build.service(), ["queries": Build.queue(pending: 5, running: 2, oldest: 3)],
             Build.state(desired: 1), expect: 4, .backlog),
    scenario("backlog allowance: 4 pending at 4 per worker fit 1 task",
             Build.service(backlogPerWorker: 4), ["queries": Build.queue(pending: 4, running: 1, oldest: 10)],
             Build.state(desired: 1), expect: 1, .backlog),
    scenario("latency: 2 pending waited 60s > 30s although the backlog allowance fits -> 3",
             Build.service(backlogPerWorker: 10), ["queries": Build.queue(pending: 2, running: 3, oldest: 60)],
             Build.state(desired: 2), expect: 3, .latency),
    scenario("latency while ECS is still starting a task: no extra task",
             Build.service(backlogPerWorker: 10), ["queries": Build.queue(pending: 1, running: 4, oldest: 40)],
             Build.state(desired: 3, running: 2, pending: 1), expect: 3, .backlog),
    scenario("running floor: 5 running jobs on 2 workers/task keep 3 of 4 tasks after a quiet window",
             Build.service(), ["queries": Build.queue(pending: 0, running: 5)],
             Build.state(desired: 4), history: Build.steadyHistory(recommending: 3, for: .seconds(600)),
             expect: 3, .runningJobs),
    scenario("busy workers count when the started registry lags: 4 busy, 2 running -> floor 2",
             Build.service(min: 0), ["queries": Build.queue(pending: 0, running: 2, busy: 4)],
             Build.state(desired: 2), history: quietTenMinutes, expect: 2, .runningJobs),
    scenario("steady: 2 running on 1 task of 2 workers, nothing waiting -> hold",
             Build.service(), ["queries": Build.queue(pending: 0, running: 2)],
             Build.state(desired: 1), expect: 1, .runningJobs),
    scenario("idle at the minimum: hold",
             Build.service(), ["queries": Build.queue()], Build.state(desired: 1),
             history: quietTenMinutes, expect: 1, .minimum),
    scenario("scale down after a quiet window, four tasks per step: 6 -> 2",
             Build.service(), ["queries": Build.queue()], Build.state(desired: 6),
             history: quietTenMinutes, expect: 2, .minimum),
    scenario("scale down with a 5-minute window and steps of 2: 6 -> 4",
             Build.service(scaleDown: ScalingBehavior(stabilizationWindow: .seconds(300), maxStep: 2, cooldown: .seconds(60))),
             ["queries": Build.queue()], Build.state(desired: 6), history: quietTenMinutes, expect: 4, .minimum),
    scenario("scale down waits on a controller that has watched only 1 minute",
             Build.service(), ["queries": Build.queue()], Build.state(desired: 6),
             history: Build.steadyHistory(recommending: 1, for: .seconds(60)), expect: 6, .stabilizing),
    scenario("scale down holds while the window remembers a higher recommendation",
             Build.service(), ["queries": Build.queue()], Build.state(desired: 6),
             history: ScalingHistory(entries: [
                 .init(at: now - .seconds(400), recommendation: 1),
                 .init(at: now - .seconds(90), recommendation: 6),
                 .init(at: now - .seconds(5), recommendation: 1),
             ]), expect: 6, .stabilizing),
    scenario("scale down goes only as low as the window's highest recommendation: 6 -> 5",
             Build.service(), ["queries": Build.queue()], Build.state(desired: 6),
             history: ScalingHistory(entries: [
                 .init(at: now - .seconds(400), recommendation: 1),
                 .init(at: now - .seconds(90), recommendation: 5),
             ]), expect: 5, .minimum),
    scenario("scale down waits for the cooldown after a scale-up 10s ago",
             Build.service(), ["queries": Build.queue()], Build.state(desired: 6),
             history: Build.steadyHistory(recommending: 1, for: .seconds(600), lastScaleUp: now - .seconds(10)),
             expect: 6, .cooldown),
    scenario("scale up waits for its cooldown when one is set",
             Build.service(scaleUp: ScalingBehavior(stabilizationWindow: .zero, maxStep: 10, cooldown: .seconds(60))),
             ["queries": Build.queue(pending: 10, oldest: 5)], Build.state(desired: 2),
             history: ScalingHistory(lastScaleUp: now - .seconds(20)), expect: 2, .cooldown),
    scenario("scale up waits for its stabilization window when one is set",
             Build.service(scaleUp: ScalingBehavior(stabilizationWindow: .seconds(30), maxStep: 10, cooldown: .zero)),
             ["queries": Build.queue(pending: 10, oldest: 5)], Build.state(desired: 2),
             history: Build.steadyHistory(recommending: 2, for: .seconds(60)), expect: 2, .stabilizing),
    scenario("scale up is limited by maxStep: 1 -> 4 when 10 are needed",
             Build.service(max: 20, scaleUp: ScalingBehavior(stabilizationWindow: .zero, maxStep: 3, cooldown: .zero)),
             ["queries": Build.queue(pending: 18, running: 2, oldest: 5)], Build.state(desired: 1),
             expect: 4, .backlog),
    scenario("redis unreachable: hold at 4, never scale in",
             Build.service(), ["queries": .unavailable(reason: "redis: connection refused")],
             Build.state(desired: 4), history: quietTenMinutes, expect: 4, .signalsMissing),
    scenario("redis unreachable with fallbackTasks 3: 1 -> 3",
             Build.service(fallback: 3), ["queries": .unavailable(reason: "redis: timeout")],
             Build.state(desired: 1), expect: 3, .fallback),
    scenario("an observation older than staleAfter counts as missing",
             Build.service(), ["queries": Build.queue(at: now - .seconds(120))],
             Build.state(desired: 4), history: quietTenMinutes, expect: 4, .signalsMissing),
    scenario("a queue with no reading at all counts as missing",
             Build.service(queues: ["queries", "emails"]), ["queries": Build.queue()],
             Build.state(desired: 3), history: quietTenMinutes, expect: 3, .signalsMissing),
    scenario("partial signals still allow a scale-up from what is seen",
             Build.service(queues: ["queries", "emails"]),
             ["queries": Build.queue(pending: 6, oldest: 5), "emails": .unavailable(reason: "timeout")],
             Build.state(desired: 1), expect: 3, .backlog),
    scenario("deployment in progress: no scale-in",
             Build.service(), ["queries": Build.queue()], Build.state(desired: 5, deploying: true),
             history: quietTenMinutes, expect: 5, .deployment),
    scenario("deployment in progress still allows scale-up",
             Build.service(), ["queries": Build.queue(pending: 6, oldest: 2)],
             Build.state(desired: 1, deploying: true), expect: 3, .backlog),
    scenario("below minTasks: straight to the minimum whatever the step",
             Build.service(min: 6, max: 10, scaleUp: ScalingBehavior(stabilizationWindow: .zero, maxStep: 1, cooldown: .seconds(600))),
             ["queries": Build.queue()], Build.state(desired: 0),
             history: ScalingHistory(lastScaleUp: now - .seconds(5)), expect: 6, .minimum),
    scenario("above maxTasks (someone set 12): straight to the maximum",
             Build.service(max: 5), ["queries": Build.queue(running: 2)], Build.state(desired: 12),
             expect: 5, .maximum),
    scenario("maxTasks lowered to 2 under 8 running queries (2 per task): down to the 4 tasks they need, not 2",
             Build.service(max: 2), ["queries": Build.queue(running: 8)], Build.state(desired: 6),
             expect: 4, .maximum),
    scenario("maxTasks lowered under running queries that need every task: held",
             Build.service(max: 2), ["queries": Build.queue(running: 12)], Build.state(desired: 6),
             expect: 6, .runningJobs),
    scenario("business-hours schedule raises the floor to 3 at 10:00 JST on a Monday",
             Build.service(schedules: [ScheduleFloor(
                 name: "business-hours", days: [.monday], startMinute: 9 * 60, endMinute: 19 * 60,
                 utcOffset: .seconds(9 * 3600), minTasks: 3)]),
             ["queries": Build.queue()], Build.state(desired: 1),
             at: CivilTime.instant(year: 2026, month: 11, day: 23, hour: 10, utcOffset: .seconds(9 * 3600)),
             expect: 3, .schedule),
    scenario("forecast of a scheduled burst pre-scales to 4",
             Build.service("redash-scheduled-worker", queues: ["scheduled_queries"], workers: 1),
             ["scheduled_queries": Build.queue("scheduled_queries")], Build.state(desired: 1),
             predicted: PredictedDemand(tasks: 4, reason: "12 scheduled queries due at 13:00"),
             expect: 4, .forecast),
    scenario("ECS unreadable: hold with nothing to apply",
             Build.service(), ["queries": Build.queue(pending: 30, oldest: 90)], nil,
             expect: nil, .serviceUnknown),
    scenario("several queues add up: 3 + 4 pending, 1 running, 1 worker/task -> 8",
             Build.service(queues: ["queries", "schemas"], max: 10, workers: 1),
             ["queries": Build.queue(pending: 3, running: 1, oldest: 4),
              "schemas": Build.queue("schemas", pending: 4, oldest: 2)],
             Build.state(desired: 2), expect: 8, .backlog),
    // Servable demand: only work a new task could pick up.
    scenario("stranded: 1 message in unacked no live node holds, fetched 8m54s ago, 2 idle tasks -> hold at 2, no climb",
             Build.service(min: 1, max: 8), ["queries": Build.celeryQueue(stranded: 1, running: 0)],
             Build.state(desired: 2), expect: 2, .stabilizing),
    scenario("held: 2 running on a task of 2 workers, which prefetched 2 more behind them -> 1, not 2",
             Build.service(min: 1, max: 9), ["queries": Build.celeryQueue(held: 2, running: 2)],
             Build.state(desired: 1), expect: 1, .runningJobs),
    scenario("held and listed: 2 held behind 2 running, 3 listed waiting 40s -> 3 (running 2 + listed 3 at 2/task)",
             Build.service(min: 1, max: 9), ["queries": Build.celeryQueue(listed: 3, oldest: 40, held: 2, running: 2)],
             Build.state(desired: 1), expect: 3, .backlog),
    scenario("unconsumed: 1 job on a queue no worker of the service listens on -> hold at 1",
             Build.service(queues: ["queries", "queries_ds2"], min: 1, max: 8),
             ["queries": Build.queue("queries"), "queries_ds2": Build.queue("queries_ds2", pending: 1, oldest: 120)],
             Build.state(desired: 1), unconsumed: ["queries_ds2"], expect: 1, .minimum),
    scenario("unclassified prefetched messages (no complete round) count as before: 2 waiting 9m -> 3",
             Build.service(min: 1, max: 8), ["queries": Build.celeryQueue(unclassified: 2, running: 2)],
             Build.state(desired: 2), expect: 3, .latency),

]

@Suite("Scaling rule scenarios", .testThreads)
struct ScalingRuleScenarioTests {
    @Test(arguments: ruleScenarios)
    func decides(_ scenario: RuleScenario) {
        let decision = ScalingRule.decide(scenario.input)
        #expect(decision.desired == scenario.desired, "\(decision.reason)")
        #expect(decision.code == scenario.code, "\(decision.reason)")
    }

    @Test("the reason names the numbers behind a scale-up")
    func reasonNamesTheNumbers() {
        let decision = ScalingRule.decide(DecisionInput(
            policy: Build.service(), queues: ["queries": Build.queue(pending: 9, running: 2, oldest: 48)],
            service: Build.state(desired: 1), history: ScalingHistory(), now: now))
        #expect(decision.direction == .up)
        #expect(decision.reason.hasPrefix("9 pending + 2 running, oldest waited 48s > 30s"), "\(decision.reason)")
    }

    @Test("a missing queue's reason reaches the decision")
    func missingReasonIsReported() {
        let decision = ScalingRule.decide(DecisionInput(
            policy: Build.service(), queues: ["queries": .unavailable(reason: "connection refused")],
            service: Build.state(desired: 2), history: quietTenMinutes, now: now))
        #expect(decision.figures.missingQueues == ["queries (connection refused)"])
        #expect(decision.reason.contains("connection refused"))
    }
}

/// `target.drainTime`: the backlog weighed by typical runtime instead of counted.
@Suite("Work-weighted backlog", .testThreads)
struct WorkWeightedBacklogTests {
    static func decide(pending: Int, runtime: Duration?, drainTime: Duration? = .seconds(120)) -> Decision {
        var policy = Build.service(max: 20)
        policy.target = ScalingTarget(backlogPerWorker: 1, maxWait: .seconds(600), drainTime: drainTime)
        return ScalingRule.decide(DecisionInput(
            policy: policy, queues: ["queries": Build.queue(pending: pending, running: 0, oldest: 5)],
            service: Build.state(desired: 1), history: ScalingHistory(), now: Build.monday,
            expectedRuntimes: runtime.map { ["queries": $0] } ?? [:]))
    }

    @Test("twelve 2-second queries drain on one worker within 2 minutes; twelve 20-minute ones need a worker each")
    func weighs() {
        // 12 × 2 s = 24 s of work, drained in 120 s by 0.2 slots: one task (the minimum).
        let quick = Self.decide(pending: 12, runtime: .seconds(2))
        #expect(quick.desired == 1)
        #expect(quick.reason.contains("~24s of work to drain in 2m"), "\(quick.reason)")
        // 12 × 1200 s = 4 h of work: 120 slots wanted, capped at the 12 jobs -> 6 tasks of 2.
        let slow = Self.decide(pending: 12, runtime: .seconds(1200))
        #expect(slow.desired == 6)
        // 10 × 30 s = 300 s in 120 s: 2.5 slots -> 2 tasks.
        #expect(Self.decide(pending: 10, runtime: .seconds(30)).desired == 2)
    }

    @Test("without a runtime, or without drainTime, jobs are counted as before")
    func fallsBack() {
        #expect(Self.decide(pending: 12, runtime: nil).desired == 6)
        #expect(Self.decide(pending: 12, runtime: .seconds(2), drainTime: nil).desired == 6)
    }
}
