import AutoscalerCore
import Synchronization

/// A monotonic clock a test moves by hand: code under test sleeps on it and measures by it, and
/// the test advances it, so that a deadline or a backoff is exact and costs no real time,
/// however busy the machine is.
///
/// `sleepers(atLeast:)` is the handshake: it waits (yielding, with a real-time limit that fails
/// loudly rather than hangs) until the code under test has parked that many sleeps, so the test
/// knows where the code is before it moves the clock.
public final class ManualClock: MonotonicClock, Sendable {
    private struct Sleeper {
        var deadline: ContinuousClock.Instant
        var id: Int
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var offset: Duration = .zero
        var sleepers: [Sleeper] = []
        var nextID = 0
    }

    private let origin = ContinuousClock.now
    private let state = Mutex(State())

    public init() {}

    public var now: ContinuousClock.Instant { origin.advanced(by: state.withLock { $0.offset }) }
    public var minimumResolution: Duration { .nanoseconds(1) }

    /// Sleeps parked now.
    public var sleeping: Int { state.withLock { $0.sleepers.count } }

    public func sleep(until deadline: ContinuousClock.Instant, tolerance: Duration?) async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let due = state.withLock { state -> Bool in
                    if origin.advanced(by: state.offset) >= deadline { return true }
                    state.sleepers.append(Sleeper(deadline: deadline, id: id, continuation: continuation))
                    return false
                }
                if due { continuation.resume() }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock on by `duration`, waking every sleep that is due, earliest first.
    public func advance(by duration: Duration) {
        let due = state.withLock { state -> [Sleeper] in
            state.offset += duration
            let now = origin.advanced(by: state.offset)
            let due = state.sleepers.filter { $0.deadline <= now }.sorted { $0.deadline < $1.deadline }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Waits until at least `count` sleeps are parked; false after `limit` of real time.
    public func sleepers(atLeast count: Int, limit: Duration = .seconds(30)) async -> Bool {
        let end = ContinuousClock.now + limit
        while sleeping < count {
            guard ContinuousClock.now < end else { return false }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return true
    }
}
