import AutoscalerCore
import Synchronization

/// A wall clock a test moves by hand, for code that takes `now` as a closure.
public final class SettableClock: Sendable {
    private let current: Mutex<Instant>

    public init(start: Instant = CivilTime.instant(year: 2026, month: 11, day: 23, hour: 10)) {
        current = Mutex(start)
    }

    public var now: Instant { current.withLock { $0 } }

    /// The clock as the closure the code under test takes.
    public var reading: @Sendable () -> Instant { { [self] in now } }

    public func set(_ instant: Instant) { current.withLock { $0 = instant } }

    public func advance(by duration: Duration) { current.withLock { $0 = $0 + duration } }
}
