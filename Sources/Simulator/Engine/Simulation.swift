import AutoscalerCore

/// A deterministic discrete-event simulation of Redash workers on ECS under one autoscaler.
///
/// Jobs arrive from a `Workload`, wait in FIFO queues, and run on worker slots of the tasks of the
/// service consuming their queue. Tasks start after a random delay; on scale-in ECS stops tasks
/// chosen at random among the unprotected ones, and a busy worker's job is lost after the
/// shutdown delay. The same workload, model and seed always give the same result.
public struct Simulation {
    /// The policy: services, queues, bounds, workers per task.
    public var policy: Policy
    /// The jobs.
    public var workload: Workload
    /// ECS and worker behaviour.
    public var ecs: ECSModel
    /// Seeds the ECS choices (task start delays, which task a scale-in stops).
    public var seed: UInt64
    /// Seconds between timeline samples (for charts).
    public var sampleInterval: Double
    /// Tasks each service runs at second 0; `minTasks` when not given.
    public var initialTasks: [String: Int]
    /// ECS deployments rolling out during the run (ECS reports them; scaling in waits).
    public var deployments: [SimulatedDeployment] = []
    /// Workers protect their own task while they run a job (the in-worker pattern: each worker
    /// calls the ECS agent's task-protection endpoint when it takes a job and when it ends), so
    /// that ECS stops only idle tasks whatever the autoscaler. `ECSModel.selfProtectionLatency`
    /// after the first job starts.
    public var workersProtectTheirTasks = false
    /// A user whose adhoc query was killed runs it again this many seconds later (`nil`: never).
    /// The new attempt queues like any job; its wait is counted from when the user first asked.
    /// Killed scheduled refreshes are not re-run: the next schedule refreshes them.
    public var rerunKilledAdhocAfter: Double? = 60

    /// Creates a simulation.
    public init(
        policy: Policy, workload: Workload, ecs: ECSModel = ECSModel(), seed: UInt64,
        sampleInterval: Double = 60, initialTasks: [String: Int] = [:]
    ) {
        self.policy = policy
        self.workload = workload
        self.ecs = ecs
        self.seed = seed
        self.sampleInterval = sampleInterval
        self.initialTasks = initialTasks
    }

    /// Runs the whole workload under `autoscaler`.
    public func run(_ autoscaler: inout some SimulatedAutoscaler, scenario: String = "") -> SimulationResult {
        var engine = Engine(simulation: self)
        return engine.run(&autoscaler, scenario: scenario)
    }

    /// Runs the whole workload under the reactive oracle: the best a controller that reads queues
    /// could do. It learns of each job the instant it is enqueued (never before), starts at
    /// once a task for every job no free or starting slot will take (up to `maxTasks`, on the
    /// same start delays as every autoscaler), and stops only tasks that have been idle for the
    /// mean task start, so it kills nothing. It is a yardstick, not a controller: no real
    /// reading of ECS and Redis is instant, and it acts on the simulation directly.
    public func runReactiveOracle(name: String = ReactiveOracle.name, scenario: String = "") -> SimulationResult {
        var engine = Engine(simulation: self)
        return engine.run(reactiveOracleNamed: name, scenario: scenario)
    }

    /// Runs the whole workload on task lifetimes chosen in advance by an oracle (the clairvoyant
    /// floor): no autoscaler looks at the cluster. Each planned task is launched one start time
    /// (drawn as for every other task) before it must be running, and is stopped only once idle.
    public func run(plan: CapacityPlan, name: String, scenario: String = "") -> SimulationResult {
        var engine = Engine(simulation: self)
        return engine.run(plan: plan, name: name, scenario: scenario)
    }
}

/// Task lifetimes chosen in advance, per service name: what an oracle that knows every job would
/// run. Only the clairvoyant floor builds one; it is not a controller.
public struct CapacityPlan: Sendable, Hashable {
    /// One task: running from `ready` (seconds after the start; `0` or less for a task running
    /// when the simulation starts), stopped at `stop` or as soon as it is idle after it.
    public struct Lifetime: Sendable, Hashable {
        /// When it must be running, seconds after the start.
        public var ready: Double
        /// When it stops (once idle), seconds after the start.
        public var stop: Double

        /// Creates a lifetime.
        public init(ready: Double, stop: Double) {
            self.ready = ready
            self.stop = stop
        }
    }

    /// The tasks of each service.
    public var tasks: [String: [Lifetime]]

    /// Creates a plan.
    public init(tasks: [String: [Lifetime]]) {
        self.tasks = tasks
    }
}

/// The reactive oracle's name in reports (`Simulation.runReactiveOracle`).
public enum ReactiveOracle {
    public static let name = "reactive oracle"
}

/// The controller of the runs no autoscaler drives (a plan, the reactive oracle): never ticks.
struct NoController: SimulatedAutoscaler {
    var name: String { "" }
    var tickInterval: Double { .infinity }
    var readsTasks: Bool { false }
    mutating func tick(_ view: ClusterView) -> AutoscalerActions { AutoscalerActions() }
}

/// An ECS deployment of one service: from `start` for `duration` simulated seconds.
public struct SimulatedDeployment: Sendable, Hashable {
    public var service: String
    public var start: Double
    public var duration: Double

    public init(service: String, start: Double, duration: Double) {
        self.service = service
        self.start = start
        self.duration = duration
    }

    func covers(_ time: Double) -> Bool { time >= start && time < start + duration }
}

/// The mutable state of one run.
struct Engine {
    enum TaskState { case starting, running, stopping, gone }

    struct SimTask {
        var service: Int
        var launchedAt: Double
        var endedAt: Double?
        var state: TaskState
        var slots: [Int]  // job index, or -1 when free
        var busy = 0
        /// Simulated seconds until which ECS scale-in protection holds; `nil` when unprotected.
        var protectedUntil: Double?
        /// Since when the task has had no job (the reactive oracle's idle rule only).
        var idleSince: Double?

        func isProtected(at now: Double) -> Bool { protectedUntil.map { $0 > now } ?? false }
    }

    struct JobState {
        var startedAt = -1.0
        var finishedAt = -1.0
        var isKilled = false
        /// Killed and run again by its user: the new attempt's wait counts, not this one's.
        var isSuperseded = false
        /// When its user first asked for it (an earlier attempt's arrival for a re-run).
        var askedAt: Double
    }

    enum Event {
        case finish(job: Int, task: Int, slot: Int)
        case ready(task: Int)
        case kill(task: Int)
        /// The autoscaler's tick; one whose generation is past was replaced by an early tick.
        case tick(generation: Int)
        /// The queue watch between ticks (`SimulatedAutoscaler.reactInterval`).
        case react(generation: Int)
        case sample
        case plannedLaunch(service: Int, ready: Double, stop: Double, startTime: Double)
        case retire(task: Int)
        /// The reactive oracle looks whether a task has stayed idle for its grace.
        case idleCheck(task: Int)
        /// An autoscaler's answer reaches ECS (`ECSModel.actionLatency` after its reading).
        case act(Int)
        /// An autoscaler reads again before its scale-in lands (`ECSModel.recheckLatency` before).
        case recheck(Int)
        /// A worker's own protection call lands: protected while the task has a job.
        case selfProtection(task: Int)
        /// A user runs a killed query again.
        case rerun(job: Int)
    }

    let simulation: Simulation
    let services: [ServicePolicy]
    var random: SeededRandom
    /// Task start delays, one stream per service: the k-th task a service launches takes as long
    /// to start under every autoscaler (common random numbers), so that a comparison measures
    /// the autoscalers rather than which draws each happened to get.
    var startDelays: [SeededRandom]
    var events = EventQueue<Event>()
    var jobs: [JobState]
    /// Every job: the workload's, then the re-runs of killed ones.
    var specs: [SimulatedJob]
    /// Answers of autoscalers on their way to ECS, by `.act` index.
    var inFlight: [Int: AutoscalerActions] = [:]
    var nextActionID = 0
    var tasks: [SimTask] = []
    var liveTasks: [[Int]]  // per service: tasks not gone, oldest first
    var desired: [Int]
    // Queues.
    var queueIndex: [String: Int] = [:]
    var queueNames: [String] = []
    var pending: [[Int]] = []
    var heads: [Int] = []
    var runningPerQueue: [Int] = []
    var consumer: [Int] = []  // service index per queue, -1 for none
    var serviceQueues: [[Int]]
    // Figures.
    var killedPerQueue: [Int] = []
    var rerunPerQueue: [Int] = []
    var completedPerQueue: [Int] = []
    var enqueuedPerQueue: [Int] = []
    var scaleUps: [Int]
    var scaleDowns: [Int]
    var peakTasks: [Int]
    var timeline: [TimelineSample] = []

    init(simulation: Simulation) {
        self.simulation = simulation
        services = simulation.policy.services
        random = SeededRandom(seed: simulation.seed, stream: 2)
        startDelays = simulation.policy.services.indices.map { SeededRandom(seed: simulation.seed, stream: 16 + UInt64($0)) }
        specs = simulation.workload.jobs
        jobs = simulation.workload.jobs.map { JobState(askedAt: $0.arrival) }
        liveTasks = Array(repeating: [], count: services.count)
        desired = Array(repeating: 0, count: services.count)
        serviceQueues = Array(repeating: [], count: services.count)
        scaleUps = Array(repeating: 0, count: services.count)
        scaleDowns = Array(repeating: 0, count: services.count)
        peakTasks = Array(repeating: 0, count: services.count)
        for (serviceIndex, service) in services.enumerated() {
            for queue in service.queues {
                let index = queueSlot(queue)
                if consumer[index] < 0 { consumer[index] = serviceIndex }
                serviceQueues[serviceIndex].append(index)
            }
        }
        for job in simulation.workload.jobs { _ = queueSlot(job.queue) }
    }

    private mutating func queueSlot(_ name: String) -> Int {
        if let index = queueIndex[name] { return index }
        let index = queueNames.count
        queueIndex[name] = index
        queueNames.append(name)
        pending.append([])
        heads.append(0)
        runningPerQueue.append(0)
        consumer.append(-1)
        killedPerQueue.append(0)
        rerunPerQueue.append(0)
        completedPerQueue.append(0)
        enqueuedPerQueue.append(0)
        return index
    }

    var now = 0.0
    /// The reactive oracle's rules are on (`run(reactiveOracleNamed:)`).
    var isReactiveOracle = false

    mutating func run(_ autoscaler: inout some SimulatedAutoscaler, scenario: String) -> SimulationResult {
        launchInitialTasks()
        events.push(.tick(generation: 0), at: 0)
        return loop(&autoscaler, name: autoscaler.name, scenario: scenario)
    }

    mutating func run(plan: CapacityPlan, name: String, scenario: String) -> SimulationResult {
        let end = simulation.workload.duration
        for (index, service) in services.enumerated() {
            for lifetime in plan.tasks[service.name] ?? [] {
                if lifetime.ready <= 0 {
                    launch(service: index, readyIn: 0)
                    if lifetime.stop < end { events.push(.retire(task: tasks.count - 1), at: max(0, lifetime.stop)) }
                } else {
                    // The oracle knows how long this task will take to start, and launches it
                    // exactly that long before it must be running.
                    let delay = startDelays[index].uniform(simulation.ecs.taskStart)
                    events.push(
                        .plannedLaunch(service: index, ready: lifetime.ready, stop: lifetime.stop, startTime: delay),
                        at: max(0, lifetime.ready - delay))
                }
            }
            desired[index] = liveTasks[index].count
        }
        var none = NoController()
        return loop(&none, name: name, scenario: scenario)
    }

    mutating func run(reactiveOracleNamed name: String, scenario: String) -> SimulationResult {
        isReactiveOracle = true
        launchInitialTasks()
        var none = NoController()
        return loop(&none, name: name, scenario: scenario)
    }

    private mutating func launchInitialTasks() {
        for (index, service) in services.enumerated() {
            let initial = simulation.initialTasks[service.name] ?? service.minTasks
            desired[index] = initial
            for _ in 0..<initial { launch(service: index, readyIn: 0) }
        }
    }

    /// Arrivals and events in time order until the workload's end; `autoscaler` ticks only when
    /// a `.tick` was pushed.
    private mutating func loop(_ autoscaler: inout some SimulatedAutoscaler, name: String, scenario: String) -> SimulationResult {
        let end = simulation.workload.duration
        events.push(.sample, at: 0)
        var nextArrival = 0
        let arrivals = simulation.workload.jobs
        while true {
            let eventTime = events.nextTime ?? .infinity
            let arrivalTime = nextArrival < arrivals.count ? arrivals[nextArrival].arrival : .infinity
            let time = min(eventTime, arrivalTime)
            if time >= end { break }
            now = time
            if arrivalTime <= eventTime {
                arrive(job: nextArrival, arrivals[nextArrival])
                nextArrival += 1
                continue
            }
            guard let (_, event) = events.pop() else { break }
            switch event {
            case .finish(let job, let task, let slot): finish(job: job, task: task, slot: slot)
            case .ready(let task): becomeReady(task)
            case .kill(let task): killRemaining(task)
            case .tick(let generation):
                if generation == tickGeneration { tick(&autoscaler) }
            case .react(let generation):
                guard generation == tickGeneration else { break }
                if autoscaler.wantsEarlyTick(view(listingTasks: false)) {
                    tick(&autoscaler)
                } else if now + autoscaler.reactInterval < nextTickAt {
                    events.push(.react(generation: generation), at: now + autoscaler.reactInterval)
                }
            case .recheck(let id):
                if let actions = inFlight[id] { inFlight[id] = autoscaler.recheck(actions, view(listingTasks: true)) }
            case .act(let id):
                if let actions = inFlight.removeValue(forKey: id) { apply(actions) }
            case .selfProtection(let task):
                guard tasks[task].state == .starting || tasks[task].state == .running else { break }
                let wasProtected = tasks[task].protectedUntil != nil
                // Held until the worker releases it (a year stands for "no expiry").
                tasks[task].protectedUntil = tasks[task].busy > 0 ? now + 365 * 86_400 : nil
                // ECS stops the excess it could not stop while the task was protected.
                if wasProtected && tasks[task].protectedUntil == nil { reconcile(service: tasks[task].service) }
            case .rerun(let job):
                var spec = specs[job]
                spec.arrival = now
                jobs[job].isSuperseded = true
                specs.append(spec)
                jobs.append(JobState(askedAt: jobs[job].askedAt))
                let queue = queueIndex[spec.queue]!
                rerunPerQueue[queue] += 1
                arrive(job: specs.count - 1, spec)
            case .sample:
                recordSample()
                events.push(.sample, at: now + simulation.sampleInterval)
            case .plannedLaunch(let service, let ready, let stop, let startTime):
                // Needed sooner than a task can start (at the very beginning): as soon as it can.
                launch(service: service, readyIn: max(ready - now, startTime))
                scaleUps[service] += 1
                desired[service] += 1
                if stop < end { events.push(.retire(task: tasks.count - 1), at: stop) }
            case .retire(let task):
                guard tasks[task].state == .starting || tasks[task].state == .running else { break }
                // An oracle never kills: the task takes no new job and ends when its last job does.
                tasks[task].state = .stopping
                scaleDowns[tasks[task].service] += 1
                desired[tasks[task].service] -= 1
                if tasks[task].busy == 0 { self.end(task) }
            case .idleCheck(let task):
                retireIfIdleLongEnough(task)
            }
        }
        now = end
        return result(autoscaler: name, scenario: scenario, arrived: nextArrival)
    }

    // MARK: Reactive oracle

    /// How long the reactive oracle keeps an idle task before stopping it: the mean task start.
    /// Stopping sooner would pay a start again for the next job; keeping it longer pays for idle
    /// time a restart would not have cost (the break-even rule of renting against buying).
    var oracleIdleGrace: Double { (simulation.ecs.taskStart.lowerBound + simulation.ecs.taskStart.upperBound) / 2 }

    /// The reactive oracle, on each arrival: a task for every job that no free or starting slot
    /// will take, at once, up to `maxTasks`.
    private mutating func launchForWaitingJobs(service: Int) {
        let waiting = serviceQueues[service].reduce(0) { $0 + pending[$1].count - heads[$1] }
        guard waiting > 0 else { return }
        let slots = services[service].workersPerTask
        var live = 0, startingSlots = 0
        for task in liveTasks[service] {
            switch tasks[task].state {
            case .starting: live += 1; startingSlots += tasks[task].slots.count
            case .running: live += 1
            case .stopping, .gone: break
            }
        }
        let uncovered = waiting - startingSlots
        guard uncovered > 0, slots > 0 else { return }
        let wanted = min((uncovered + slots - 1) / slots, services[service].maxTasks - live)
        guard wanted > 0 else { return }
        for _ in 0..<wanted { launch(service: service, readyIn: startDelays[service].uniform(simulation.ecs.taskStart)) }
        desired[service] = live + wanted
        scaleUps[service] += 1
    }

    /// Marks a running task idle from now, when the oracle is on and it has no job.
    private mutating func noteIfIdle(_ task: Int) {
        guard isReactiveOracle, tasks[task].state == .running, tasks[task].busy == 0 else { return }
        tasks[task].idleSince = now
        events.push(.idleCheck(task: task), at: now + oracleIdleGrace)
    }

    private mutating func retireIfIdleLongEnough(_ task: Int) {
        guard tasks[task].state == .running, tasks[task].busy == 0, let since = tasks[task].idleSince,
            now - since >= oracleIdleGrace - 1e-9
        else { return }
        let service = tasks[task].service
        let live = liveTasks[service].filter { tasks[$0].state == .starting || tasks[$0].state == .running }.count
        guard live > services[service].minTasks else { return }
        tasks[task].state = .stopping
        end(task)
        desired[service] = live - 1
        scaleDowns[service] += 1
    }

    // MARK: Jobs

    private mutating func arrive(job: Int, _ spec: SimulatedJob) {
        let queue = queueIndex[spec.queue]!
        pending[queue].append(job)
        enqueuedPerQueue[queue] += 1
        let service = consumer[queue]
        guard service >= 0 else { return }
        dispatch(service: service)
        if isReactiveOracle { launchForWaitingJobs(service: service) }
    }

    /// Gives waiting jobs to free workers: tasks oldest first, queues in the service's order
    /// (an RQ worker listens to its queues in priority order).
    private mutating func dispatch(service: Int) {
        for taskIndex in liveTasks[service] where tasks[taskIndex].state == .running {
            while tasks[taskIndex].busy < tasks[taskIndex].slots.count {
                guard let job = takeNextJob(service: service) else { return }
                let slot = tasks[taskIndex].slots.firstIndex(of: -1)!
                tasks[taskIndex].slots[slot] = job
                tasks[taskIndex].busy += 1
                tasks[taskIndex].idleSince = nil
                if simulation.workersProtectTheirTasks && tasks[taskIndex].busy == 1 {
                    events.push(.selfProtection(task: taskIndex), at: now + simulation.ecs.selfProtectionLatency)
                }
                jobs[job].startedAt = now
                let spec = specs[job]
                let queue = queueIndex[spec.queue]!
                runningPerQueue[queue] += 1
                events.push(.finish(job: job, task: taskIndex, slot: slot), at: now + spec.runtime)
            }
        }
    }

    private mutating func takeNextJob(service: Int) -> Int? {
        for queue in serviceQueues[service] where heads[queue] < pending[queue].count {
            let job = pending[queue][heads[queue]]
            heads[queue] += 1
            // Drop consumed entries now and then so long runs do not keep them all.
            if heads[queue] > 4096 && heads[queue] * 2 > pending[queue].count {
                pending[queue].removeFirst(heads[queue])
                heads[queue] = 0
            }
            return job
        }
        return nil
    }

    private mutating func finish(job: Int, task: Int, slot: Int) {
        guard !jobs[job].isKilled, jobs[job].finishedAt < 0, tasks[task].slots[slot] == job else { return }
        jobs[job].finishedAt = now
        let queue = queueIndex[specs[job].queue]!
        runningPerQueue[queue] -= 1
        completedPerQueue[queue] += 1
        free(task: task, slot: slot)
    }

    private mutating func free(task: Int, slot: Int) {
        tasks[task].slots[slot] = -1
        tasks[task].busy -= 1
        if simulation.workersProtectTheirTasks && tasks[task].busy == 0 {
            events.push(.selfProtection(task: task), at: now + simulation.ecs.selfProtectionLatency)
        }
        switch tasks[task].state {
        case .running:
            dispatch(service: tasks[task].service)
            noteIfIdle(task)
        case .stopping where tasks[task].busy == 0: end(task)
        default: break
        }
    }

    // MARK: Tasks

    private mutating func launch(service: Int, readyIn delay: Double) {
        let index = tasks.count
        let workers = services[service].workersPerTask
        tasks.append(SimTask(
            service: service, launchedAt: now, state: delay <= 0 ? .running : .starting,
            slots: Array(repeating: -1, count: workers)))
        liveTasks[service].append(index)
        if delay > 0 { events.push(.ready(task: index), at: now + delay) }
        peakTasks[service] = max(peakTasks[service], liveTasks[service].count)
    }

    private mutating func becomeReady(_ task: Int) {
        guard tasks[task].state == .starting else { return }
        tasks[task].state = .running
        dispatch(service: tasks[task].service)
        noteIfIdle(task)
    }

    /// SIGTERM: the task takes no new job; running jobs are lost after the abort delay.
    private mutating func stop(_ task: Int) {
        guard tasks[task].state == .starting || tasks[task].state == .running else { return }
        tasks[task].state = .stopping
        if tasks[task].busy == 0 {
            end(task)
        } else {
            events.push(.kill(task: task), at: now + simulation.ecs.abortDelay)
        }
    }

    private mutating func killRemaining(_ task: Int) {
        guard tasks[task].state == .stopping else { return }
        for (slot, job) in tasks[task].slots.enumerated() where job >= 0 {
            jobs[job].isKilled = true
            let queue = queueIndex[specs[job].queue]!
            runningPerQueue[queue] -= 1
            killedPerQueue[queue] += 1
            if specs[job].kind == .adhoc, let delay = simulation.rerunKilledAdhocAfter {
                events.push(.rerun(job: job), at: now + delay)
            }
            tasks[task].slots[slot] = -1
        }
        tasks[task].busy = 0
        end(task)
    }

    private mutating func end(_ task: Int) {
        tasks[task].state = .gone
        tasks[task].endedAt = now
        let service = tasks[task].service
        liveTasks[service].removeAll { $0 == task }
    }

    /// ECS's service scheduler: start tasks up to desiredCount, or stop the excess, chosen at
    /// random among unprotected tasks (ECS does not prefer idle ones).
    private mutating func reconcile(service: Int) {
        let live = liveTasks[service].filter { tasks[$0].state == .starting || tasks[$0].state == .running }
        if live.count < desired[service] {
            for _ in live.count..<desired[service] {
                launch(service: service, readyIn: startDelays[service].uniform(simulation.ecs.taskStart))
            }
        } else if live.count > desired[service] {
            var candidates = live.filter { !tasks[$0].isProtected(at: now) }
            let excess = min(live.count - desired[service], candidates.count)
            for pick in 0..<excess {
                let chosen = pick + Int(random.next() % UInt64(candidates.count - pick))
                candidates.swapAt(pick, chosen)
                stop(candidates[pick])
            }
        }
    }

    // MARK: Autoscaler

    private func view(listingTasks: Bool) -> ClusterView {
        let instant = simulation.workload.start + .seconds(now)
        var observations: [String: QueueObservation] = [:]
        for (queue, name) in queueNames.enumerated() {
            let waiting = pending[queue].count - heads[queue]
            let oldest: Duration? = waiting > 0
                ? .seconds(now - specs[pending[queue][heads[queue]]].arrival) : nil
            var workers: WorkerCounts?
            if consumer[queue] >= 0 {
                var busy = 0, idle = 0
                for task in liveTasks[consumer[queue]] where tasks[task].state == .running {
                    busy += tasks[task].busy
                    idle += tasks[task].slots.count - tasks[task].busy
                }
                workers = WorkerCounts(busy: busy, idle: idle)
            }
            observations[name] = QueueObservation(
                queue: name, pending: waiting, running: runningPerQueue[queue], oldestAge: oldest,
                workers: workers, observedAt: instant)
        }
        let serviceViews = services.enumerated().map { index, service in
            let running = liveTasks[index].filter { tasks[$0].state == .running }
            let starting = liveTasks[index].filter { tasks[$0].state == .starting }
            let busySlots = running.reduce(0) { $0 + tasks[$1].busy }
            let cpu = running.isEmpty ? 0 : Double(busySlots) / Double(running.count * service.workersPerTask)
            // ECS's view of the tasks, and the RQ registry's view of their workers: one worker
            // per slot, connected from its task's address.
            let snapshots = !listingTasks ? [] : (starting + running).map { task in
                TaskSnapshot(
                    id: Self.taskID(task), privateIP: Self.address(task), phase: tasks[task].state == .running ? .running : .starting,
                    protectedUntil: tasks[task].protectedUntil.map { simulation.workload.start + .seconds($0) })
            }
            let workers = !listingTasks ? [] : running.flatMap { task in
                tasks[task].slots.enumerated().map { slot, job in
                    WorkerIdentity(name: "\(Self.taskID(task))-\(slot)", hostname: nil, ipAddress: "\(Self.address(task)):\(40000 + slot)", isBusy: job >= 0)
                }
            }
            return ServiceView(
                name: service.name, desired: desired[index], running: running.count, pending: starting.count,
                isDeploying: simulation.deployments.contains { $0.service == service.name && $0.covers(now) },
                tasks: snapshots, workers: workers, cpu: cpu)
        }
        return ClusterView(now: instant, queues: observations, services: serviceViews)
    }

    /// The generation of the pending `.tick` and when it falls.
    var tickGeneration = 0
    var nextTickAt = 0.0

    /// One tick: the autoscaler's answer on its way to ECS (read again before a scale-in when it
    /// does so), and the next tick, and the queue watch until then.
    private mutating func tick(_ autoscaler: inout some SimulatedAutoscaler) {
        let actions = autoscaler.tick(view(listingTasks: autoscaler.readsTasks))
        if simulation.ecs.actionLatency > 0 {
            inFlight[nextActionID] = actions
            events.push(.act(nextActionID), at: now + simulation.ecs.actionLatency)
            let recheckIn = simulation.ecs.actionLatency - simulation.ecs.recheckLatency
            // As the controller: the plan says whether it reads again (it lowers a count around
            // busy tasks), not the answer.
            if autoscaler.rechecksBeforeScaleIn, recheckIn > 0 {
                events.push(.recheck(nextActionID), at: now + recheckIn)
            }
            nextActionID += 1
        } else {
            apply(actions)
        }
        // A tick that writes ends once ECS has its answer: the next one (pushed after the
        // answer, so it runs after it at the same instant) reads the count it set; a controller
        // loop never overlaps two ticks, whatever the interval.
        let writes = !actions.desired.isEmpty || !actions.protection.isEmpty
        let ended = now + (writes ? simulation.ecs.actionLatency : 0)
        tickGeneration += 1
        nextTickAt = max(now + autoscaler.tickInterval, ended)
        events.push(.tick(generation: tickGeneration), at: nextTickAt)
        let react = autoscaler.reactInterval
        if react > 0, ended + react < nextTickAt {
            events.push(.react(generation: tickGeneration), at: ended + react)
        }
    }

    private mutating func apply(_ actions: AutoscalerActions) {
        for (index, service) in services.enumerated() {
            var changed = false
            if let (plan, duration) = actions.protection[service.name] {
                for id in plan.protect { setProtection(id, until: now + duration.inSeconds) }
                for id in plan.release { setProtection(id, until: nil) }
                changed = !plan.release.isEmpty
            }
            if let wanted = actions.desired[service.name], wanted != desired[index] {
                if wanted > desired[index] { scaleUps[index] += 1 } else { scaleDowns[index] += 1 }
                desired[index] = max(0, wanted)
                changed = true
            }
            if changed { reconcile(service: index) }
        }
    }

    private mutating func setProtection(_ id: String, until: Double?) {
        guard let task = Int(id.dropFirst("task-".count)), task < tasks.count else { return }
        tasks[task].protectedUntil = until
    }

    static func taskID(_ task: Int) -> String { "task-\(task)" }

    /// A private address per task, as Fargate gives each task its own ENI.
    static func address(_ task: Int) -> String { "10.\(task / 65_536 % 256).\(task / 256 % 256).\(task % 256)" }

    // MARK: Figures

    private mutating func recordSample() {
        var perService: [TimelineSample.Service] = []
        for (index, service) in services.enumerated() {
            let queued = serviceQueues[index].reduce(0) { $0 + pending[$1].count - heads[$1] }
            let runningJobs = serviceQueues[index].reduce(0) { $0 + runningPerQueue[$1] }
            let running = liveTasks[index].filter { tasks[$0].state == .running }.count
            perService.append(TimelineSample.Service(
                name: service.name, pending: queued, running: runningJobs, desired: desired[index],
                runningTasks: running))
        }
        timeline.append(TimelineSample(time: now, services: perService))
    }

    private func result(autoscaler: String, scenario: String, arrived: Int) -> SimulationResult {
        let end = simulation.workload.duration
        // Waits of the attempts that started, from when their user first asked; an attempt
        // killed and run again counts only through its re-run.
        var waits = Array(repeating: [Double](), count: queueNames.count)
        var waitsByKind: [SimulatedJob.Kind: [Double]] = [:]
        for (job, state) in jobs.enumerated() where state.startedAt >= 0 && !state.isSuperseded {
            let wait = state.startedAt - state.askedAt
            waits[queueIndex[specs[job].queue]!].append(wait)
            waitsByKind[specs[job].kind, default: []].append(wait)
        }
        var queueResults: [QueueResult] = []
        for (queue, name) in queueNames.enumerated() where enqueuedPerQueue[queue] > 0 || consumer[queue] >= 0 {
            queueResults.append(QueueResult(
                name: name, enqueued: enqueuedPerQueue[queue], rerun: rerunPerQueue[queue], completed: completedPerQueue[queue],
                killed: killedPerQueue[queue], running: runningPerQueue[queue],
                waiting: pending[queue].count - heads[queue],
                wait: WaitStatistics(waits[queue].sorted())))
        }
        var serviceResults: [ServiceResult] = []
        for (index, service) in services.enumerated() {
            let seconds = tasks.filter { $0.service == index }
                .reduce(0.0) { $0 + max(0, min(end, $1.endedAt ?? end) - $1.launchedAt) }
            let size = simulation.ecs.sizing.size(workers: service.workersPerTask)
            serviceResults.append(ServiceResult(
                name: service.name, taskHours: seconds / 3600, taskSize: size,
                cost: seconds / 3600 * simulation.ecs.prices.hourly(size), scaleUps: scaleUps[index],
                scaleDowns: scaleDowns[index], peakTasks: peakTasks[index]))
        }
        var result = SimulationResult(
            autoscaler: autoscaler, scenario: scenario, seed: simulation.seed,
            hours: end / 3600, queues: queueResults, services: serviceResults, timeline: timeline)
        result.adhocWait = WaitStatistics((waitsByKind[.adhoc] ?? []).sorted())
        result.scheduledWait = WaitStatistics((waitsByKind[.scheduled] ?? []).sorted())
        return result
    }
}
