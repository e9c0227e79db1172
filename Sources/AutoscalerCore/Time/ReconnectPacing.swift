import Synchronization

/// How soon a client tries a lost dependency again: the wait doubles from `first` after each
/// failure in a row, is never longer than `cap`, and is drawn between half and all of that (so
/// that two controllers that lost Redis together do not retry in step).
///
/// The controller sets `cap` to half its interval: a dependency that comes back is tried at the
/// next tick, so it is read again within one interval of its return, while a dead one costs one
/// attempt per tick (a tick's later calls find the client still waiting and fail at once).
/// Shared by the clients of one controller, so that a reload that changes the interval re-paces
/// them all.
public final class ReconnectPacing: Sendable {
    public let first: Duration
    private let storedCap: Mutex<Duration>

    /// Today's pacing for one-shot commands: `first` doubling to `cap`.
    public init(first: Duration, cap: Duration) {
        self.first = first
        self.storedCap = Mutex(max(cap, .milliseconds(100)))
    }

    /// The pacing a controller with this `interval` uses: capped at half the interval.
    public static func forInterval(_ interval: Duration, first: Duration) -> ReconnectPacing {
        ReconnectPacing(first: min(first, interval / 2), cap: interval / 2)
    }

    public var cap: Duration { storedCap.withLock { $0 } }

    /// Re-paces for a new interval (a reload).
    public func adopt(interval: Duration) {
        storedCap.withLock { $0 = max(interval / 2, .milliseconds(100)) }
    }

    /// The wait after `failures` failures in a row (≥ 1), for a uniform `unit` in [0, 1).
    public func delay(afterFailures failures: Int, unit: Double = Double.random(in: 0..<1)) -> Duration {
        let ceiling = min(cap, first * (1 << min(max(failures, 1) - 1, 16)))
        return ceiling * (0.5 + 0.5 * min(max(unit, 0), 1))
    }
}
