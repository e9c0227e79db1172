import Foundation

/// A small, fast, seedable generator (xoshiro256**, seeded through SplitMix64): the same seed
/// gives the same stream on every machine, which the simulator's "bit for bit" promise needs.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// Creates a generator from a seed; a label separates independent streams of one seed.
    public init(seed: UInt64, stream: UInt64 = 0) {
        var mix = seed ^ (stream &* 0x9E37_79B9_7F4A_7C15)
        func next() -> UInt64 {
            mix &+= 0x9E37_79B9_7F4A_7C15
            var z = mix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (next(), next(), next(), next())
    }

    public mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotate(state.3, 45)
        return result
    }

    private func rotate(_ value: UInt64, _ count: UInt64) -> UInt64 {
        (value << count) | (value >> (64 - count))
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    public mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform in `range`.
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + unit() * (range.upperBound - range.lowerBound)
    }

    /// Exponentially distributed with mean `1 / rate`.
    public mutating func exponential(rate: Double) -> Double {
        -Foundation.log(1 - unit()) / rate
    }

    /// Log-normal with the given median and shape σ.
    public mutating func logNormal(median: Double, sigma: Double) -> Double {
        // Box–Muller; one normal per call keeps the stream simple to reason about.
        let u1 = max(unit(), 1e-300), u2 = unit()
        let normal = (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
        return median * Foundation.exp(sigma * normal)
    }

    /// Pareto with scale `minimum` and shape `alpha`, capped: the heavy tail of slow queries.
    public mutating func pareto(minimum: Double, alpha: Double, cap: Double) -> Double {
        min(cap, minimum / Foundation.pow(1 - unit(), 1 / alpha))
    }
}
