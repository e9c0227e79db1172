import Synchronization

/// The caller's side of a blocking libpq call that runs on a connection's queue: the call's
/// result or the caller's cancellation, whichever comes first, resumes the caller, once.
///
/// Why: a C call cannot be interrupted, and without this a cancelled task (a reconcile abandoned
/// at the end of its shutdown grace) would still wait out the statement's client deadline, 12 s
/// and more, holding shutdown past its grace. A cancelled caller returns at once; the call
/// finishes on its queue, bounded by its own deadline, and its result is dropped.
final class CallerWait<Value: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Value, any Error>?
        var isCancelled = false
    }

    private let state = Mutex(State())

    private init() {}

    /// Calls `start`, which must hand the call's result to `finish` exactly once (from any
    /// thread), and waits for that result, or throws `CancellationError` as soon as the task is
    /// cancelled. A task cancelled already does not start the call at all.
    static func run(_ start: (CallerWait) -> Void) async throws -> Value {
        let wait = CallerWait()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let isCancelled = wait.state.withLock { state in
                    if !state.isCancelled { state.continuation = continuation }
                    return state.isCancelled
                }
                if isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    start(wait)
                }
            }
        } onCancel: {
            wait.resume(with: .failure(CancellationError()), cancelling: true)
        }
    }

    /// Hands the call's result to the caller; false when the caller had gone already (the
    /// result is then the callee's to dispose of).
    @discardableResult
    func finish(_ result: Result<Value, any Error>) -> Bool {
        resume(with: result, cancelling: false)
    }

    @discardableResult
    private func resume(with result: Result<Value, any Error>, cancelling: Bool) -> Bool {
        let continuation = state.withLock { state in
            if cancelling { state.isCancelled = true }
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
        return continuation != nil
    }
}
