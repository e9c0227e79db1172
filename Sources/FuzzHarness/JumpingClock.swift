import AutoscalerCore
import Synchronization

/// A clock that never waits: each sleep moves its time to the sleep's end, so that a replayed
/// Celery round polls as often as a live one did, and reaches its reply timeout, in no real
/// time and whatever the machine is doing.
final class JumpingClock: MonotonicClock, Sendable {
    private let origin = ContinuousClock.now
    private let offset = Mutex<Duration>(.zero)

    var now: ContinuousClock.Instant { origin.advanced(by: offset.withLock { $0 }) }
    var minimumResolution: Duration { .nanoseconds(1) }

    func sleep(until deadline: ContinuousClock.Instant, tolerance: Duration?) async throws {
        offset.withLock { $0 = max($0, deadline - origin) }
        await Task.yield()
        try Task.checkCancellation()
    }
}
