import Dispatch

/// What the libFuzzer entry point `LLVMFuzzerTestOneInput` of each `Fuzz/` executable calls.
public enum FuzzEntry {
    /// Checks libFuzzer's input with `Target`, and traps on a broken promise so that libFuzzer
    /// keeps the input as a crash.
    public static func run<Target: FuzzTarget>(_ target: Target.Type, _ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
        let input = bytes(data, size)
        return report(Target.name, blocking { await Target.check(input) })
    }

    /// The same for a target whose check is synchronous, without the hop to a task.
    public static func run(_ name: String, _ data: UnsafePointer<UInt8>?, _ size: Int, check: ([UInt8]) -> [String]) -> Int32 {
        report(name, check(bytes(data, size)))
    }

    private static func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
        data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    }

    private static func report(_ name: String, _ problems: [String]) -> Int32 {
        if !problems.isEmpty {
            fatalError("fuzz-\(name): a promise broke:\n" + problems.joined(separator: "\n"))
        }
        return 0
    }

    /// libFuzzer calls its entry point synchronously, on its own thread; the probe and the AWS
    /// client are async. The task runs on the global executor while this thread waits.
    private static func blocking(_ body: @escaping @Sendable () async -> [String]) -> [String] {
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        Task {
            outcome.problems = await body()
            done.signal()
        }
        done.wait()
        return outcome.problems
    }

    /// Written once by the task before it signals, read only after the wait: the semaphore orders
    /// the two accesses, which is why the box needs no lock.
    private final class Outcome: @unchecked Sendable {
        var problems: [String] = []
    }
}
