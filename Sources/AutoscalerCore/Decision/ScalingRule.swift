/// The scaling rule: a pure function from what the controller sees to the desiredCount it
/// should set, with its reason.
///
/// In order:
/// 1. Demand: running jobs plus servable jobs at `backlogPerWorker` each, over `workersPerTask`.
///    Servable is what a new task could pick up now: not a message a busy node prefetched, not
///    one stranded by a killed node, not work on a queue the service's workers do not listen on.
/// 2. Latency: if the oldest servable job waited longer than `maxWait`, every servable job gets
///    a worker, and at least one task is added when no task is already starting.
/// 3. Floors: the running jobs (scale-in kills them; when busy workers are mapped to tasks, every
///    busy task), a forecast, a schedule, `minTasks`.
/// 4. Missing signals: never below the current count (or the policy's fallback).
/// 5. Bounds `minTasks…maxTasks` (a schedule floor raises the lower one).
/// 6. Pace: scale up at once (or after its window), scale down only when the whole window
///    agrees, each direction with a cooldown and a step limit; no scale-in during a deployment.
///
/// Moving a service back inside its bounds is not paced: bounds win over windows and steps,
/// except that a service above a lowered `maxTasks` goes down only as far as its running jobs
/// allow (it reaches `maxTasks` as they finish).
public enum ScalingRule {
    /// Decides for one service.
    public static func decide(_ input: DecisionInput) -> Decision {
        let policy = input.policy
        let now = input.now
        let demand = QueueDemand(policy: policy, readings: input.queues, now: now, unconsumedQueues: input.unconsumedQueues)
        var figures = DecisionFigures()
        figures.pending = demand.pending
        if demand.hasUnservable {
            figures.servable = demand.servable
            figures.held = demand.held
            figures.stranded = demand.stranded.count
            figures.unconsumed = demand.unconsumed.values.reduce(0, +)
        }
        figures.running = demand.runningUnknown.isEmpty ? demand.running : nil
        figures.busyWorkers = demand.busyWorkers
        figures.oldestAge = demand.oldestAge
        figures.missingQueues = demand.missing
        figures.upperBound = policy.maxTasks

        let signals = describe(demand, policy)
        guard let state = input.service else {
            return Decision(
                service: policy.name, at: now, current: nil, desired: nil, recommendation: nil,
                code: .serviceUnknown, reason: "\(signals); ECS state unknown, holding",
                figures: figures)
        }
        let current = state.desired
        let slots = policy.workersPerTask

        // 1–3: what the work asks for, and which term asked most.
        let inFlight = demand.inFlight
        figures.runningFloor = max(ceilingDivision(inFlight, slots), state.busyTasks ?? 0)
        var pendingSlots = Double(demand.servable) / policy.target.backlogPerWorker
        var workNote = ""
        if let drainTime = policy.target.drainTime,
           let weighed = demand.slotsForWork(runtimes: input.expectedRuntimes, drainTime: drainTime) {
            pendingSlots = weighed.slots
            workNote = " (~\(weighed.work.compactDescription) of work to drain in \(drainTime.compactDescription))"
        }
        let slotsWanted = Double(inFlight) + pendingSlots
        figures.byBacklog = max(0, Int((slotsWanted / Double(slots) - 1e-9).rounded(.up)))
        let isLate = demand.servable > 0 && (demand.oldestServableAge.map { $0 > policy.target.maxWait } ?? false)
        if isLate {
            var latency = ceilingDivision(inFlight + demand.servable, slots)
            // Jobs wait although the slots look sufficient: workers are slower than counted or
            // stuck. Add a task, unless ECS is still starting the ones already asked for.
            if state.pending == 0 && state.running >= current { latency = max(latency, current + 1) }
            figures.byLatency = latency
        }
        let schedule = policy.scheduleFloor(at: now)
        figures.scheduleFloor = schedule?.tasks
        figures.predicted = input.predicted?.tasks

        var wanted = figures.byBacklog
        var code = ReasonCode.backlog
        var cause = demand.servable + inFlight == 0
            ? (demand.pending > 0 ? "no work a new task could take" : "no work")
            : "need \(figures.byBacklog) at \(slots) worker\(slots == 1 ? "" : "s")/task\(workNote)"
        if demand.servable == 0 && inFlight > 0 {
            code = .runningJobs
            cause = "running jobs need \(figures.runningFloor)"
        }
        if let latency = figures.byLatency, latency > wanted {
            (wanted, code) = (latency, .latency)
            cause = "waiting too long: \(latency) tasks give every pending job a worker"
        }
        // The backlog term already includes the running jobs; the floor is kept explicit so
        // that no later term can ever propose fewer tasks than the running jobs occupy.
        wanted = max(wanted, figures.runningFloor)
        if let predicted = input.predicted, predicted.tasks > wanted {
            (wanted, code) = (predicted.tasks, .forecast)
            cause = "forecast: \(predicted.reason)"
        }

        // 4: a missing signal may hide work, so it never lowers the count.
        if !demand.isComplete {
            if let fallback = policy.fallbackTasks, fallback > max(wanted, current) {
                (wanted, code) = (fallback, .fallback)
                cause = "fallback of \(fallback) while signals are missing"
            } else if current > wanted {
                (wanted, code) = (current, .signalsMissing)
                cause = "signals missing, not scaling in"
            }
        }

        // 5: bounds.
        let lower = min(max(policy.minTasks, schedule?.tasks ?? 0), policy.maxTasks)
        figures.lowerBound = lower
        var recommendation = wanted
        if wanted < lower {
            recommendation = lower
            if let schedule, schedule.tasks > policy.minTasks {
                code = .schedule
                cause = "schedule \(schedule.name) keeps at least \(schedule.tasks)"
            } else {
                code = .minimum
                cause = (demand.servable + inFlight == 0 ? "no work; " : "") + "minTasks is \(lower)"
            }
        } else if wanted > policy.maxTasks {
            recommendation = policy.maxTasks
            code = .maximum
            cause += ", capped at maxTasks \(policy.maxTasks)"
        }

        // 6: pace.
        func decision(_ desired: Int, _ code: ReasonCode, _ text: String) -> Decision {
            Decision(
                service: policy.name, at: now, current: current, desired: desired,
                recommendation: recommendation, code: code, reason: "\(signals); \(text)",
                figures: figures)
        }
        let history = input.history

        if recommendation > current {
            if current < lower {
                return decision(recommendation, code, cause)
            }
            let behavior = policy.scaleUp
            let stabilized = Stabilizer.lowest(
                recommendation, in: history, window: behavior.stabilizationWindow, now: now)
            if stabilized <= current {
                return decision(
                    current, .stabilizing,
                    "\(cause); holding at \(current) until the \(behavior.stabilizationWindow.compactDescription) scale-up window agrees")
            }
            if let last = history.lastScaleUp, now - last < behavior.cooldown {
                return decision(
                    current, .cooldown,
                    "\(cause); holding at \(current), scaled up \((now - last).compactDescription) ago (cooldown \(behavior.cooldown.compactDescription))")
            }
            let target = min(stabilized, current + behavior.maxStep)
            let limit = target < stabilized ? " (step limit \(behavior.maxStep))" : ""
            return decision(target, code, cause + limit)
        }

        if recommendation < current {
            if !demand.isComplete {
                return decision(current, .signalsMissing, "\(cause); signals missing, not scaling in")
            }
            if state.isDeploymentInProgress {
                return decision(current, .deployment, "\(cause); deployment in progress, not scaling in")
            }
            if current > policy.maxTasks {
                // A lowered maxTasks applies as the running queries finish: stopping a task that
                // runs one kills it.
                let target = max(policy.maxTasks, min(current, figures.runningFloor))
                if target == current {
                    return decision(current, .runningJobs, "above maxTasks \(policy.maxTasks), held at \(current) while running jobs need it")
                }
                return decision(target, .maximum, "above maxTasks \(policy.maxTasks)" + (target > policy.maxTasks ? "; running jobs need \(target) for now" : ""))
            }
            let behavior = policy.scaleDown
            let window = behavior.stabilizationWindow
            let watched = history.observingSince.map { now - $0 } ?? .zero
            if watched < window {
                return decision(
                    current, .stabilizing,
                    "\(cause); scale-down waits for a full \(window.compactDescription) window (watched \(watched.compactDescription))")
            }
            let stabilized = Stabilizer.highest(recommendation, in: history, window: window, now: now)
            if stabilized >= current {
                return decision(
                    current, .stabilizing,
                    "\(cause); the last \(window.compactDescription) asked for up to \(stabilized), holding at \(current)")
            }
            if let last = history.lastAction, now - last < behavior.cooldown {
                return decision(
                    current, .cooldown,
                    "\(cause); holding at \(current), last scaled \((now - last).compactDescription) ago (cooldown \(behavior.cooldown.compactDescription))")
            }
            let target = max(stabilized, current - behavior.maxStep)
            let limit = target > stabilized ? " (step limit \(behavior.maxStep))" : ""
            return decision(target, code, cause + limit)
        }

        return decision(current, code, cause)
    }

    /// The signals in one phrase: `9 pending + 2 running, oldest waited 48s > 30s`; with work a
    /// new task could not take, `3 pending (1 servable; 2 stranded) + 2 running, …`.
    static func describe(_ demand: QueueDemand, _ policy: ServicePolicy) -> String {
        var text = "\(demand.pending) pending"
        if demand.hasUnservable {
            var parts: [String] = []
            if demand.held > 0 { parts.append("\(demand.held) held by busy nodes") }
            if !demand.stranded.isEmpty { parts.append("\(demand.stranded.count) stranded") }
            let unconsumed = demand.unconsumed.values.reduce(0, +)
            if unconsumed > 0 { parts.append("\(unconsumed) on \(demand.unconsumed.keys.sorted().joined(separator: ", ")), which no worker of the service consumes") }
            text += " (\(demand.servable) servable; \(parts.joined(separator: ", ")))"
        }
        text += " + " + (demand.runningUnknown.isEmpty ? "\(demand.running) running" : "running unknown")
        if let busy = demand.busyWorkers, busy != demand.running {
            text += " (\(busy) busy workers)"
        }
        if let age = demand.hasUnservable ? demand.oldestServableAge : demand.oldestAge {
            let comparison = age > policy.target.maxWait ? " > " : " ≤ "
            text += ", oldest waited \(age.compactDescription)\(comparison)\(policy.target.maxWait.compactDescription)"
        }
        if !demand.missing.isEmpty {
            text += ", no signal from \(demand.missing.joined(separator: ", "))"
        }
        return text
    }

    static func ceilingDivision(_ numerator: Int, _ denominator: Int) -> Int {
        numerator <= 0 ? 0 : (numerator + denominator - 1) / denominator
    }
}
