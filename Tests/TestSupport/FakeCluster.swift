import AutoscalerCore
import Synchronization

/// ECS in memory, as the reconciler's cluster ports: services with counts, tasks with addresses
/// and protection, switches to make reads or writes fail, and a log of every write. A write of
/// desiredCount takes effect at once (running follows desired) unless `followsDesired` is off.
public final class FakeCluster: ClusterReader, ClusterWriter, Sendable {
    public struct Service: Sendable, Equatable {
        public var desired: Int
        public var running: Int
        public var pending: Int
        public var isDeploying: Bool

        public init(desired: Int, running: Int? = nil, pending: Int = 0, isDeploying: Bool = false) {
            self.desired = desired
            self.running = running ?? desired
            self.pending = pending
            self.isDeploying = isDeploying
        }
    }

    /// One write the fake received.
    public enum Write: Equatable, Sendable {
        case desiredCount(service: String, count: Int)
        case protection(isEnabled: Bool, tasks: [String])
    }

    struct State {
        var services: [String: Service]
        var tasks: [String: [TaskSnapshot]] = [:]
        var failingReads = false
        var failingTaskReads = false
        var failingWrites = false
        var failingProtection = false
        var refusedProtection: [String: String] = [:]
        var writes: [Write] = []
        var followsDesired = true
        var protectionNow: Instant?
        var readDelay: Duration = .zero
        /// The `now` of the last read: protection set later expires from it.
        var lastNow: Instant?
        /// Reads of services and tasks so far.
        var reads = 0
    }

    private let state: Mutex<State>

    public init(_ desired: [String: Int]) {
        state = Mutex(State(services: desired.mapValues { Service(desired: $0) }))
    }

    public init(services: [String: Service]) {
        state = Mutex(State(services: services))
    }

    // MARK: Steering

    public func setFailingReads(_ value: Bool) { state.withLock { $0.failingReads = value } }
    public func setFailingTaskReads(_ value: Bool) { state.withLock { $0.failingTaskReads = value } }
    public func setFailingWrites(_ value: Bool) { state.withLock { $0.failingWrites = value } }
    public func setFailingProtection(_ value: Bool) { state.withLock { $0.failingProtection = value } }
    /// ECS will refuse to protect `task` with `reason` (`DEPLOYMENT_BLOCKED`, say).
    public func refuseProtection(of task: String, reason: String) { state.withLock { $0.refusedProtection[task] = reason } }
    public func setFollowsDesired(_ value: Bool) { state.withLock { $0.followsDesired = value } }
    /// Every DescribeServices takes this long (a slow or throttled ECS).
    public func setReadDelay(_ delay: Duration) { state.withLock { $0.readDelay = delay } }
    /// Someone else sets desiredCount (the console, Terraform).
    public func changeOutside(_ service: String, to count: Int) {
        state.withLock { state in
            state.services[service]?.desired = count
            if state.followsDesired { state.services[service]?.running = count }
        }
    }
    public func setService(_ name: String, _ service: Service) { state.withLock { $0.services[name] = service } }
    public func setTasks(_ service: String, _ tasks: [TaskSnapshot]) { state.withLock { $0.tasks[service] = tasks } }
    /// The instant from which protection set now is counted (else the last tick's `now`).
    public func setProtectionClock(_ now: Instant) { state.withLock { $0.protectionNow = now } }

    // MARK: Reading what happened

    public func count(_ service: String) -> Int? { state.withLock { $0.services[service]?.desired } }
    public var writes: [Write] { state.withLock { $0.writes } }
    /// How many times ECS was read (services or tasks).
    public var reads: Int { state.withLock { $0.reads } }
    public var desiredCountWrites: [(String, Int)] {
        writes.compactMap { if case .desiredCount(let service, let count) = $0 { (service, count) } else { nil } }
    }
    public func tasks(_ service: String) -> [TaskSnapshot] { state.withLock { $0.tasks[service] ?? [] } }

    // MARK: Ports

    public func services(_ names: [String], now: Instant) async throws -> ServicesSnapshot {
        let delay = state.withLock { $0.readDelay }
        if delay > .zero { try await Task.sleep(for: delay) }
        return try state.withLock { state in
            state.lastNow = now
            state.reads += 1
            if state.failingReads { throw FakeFailure("DescribeServices: ServerException (500): down") }
            var states: [String: ServiceState] = [:]
            var missing: [ServicesSnapshot.Missing] = []
            for name in names {
                if let service = state.services[name] {
                    states[name] = ServiceState(
                        desired: service.desired, running: service.running, pending: service.pending,
                        isDeploymentInProgress: service.isDeploying, observedAt: now)
                } else {
                    missing.append(.init(name: name, reason: "MISSING"))
                }
            }
            return ServicesSnapshot(states: states, missing: missing)
        }
    }

    public func tasks(of names: [String], now: Instant) async throws -> [String: [TaskSnapshot]] {
        try state.withLock { state in
            state.reads += 1
            if state.failingReads || state.failingTaskReads { throw FakeFailure("ListTasks: ServerException (500): down") }
            return Dictionary(uniqueKeysWithValues: names.map { ($0, state.tasks[$0] ?? []) })
        }
    }

    public func setDesiredCount(_ count: Int, service: String, within deadline: Duration) async throws {
        try state.withLock { state in
            if state.failingWrites { throw FakeFailure("UpdateService: AccessDeniedException: not allowed: ecs:UpdateService") }
            state.writes.append(.desiredCount(service: service, count: count))
            state.services[service]?.desired = count
            if state.followsDesired { state.services[service]?.running = count }
        }
    }

    public func setProtection(_ isEnabled: Bool, tasks ids: [String], duration: Duration?, within deadline: Duration) async throws -> ProtectionChange {
        try state.withLock { state in
            if state.failingProtection { throw FakeFailure("UpdateTaskProtection: ServerException (500): down") }
            state.writes.append(.protection(isEnabled: isEnabled, tasks: ids))
            var change = ProtectionChange()
            for id in ids {
                if isEnabled, let reason = state.refusedProtection[id] {
                    change.refused.append(.init(task: id, reason: reason))
                    continue
                }
                for (service, list) in state.tasks {
                    guard let index = list.firstIndex(where: { $0.id == id }) else { continue }
                    let from = state.protectionNow ?? state.lastNow ?? Instant(secondsSinceEpoch: 0)
                    state.tasks[service]![index].protectedUntil = isEnabled ? from + (duration ?? .seconds(7200)) : nil
                }
                if isEnabled { change.protected.append(id) } else { change.released.append(id) }
            }
            return change
        }
    }
}

/// The error a fake throws, with the text a real client's error would have.
public struct FakeFailure: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
