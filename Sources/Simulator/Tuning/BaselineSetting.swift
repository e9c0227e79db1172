import AutoscalerCore

/// One baseline with one choice of its documented knobs: a point of a tuning grid, or a default
/// setup. A value, so that grids can be listed, compared and reported.
public enum BaselineSetting: Hashable, Sendable {
    /// AWS target tracking, on CPU or on backlog per task.
    case targetTracking(TargetTrackingAutoscaler.Settings)
    /// AWS step scaling on a queue-depth alarm.
    case stepScaling(StepScalingAutoscaler.Settings)
    /// KEDA's Redis list scaler with the HPA.
    case keda(ListLengthAutoscaler.Settings)
    /// danwiltshire/celery-ecs-autoscaler.
    case celeryECS(CeleryECSAutoscaler.Settings)
    /// Judoscale with its RQ adapter.
    case judoscale(JudoscaleAutoscaler.Settings)
    /// A constant count per service.
    case fixed([String: Int])
    /// Another setting, with workers that protect their own task while they run a job
    /// (`Simulation.workersProtectTheirTasks`): what a team can add to any baseline.
    indirect case selfProtecting(BaselineSetting)

    /// The knobs in a few words.
    public var summary: String {
        switch self {
        case .targetTracking(let settings): settings.summary
        case .stepScaling(let settings): settings.summary
        case .keda(let settings): settings.summary
        case .celeryECS(let settings): settings.summary
        case .judoscale(let settings): settings.summary
        case .fixed(let tasks): tasks.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        case .selfProtecting(let setting): setting.summary + "; workers protect their tasks"
        }
    }

    /// Runs `simulation` under this setting; the result is named `name`.
    public func run(_ simulation: Simulation, name: String, scenario: String) -> SimulationResult {
        let policy = simulation.policy
        switch self {
        case .targetTracking(let settings):
            var autoscaler = TargetTrackingAutoscaler(policy: policy, settings: settings, name: name)
            return simulation.run(&autoscaler, scenario: scenario)
        case .stepScaling(let settings):
            var autoscaler = StepScalingAutoscaler(policy: policy, settings: settings, name: name)
            return simulation.run(&autoscaler, scenario: scenario)
        case .keda(let settings):
            var autoscaler = ListLengthAutoscaler(policy: policy, settings: settings, name: name)
            return simulation.run(&autoscaler, scenario: scenario)
        case .celeryECS(let settings):
            var autoscaler = CeleryECSAutoscaler(policy: policy, settings: settings, name: name)
            return simulation.run(&autoscaler, scenario: scenario)
        case .judoscale(let settings):
            var autoscaler = JudoscaleAutoscaler(policy: policy, settings: settings, name: name)
            return simulation.run(&autoscaler, scenario: scenario)
        case .fixed(let tasks):
            var autoscaler = FixedAutoscaler(tasks: tasks, name: name)
            var fixed = simulation
            fixed.initialTasks = tasks
            return fixed.run(&autoscaler, scenario: scenario)
        case .selfProtecting(let setting):
            var guarded = simulation
            guarded.workersProtectTheirTasks = true
            return setting.run(guarded, name: name, scenario: scenario)
        }
    }
}

/// The alternatives a careful operator would tune, each with the grid of its documented knobs
/// that the report searches (docs/simulator.md says where each knob is documented).
public enum BaselineFamily: String, CaseIterable, Sendable, Codable {
    // Raw values are the names in reports.
    case targetTrackingHighResolution = "target tracking, high-resolution CPU"
    case backlogPerTask = "target tracking, backlog per task"
    case stepScaling = "step scaling on queue depth"
    case keda = "KEDA Redis list scaler"
    case celeryECS = "celery-ecs-autoscaler"
    case judoscale = "Judoscale"

    /// Every setting the search tries, in a fixed order (ties go to the first).
    public var grid: [BaselineSetting] {
        switch self {
        case .targetTrackingHighResolution:
            return product([0.3, 0.4, 0.5, 0.7], [60.0, 300], [60.0, 300]).map { target, out, scaleIn in
                .targetTracking(TargetTrackingAutoscaler.Settings(
                    metric: .cpu, target: target, period: 20, scaleOutCooldown: out, scaleInCooldown: scaleIn))
            }
        case .backlogPerTask:
            return product([0.5, 1, 2, 4], [60.0, 300], [60.0, 300]).map { target, out, scaleIn in
                .targetTracking(TargetTrackingAutoscaler.Settings(
                    metric: .backlogPerTask, target: target, period: 60, scaleOutCooldown: out, scaleInCooldown: scaleIn))
            }
        case .stepScaling:
            var grid: [BaselineSetting] = []
            for period in [10.0, 60] {
                for datapoints in [1, 2] {
                    for (threshold, steps, cooldown) in product([1.0, 4], [[1, 2, 4], [2, 4, 8]], [60.0, 300]) {
                        grid.append(.stepScaling(StepScalingAutoscaler.Settings(
                            period: period, datapoints: datapoints, threshold: threshold, steps: steps, cooldown: cooldown)))
                    }
                }
            }
            return grid
        case .keda:
            return product([1.0, 2, 5], [60.0, 120, 300], [4, 8]).map { listLength, window, pods in
                .keda(ListLengthAutoscaler.Settings(listLength: listLength, scaleUpPods: pods, scaleDownWindow: window))
            }
        case .celeryECS:
            return product([0.25, 0.5, 0.75, 1.0], [2, 4, 8], [0, 1, 2]).map { pressure, step, cooldowns in
                let (out, scaleIn) = [(60.0, 120.0), (15, 120), (15, 300)][cooldowns]
                return .celeryECS(CeleryECSAutoscaler.Settings(
                    targetPressure: pressure, scaleInPressure: pressure / 3, scaleOutStep: step,
                    scaleOutCooldown: out, scaleInCooldown: scaleIn))
            }
        case .judoscale:
            var grid: [BaselineSetting] = []
            for busy in [false, true] {
                for (threshold, jumps, delay) in product([5.0, 15, 30], [1, 4, 8], [180.0, 600]) {
                    grid.append(.judoscale(JudoscaleAutoscaler.Settings(
                        upscaleThreshold: threshold, downscaleThreshold: threshold / 2, upscaleJumps: jumps,
                        upscaleFrequency: 60, downscaleDelay: delay, tracksBusyJobs: busy)))
                }
            }
            return grid
        }
    }
}

/// The default setups the first comparison measured, kept in every report, labelled as defaults.
public enum DefaultSetup: String, CaseIterable, Sendable, Codable {
    // Raw values are the names in reports.
    case targetTracking = "target tracking, CPU 70 % (defaults)"
    case targetTrackingHighResolution = "target tracking, high-resolution CPU 70 % (defaults)"
    case keda = "KEDA listLength 5 (defaults)"
    case celeryECS = "celery-ecs-autoscaler (defaults)"

    /// The setting.
    public var setting: BaselineSetting {
        switch self {
        case .targetTracking: .targetTracking(.cpuDefaults)
        case .targetTrackingHighResolution:
            .targetTracking(TargetTrackingAutoscaler.Settings(metric: .cpu, target: 0.7, period: 20))
        case .keda: .keda(.defaults)
        case .celeryECS: .celeryECS(.defaults)
        }
    }
}

func product<A, B, C>(_ a: [A], _ b: [B], _ c: [C]) -> [(A, B, C)] {
    a.flatMap { x in b.flatMap { y in c.map { z in (x, y, z) } } }
}
