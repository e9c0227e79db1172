import AutoscalerCore
import Simulator
import Testing
import IntegrationSupport

/// One service `w` on `queries`, 1…10 tasks of 2 workers.
private let policy = Policy(
    cluster: "c", redis: RedisSettings(url: SecretURL("redis://localhost")),
    services: [ServicePolicy(name: "w", queues: ["queries"], minTasks: 1, maxTasks: 10)])

private func view(
    at seconds: Double, desired: Int, running: Int? = nil, pending: Int = 0, oldest: Double? = nil, runningJobs: Int = 0, cpu: Double = 0
) -> ClusterView {
    let now = Instant(secondsSinceEpoch: 1_800_000_000 + seconds)
    let queue = QueueObservation(
        queue: "queries", pending: pending, running: runningJobs, oldestAge: oldest.map { .seconds($0) }, observedAt: now)
    return ClusterView(
        now: now, queues: ["queries": queue],
        services: [ServiceView(name: "w", desired: desired, running: running ?? desired, pending: 0, cpu: cpu)])
}

/// Drives `autoscaler` from `start` at its own tick interval while `situation` describes the
/// cluster, applying its answers to `desired`; returns each change with its time.
private func drive(
    _ autoscaler: inout some SimulatedAutoscaler, desired: inout Int, until end: Double, start: Double = 0,
    _ situation: (Double, Int) -> ClusterView
) -> [(time: Double, to: Int)] {
    var changes: [(Double, Int)] = []
    var time = start
    while time <= end {
        if let next = autoscaler.tick(situation(time, desired)).desired["w"], next != desired {
            desired = next
            changes.append((time, next))
        }
        time += autoscaler.tickInterval
    }
    return changes
}

@Suite("Baselines as documented", .testThreads)
struct BaselineFidelityTests {
    @Test("high-resolution target tracking: the third 20 s datapoint above the target triggers, at 50 s")
    func highResolutionTrigger() {
        var autoscaler = TargetTrackingAutoscaler(
            policy: policy, settings: .init(metric: .cpu, target: 0.7, period: 20))
        var desired = 2
        let changes = drive(&autoscaler, desired: &desired, until: 100) { time, count in view(at: time, desired: count, running: 2, cpu: 1) }
        #expect(changes.first?.time == 50)
        #expect(changes.first?.to == 3, "2 × 100 % ÷ 70 % = 2.9, rounded up")
    }

    @Test("backlog per task: desired × (pending ÷ running tasks) ÷ target, after three one-minute datapoints")
    func backlogPerTask() {
        var autoscaler = TargetTrackingAutoscaler(policy: policy, settings: .init(metric: .backlogPerTask, target: 2, period: 60))
        var desired = 2
        let changes = drive(&autoscaler, desired: &desired, until: 200) { time, count in view(at: time, desired: count, running: 2, pending: 12) }
        #expect(changes.map(\.time) == [170])
        #expect(changes.map(\.to) == [6], "12 pending over 2 running tasks is 6 a task; 2 × 6 ÷ 2 = 6")
    }

    @Test("backlog per task has no datapoint while no task runs (metric math m1 ÷ m2 is undefined)")
    func backlogWithoutRunningTasks() {
        var autoscaler = TargetTrackingAutoscaler(policy: policy, settings: .init(metric: .backlogPerTask, target: 2, period: 60))
        var desired = 1
        let changes = drive(&autoscaler, desired: &desired, until: 600) { time, count in view(at: time, desired: count, running: 0, pending: 30) }
        #expect(changes.isEmpty)
        #expect(autoscaler.datapoints(of: 0).allSatisfy { $0 == nil })
    }

    @Test("during the scale-out cooldown only a larger scale-out goes through, computed from the count before it",
          arguments: [(pendingLater: 12, expected: [6]), (pendingLater: 40, expected: [6, 10])])
    func scaleOutCooldown(pendingLater: Int, expected: [Int]) {
        var autoscaler = TargetTrackingAutoscaler(
            policy: policy, settings: .init(metric: .backlogPerTask, target: 2, period: 60, scaleOutCooldown: 300))
        var desired = 2
        let changes = drive(&autoscaler, desired: &desired, until: 290) { time, count in
            view(at: time, desired: count, running: 2, pending: time < 180 ? 12 : pendingLater)
        }
        #expect(changes.map(\.to) == expected)
    }

    @Test("step scaling: the step depends on how far the datapoint is above the threshold", arguments: [
        (pending: 4, expected: 2), (pending: 10, expected: 3), (pending: 20, expected: 5),
    ])
    func stepSizes(pending: Int, expected: Int) {
        var autoscaler = StepScalingAutoscaler(
            policy: policy, settings: .init(period: 10, datapoints: 1, threshold: 4, steps: [1, 2, 4], cooldown: 300))
        #expect(autoscaler.tick(view(at: 0, desired: 1, pending: pending)).desired["w"] == expected)
    }

    @Test("step scaling in its cooldown adds only the difference of a larger step (+2, then a +3 step adds 1)")
    func stepCooldown() {
        var autoscaler = StepScalingAutoscaler(
            policy: policy, settings: .init(period: 10, datapoints: 1, threshold: 4, steps: [2, 3, 5], cooldown: 300))
        var desired = 1
        let changes = drive(&autoscaler, desired: &desired, until: 40) { time, count in view(at: time, desired: count, pending: time < 20 ? 5 : 9) }
        #expect(changes.map(\.to) == [3, 4])
    }

    @Test("step scaling removes one task once the queue has been empty for scaleInAfter, then waits a cooldown")
    func stepScaleIn() {
        var autoscaler = StepScalingAutoscaler(
            policy: policy, settings: .init(period: 60, datapoints: 1, threshold: 1, steps: [1, 2, 4], cooldown: 120, scaleInAfter: 300))
        var desired = 4
        let changes = drive(&autoscaler, desired: &desired, until: 600) { time, count in view(at: time, desired: count, pending: 0) }
        #expect(changes.map(\.time) == [290, 410, 530])
        #expect(changes.map(\.to) == [3, 2, 1])
    }

    @Test("KEDA's HPA adds at most the larger of +pods and +percent per sync")
    func kedaScaleUpLimit() {
        var autoscaler = ListLengthAutoscaler(policy: policy, settings: .init(listLength: 1, scaleUpPods: 4))
        #expect(autoscaler.tick(view(at: 0, desired: 2, pending: 100)).desired["w"] == 6)
        #expect(autoscaler.tick(view(at: 15, desired: 6, pending: 100)).desired["w"] == 10)
    }

    @Test("celery-ecs-autoscaler: pressure = queued ÷ (desired × concurrency), steps towards its size", arguments: [
        ("12 queued on 1 task: pressure 6 > 0.75, +2 towards 8", 1, 12, 3 as Int?),
        ("1 queued on 4 tasks: pressure 0.125 < 0.25, −1", 4, 1, 3),
        ("4 queued on 4 tasks: pressure 0.5, hold", 4, 4, nil),
        ("nothing queued while jobs run: pressure 0, −1 (it cannot see them)", 3, 0, 2),
    ])
    func celeryPressure(_ name: String, desired: Int, queued: Int, expected: Int?) {
        var autoscaler = CeleryECSAutoscaler(policy: policy)
        #expect(autoscaler.tick(view(at: 0, desired: desired, pending: queued, runningJobs: 6)).desired["w"] == expected, "\(name)")
    }

    @Test("celery-ecs-autoscaler keeps a cooldown per direction: a scale-in does not hold back a scale-out")
    func celeryCooldowns() {
        var autoscaler = CeleryECSAutoscaler(policy: policy)
        #expect(autoscaler.tick(view(at: 0, desired: 4, pending: 0)).desired["w"] == 3)
        #expect(autoscaler.tick(view(at: 15, desired: 3, pending: 0)).desired["w"] == nil, "scale-in cooldown 120 s")
        #expect(autoscaler.tick(view(at: 30, desired: 3, pending: 30)).desired["w"] == 5)
        #expect(autoscaler.tick(view(at: 45, desired: 5, pending: 60)).desired["w"] == nil, "scale-out cooldown 60 s")
    }

    @Test("Judoscale upscales on queue time, then waits its upscale frequency")
    func judoscaleUpscale() {
        var autoscaler = JudoscaleAutoscaler(
            policy: policy, settings: .init(upscaleThreshold: 10, downscaleThreshold: 5, upscaleJumps: 2, upscaleFrequency: 60))
        var desired = 1
        let changes = drive(&autoscaler, desired: &desired, until: 120) { time, count in
            view(at: time, desired: count, pending: 5, oldest: time >= 20 ? 15 : 8)
        }
        #expect(changes.map(\.time) == [20, 80])
        #expect(changes.map(\.to) == [3, 5])
    }

    @Test("Judoscale downscales one task per downscale delay once queue time has settled; busy-job tracking holds it",
          arguments: [(tracksBusyJobs: false, expected: [600.0, 1200]), (tracksBusyJobs: true, expected: [])])
    func judoscaleDownscale(tracksBusyJobs: Bool, expected: [Double]) {
        var autoscaler = JudoscaleAutoscaler(
            policy: policy, settings: .init(upscaleThreshold: 10, downscaleThreshold: 5, downscaleDelay: 600, tracksBusyJobs: tracksBusyJobs))
        var desired = 3
        let changes = drive(&autoscaler, desired: &desired, until: 1300) { time, count in view(at: time, desired: count, runningJobs: 2) }
        #expect(changes.map(\.time) == expected)
    }

    @Test("Judoscale hears nothing while no task runs: its adapter is inside the tasks")
    func judoscaleNeedsATask() {
        var autoscaler = JudoscaleAutoscaler(policy: policy, settings: .init(upscaleThreshold: 10, downscaleThreshold: 5))
        #expect(autoscaler.tick(view(at: 0, desired: 1, running: 0, pending: 9, oldest: 120)).desired.isEmpty)
    }
}
