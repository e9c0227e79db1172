/// Combines the recommendations inside a stabilization window, as Kubernetes' HPA does: the
/// lowest one for scaling up (so a one-tick spike does not add tasks when a window is set), the
/// highest one for scaling down (so the service shrinks only when the whole window agrees).
public enum Stabilizer {
    /// The lowest of `current` and the recommendations made within `window` before `now`.
    public static func lowest(
        _ current: Int, in history: ScalingHistory, window: Duration, now: Instant
    ) -> Int {
        combine(current, history, window, now, min)
    }

    /// The highest of `current` and the recommendations made within `window` before `now`.
    public static func highest(
        _ current: Int, in history: ScalingHistory, window: Duration, now: Instant
    ) -> Int {
        combine(current, history, window, now, max)
    }

    private static func combine(
        _ current: Int, _ history: ScalingHistory, _ window: Duration, _ now: Instant,
        _ pick: (Int, Int) -> Int
    ) -> Int {
        guard window > .zero else { return current }
        let start = now - window
        var result = current
        for entry in history.entries.reversed() {
            if entry.at < start { break }
            if entry.at <= now { result = pick(result, entry.recommendation) }
        }
        return result
    }
}
