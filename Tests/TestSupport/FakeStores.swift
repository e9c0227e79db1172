import AutoscalerCore
import Synchronization

/// A leader lease whose answer a test sets. A leader may be kept from writing (`mayWrite`
/// false): a new leader in its takeover guard.
public final class FakeLeadership: Leadership, Sendable {
    private let leading: Mutex<Bool>
    private let writing: Mutex<Bool>

    public init(isLeader: Bool, mayWrite: Bool = true) {
        leading = Mutex(isLeader)
        writing = Mutex(mayWrite)
    }

    public func set(_ isLeader: Bool) { leading.withLock { $0 = isLeader } }

    public func setMayWrite(_ mayWrite: Bool) { writing.withLock { $0 = mayWrite } }

    public func acquireOrConfirm(now: Instant) async -> LeaseStatus { LeaseStatus(isLeader: leading.withLock { $0 }, generation: 1) }

    public func writeWindow() async -> Duration? { leading.withLock { $0 } && writing.withLock { $0 } ? .seconds(10) : nil }

    public func release() async { leading.withLock { $0 = false } }
}

/// The decision log and cooldowns in memory.
public final class FakeDecisionStore: DecisionStore, Sendable {
    public struct Row: Sendable, Equatable {
        public var decision: Decision
        public var mode: String
    }

    private struct State {
        var rows: [Row] = []
        var times: [String: ActionTimes] = [:]
        var starts: [String: [Double]] = [:]
    }

    private let state: Mutex<State>

    public init(times: [String: ActionTimes] = [:]) { state = Mutex(State(times: times)) }

    public var rows: [Row] { state.withLock { $0.rows } }
    public var times: [String: ActionTimes] { state.withLock { $0.times } }

    public func record(_ decision: Decision, mode: String, controller: String, generation: Int64?) async throws {
        state.withLock { $0.rows.append(Row(decision: decision, mode: mode)) }
    }

    public func saveHistory(service: String, lastScaleUp: Instant?, lastScaleDown: Instant?, at now: Instant) async throws {
        state.withLock { $0.times[service] = ActionTimes(lastScaleUp: lastScaleUp, lastScaleDown: lastScaleDown) }
    }

    public func loadActionTimes() async throws -> [String: ActionTimes] { state.withLock { $0.times } }

    public var starts: [String: [Double]] { state.withLock { $0.starts } }

    public func saveStartTimes(service: String, samples: [Double], at now: Instant) async throws {
        state.withLock { $0.starts[service] = samples }
    }

    public func loadStartTimes() async throws -> [String: [Double]] { state.withLock { $0.starts } }
}

/// A forecast whose due queries a test sets.
public final class FakeForecast: ForecastSource, Sendable {
    private struct State {
        var dataSources: [Int]
        var due: [String: [DueQuery]]?
        var schedulers: [RedashSchedulerState?] = []
    }

    private let state: Mutex<State>

    public init(dataSources: [Int] = [1], due: [String: [DueQuery]]? = [:]) {
        state = Mutex(State(dataSources: dataSources, due: due))
    }

    public func setDue(_ due: [String: [DueQuery]]?) { state.withLock { $0.due = due } }
    /// The scheduler states each snapshot was given.
    public var schedulersSeen: [RedashSchedulerState?] { state.withLock { $0.schedulers } }

    public func schedulerRequest() async -> SchedulerStateRequest? { SchedulerStateRequest(dataSources: state.withLock { $0.dataSources }) }

    public func snapshot(now: Instant, scheduler: RedashSchedulerState?, schedulerIsStale: Bool) async -> ForecastSnapshot {
        state.withLock { state in
            state.schedulers.append(scheduler)
            return ForecastSnapshot(due: state.due)
        }
    }
}
