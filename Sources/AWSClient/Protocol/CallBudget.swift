import AutoscalerCore
import Synchronization

/// A client-side token bucket in front of an AWS API. ECS throttles every account per region
/// with token buckets that the controller shares with deploy tooling, the console and other
/// automation: the controller spends at most `callsPerSecond` on average and `burst` at once,
/// so that a burst of its own (a restart, 200 services scaling together) cannot starve a
/// deployment. A call that would have to wait past its deadline is not sent.
public final class CallBudget: Sendable {
    /// The sustained rate and the bucket's size.
    public struct Rate: Hashable, Sendable, CustomStringConvertible {
        public var callsPerSecond: Double
        public var burst: Int

        public init(callsPerSecond: Double, burst: Int) {
            self.callsPerSecond = callsPerSecond
            self.burst = max(1, burst)
        }

        /// The policy's defaults (10 a second, 40 at once): well inside ECS's own account-wide
        /// buckets, and ample for 200 services at the 5 s interval.
        public static let standard = Rate(ECSSettings())

        /// The policy's `ecs` settings.
        public init(_ settings: ECSSettings) {
            self.init(callsPerSecond: settings.maxCallsPerSecond, burst: settings.burst)
        }

        public var description: String { "\(callsPerSecond.formatted) calls/s, burst \(burst)" }
    }

    /// Why a call was not sent.
    public struct Exhausted: Error, CustomStringConvertible, Sendable {
        public var action: String
        public var rate: Rate
        public var wait: Duration

        public var description: String {
            "\(action): not sent: the client-side call budget (\(rate)) would hold it \(wait.formattedSeconds), past its deadline"
        }
    }

    private struct State {
        var rate: Rate
        /// Tokens in the bucket; below zero when calls are waiting for tokens already promised.
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let state: Mutex<State>

    public init(_ rate: Rate = .standard, now: ContinuousClock.Instant = .now) {
        state = Mutex(State(rate: rate, tokens: Double(rate.burst), updated: now))
    }

    public var rate: Rate { state.withLock { $0.rate } }

    /// Changes the rate (a policy reload); tokens already in the bucket stay, up to the new size.
    public func setRate(_ rate: Rate) {
        state.withLock { state in
            state.rate = rate
            state.tokens = min(state.tokens, Double(rate.burst))
        }
    }

    /// Takes one token, waiting for it when the bucket is empty. With `end`, a call that would
    /// wait past it takes nothing and throws `Exhausted`.
    public func acquire(for action: String, until end: ContinuousClock.Instant? = nil) async throws {
        let wait = try reserve(for: action, now: .now, until: end)
        if wait > .zero { try await Task.sleep(for: wait) }
    }

    /// Takes one token at `now` and says how long the caller must wait before sending.
    func reserve(for action: String, now: ContinuousClock.Instant, until end: ContinuousClock.Instant?) throws -> Duration {
        try state.withLock { state in
            let elapsed = max(0, (now - state.updated).inSeconds)
            state.tokens = min(Double(state.rate.burst), state.tokens + elapsed * state.rate.callsPerSecond)
            state.updated = max(state.updated, now)
            let deficit = 1 - state.tokens
            let wait: Duration = deficit > 0 ? .seconds(deficit / state.rate.callsPerSecond) : .zero
            if let end, now + wait > end { throw Exhausted(action: action, rate: state.rate, wait: wait) }
            state.tokens -= 1
            return wait
        }
    }
}

/// How many requests a client has sent, per action, since it was made (every attempt counts:
/// a retried call spends ECS's tokens twice).
public final class CallLedger: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    public init() {}

    func count(_ action: String) {
        counts.withLock { $0[action, default: 0] += 1 }
    }

    /// Requests sent so far, by action.
    public var totals: [String: Int] { counts.withLock { $0 } }
}

extension Double {
    fileprivate var formatted: String { self == rounded() ? String(Int(self)) : String(self) }
}

extension Duration {
    fileprivate var formattedSeconds: String { String(Int((inSeconds * 1000).rounded())) + " ms" }
}
