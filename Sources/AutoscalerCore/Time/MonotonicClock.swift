/// The monotonic clock a piece of code waits and measures by: `ContinuousClock` in production,
/// a clock the test moves (`ManualClock` in TestSupport) or one that jumps ahead at each sleep
/// (the fuzz harness's). Its instants are `ContinuousClock`'s, so that no stored deadline changes
/// type; only who answers `now` and `sleep` does. Declaring the conformance reads no clock: the
/// core still takes time as a parameter.
public protocol MonotonicClock: Clock where Instant == ContinuousClock.Instant {}

extension ContinuousClock: MonotonicClock {}
