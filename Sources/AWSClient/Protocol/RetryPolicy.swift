import AutoscalerCore

/// Exponential backoff with full jitter: before attempt n+1 (n ≥ 1), wait a uniformly random
/// time in [0, min(cap, base · 2ⁿ⁻¹)]. Full jitter spreads the retries of many clients that were
/// throttled together.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    public var base: Duration
    public var cap: Duration

    public init(maxAttempts: Int = 4, base: Duration = .milliseconds(200), cap: Duration = .seconds(5)) {
        self.maxAttempts = max(1, maxAttempts)
        self.base = base
        self.cap = cap
    }

    /// The wait before the attempt after `attempt` (1-based), given a uniform `unit` in [0, 1).
    public func delay(after attempt: Int, unit: Double) -> Duration {
        let exponent = Double(min(attempt - 1, 30))
        let ceiling = min(cap.inSeconds, base.inSeconds * pow2(exponent))
        return .seconds(ceiling * min(max(unit, 0), 1))
    }

    private func pow2(_ exponent: Double) -> Double {
        var value = 1.0
        for _ in 0..<Int(exponent) { value *= 2 }
        return value
    }
}
