import Foundation
import Synchronization
import Testing

/// Every suite of the package runs its tests' code on `TestThreadsExecutor`'s threads instead
/// of the threads Swift's concurrency shares (`@Suite("…", .testThreads)`).
///
/// Why: on Linux those shared threads are as many as the cores, two on the CI machine, sized
/// for code that never blocks and never computes for long. Tests do both: a simulated day is
/// seconds of CPU, a stand-in ECS answers under a lock, a fixture waits for a process. In the
/// parallel pass, two such tests held both shared threads for up to 16 s, and every other test
/// waited: a 300 ms timeout measured 16 s, a refused connection 10 s. On threads of their own,
/// 16 of them, one test's computing or blocking slows the others by the kernel's time-slicing
/// (milliseconds), never by the length of its work. The code under test is unchanged: what it
/// creates (NIO's event loops, its own tasks, libpq's threads) runs where it always does, and its
/// actors still run on the shared threads, which the controller code other tests run in-process
/// also uses. A test that times such code bounds only what it must tell apart, generously.
public struct TestThreads: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(TestThreadsExecutor.shared) { try await function() }
    }
}

extension Trait where Self == TestThreads {
    /// Runs the tests' code on threads no other kind of work shares (see `TestThreads`).
    public static var testThreads: Self { TestThreads() }
}

/// Sixteen threads of its own, serving jobs in the order they come.
public final class TestThreadsExecutor: TaskExecutor {
    public static let shared = TestThreadsExecutor(threads: 16)

    private let jobs = Mutex<[UnownedJob]>([])
    private let ready = DispatchSemaphore(value: 0)

    /// A pool of its own, for a test that times how soon its own code resumes: on the shared
    /// pool, the resumption queues behind whatever other tests compute at that moment.
    public init(threads: Int) {
        for _ in 0..<threads {
            Thread.detachNewThread { [unowned self] in self.serve() }
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        jobs.withLock { $0.append(unowned) }
        ready.signal()
    }

    private func serve() {
        while true {
            ready.wait()
            guard let job = jobs.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { continue }
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
