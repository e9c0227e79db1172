import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process the test owns, started with posix_spawn and reaped with waitpid (Foundation's
/// Process can spin forever in waitUntilExit on Linux once a child is killed). Its output goes to
/// a file, kept for failure messages; it is stopped (SIGTERM, then SIGKILL) when released.
public final class ManagedProcess: @unchecked Sendable {
    // The state below is guarded by `lock`: a test may stop the process from a defer while an
    // `eventually` closure reads `isRunning`.
    private let lock = NSLock()
    private var exitStatus: Int32?
    public let pid: pid_t
    public let outputPath: String
    public let commandLine: String

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        outputPath = NSTemporaryDirectory() + "redash-autoscaler-test-\(UUID().uuidString).log"
        commandLine = ([executable] + arguments).joined(separator: " ")
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of the test process's: a test holding a thousand sockets (the HTTP flood)
        // would hand them to every server started meanwhile, and PostgreSQL refuses to start
        // when its inherited descriptors leave it fewer than 58 of its 1,000.
        // (glibc 2.34 and later; Swift's Glibc module does not declare it, hence the lookup.)
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, so that stop() also reaches its children (RQ's work horses);
        // an empty signal mask and default handlers, because a child inherits the spawning
        // thread's mask and libdispatch's threads block signals (RQ's worker needs SIGALRM to
        // wake up and heartbeat).
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard status == 0 else { throw HarnessError("cannot start \(executable): \(String(cString: strerror(status)))") }
        pid = child
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np`, when the C library has it.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// What the process printed so far.
    public var output: String {
        (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    }

    /// True until the process has exited (reaps it when it has).
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        if exitStatus != nil { return false }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid || result < 0 {
            exitStatus = result == pid ? status : -1
            return false
        }
        return true
    }

    /// The exit status once the process has ended (0 for success).
    public var terminationStatus: Int32? {
        _ = isRunning
        lock.lock()
        defer { lock.unlock() }
        guard let status = exitStatus else { return nil }
        // WIFEXITED/WEXITSTATUS by hand: the macros are not imported.
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Sends a signal to the process only (SIGKILL to simulate a crash).
    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// SIGTERM to the process group, then SIGKILL after `grace` seconds. Returns within 0.1 s:
    /// a process that has not ended by then is waited for (and SIGKILLed after `grace`) on a
    /// thread of its own. Tests call this from `defer` in async code, where a wait of seconds
    /// (an RQ worker's warm shutdown waits for its job) would hold one of the cooperative pool's
    /// threads, two on a 2-core machine, and every other test's real-time bound with it.
    public func stop(grace: Double = 3) {
        guard isRunning else {
            kill(-pid, SIGKILL)  // the group may outlive the leader (orphaned work horses)
            return
        }
        kill(-pid, SIGTERM)
        let deadline = Date().addingTimeInterval(min(grace, 0.1))
        while isRunning && Date() < deadline { usleep(5_000) }
        if isRunning {
            Self.stopDetached(pid: pid, grace: grace, signalled: true, cleanup: {})
        } else {
            kill(-pid, SIGKILL)
        }
    }

    /// SIGKILL to the process group, reaped before returning (a few milliseconds): an outage,
    /// for a test that goes on once the port is closed.
    public func killNow() {
        kill(-pid, SIGKILL)
        while isRunning { usleep(1_000) }
    }

    /// SIGTERM now; the wait for the process group to end (SIGKILL after `grace` seconds) and
    /// `cleanup` on a thread of their own. A deinit in async code must not hold one of the
    /// cooperative pool's threads (two on a 2-core machine) for seconds: every other test's
    /// continuation would wait, and real-time bounds measured in them would fail.
    public func stopInBackground(grace: Double, then cleanup: @escaping @Sendable () -> Void = {}) {
        Self.stopDetached(pid: pid, grace: grace, signalled: false, cleanup: cleanup)
    }

    private static func stopDetached(pid: pid_t, grace: Double, signalled: Bool, cleanup: @escaping @Sendable () -> Void) {
        if !signalled { kill(-pid, SIGTERM) }
        Thread.detachNewThread {
            var status: Int32 = 0
            let deadline = Date().addingTimeInterval(grace)
            // 0: still running; the pid, or -1 once reaped elsewhere: gone.
            while waitpid(pid, &status, WNOHANG) == 0 && Date() < deadline { usleep(20_000) }
            kill(-pid, SIGKILL)  // the group may outlive the leader (orphaned work horses)
            while waitpid(pid, &status, WNOHANG) == 0 { usleep(5_000) }
            cleanup()
        }
    }

    deinit {
        let path = outputPath
        let exited = lock.withLock { exitStatus != nil }
        if exited {
            kill(-pid, SIGKILL)
            try? FileManager.default.removeItem(atPath: path)
        } else {
            Self.stopDetached(pid: pid, grace: 1, signalled: false) { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    /// Runs a command to completion and returns its output; throws with the output when it fails.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 60) async throws -> String {
        let child = try ManagedProcess(executable, arguments, environment: environment)
        let deadline = Date().addingTimeInterval(timeout)
        while child.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        return try child.finish(timeout: timeout)
    }

    /// The same, blocking the calling thread (for setup that runs outside async code).
    @discardableResult
    public static func runBlocking(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 60) throws -> String {
        let child = try ManagedProcess(executable, arguments, environment: environment)
        let deadline = Date().addingTimeInterval(timeout)
        while child.isRunning && Date() < deadline { usleep(10_000) }
        return try child.finish(timeout: timeout)
    }

    private func finish(timeout: Double) throws -> String {
        if isRunning {
            stop()
            throw HarnessError("\(commandLine) did not finish in \(timeout) s:\n\(output)")
        }
        guard terminationStatus == 0 else {
            throw HarnessError("\(commandLine) exited \(terminationStatus ?? -1):\n\(output)")
        }
        return output
    }
}

/// Waits until `condition` holds or `timeout` passes.
public func eventually(timeout: Double = 10, interval: Double = 0.1, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .seconds(interval))
    }
    return try await condition()
}

/// Runs blocking work (starting a server, initdb) on a thread of its own, so that it does not
/// hold one of the few cooperative-pool threads that every other test's awaits need.
public func offCooperativePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
