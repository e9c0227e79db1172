import AutoscalerCore
import CLibPQ
import Logging
import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A PGconn pointer that may cross into the connection's thread. Safe because every use happens
/// on that one thread; the pointer never leaves this module.
struct ConnectionHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// One libpq connection. Every libpq call for it runs on a thread of its own, never on the Swift
/// concurrency pool nor on Dispatch's shared threads (libpq blocks: a hung database, or many,
/// would hold threads that other work waits for), and only one at a time (a PGconn is not
/// thread-safe). Results are copied into Swift values and cleared before a call returns.
public final class PostgresConnection: @unchecked Sendable {
    // `handle` and `dropped` are touched only on `queue`, the connection's one thread, which
    // serialises every use; that is what makes the unchecked Sendable safe.
    private let handle: OpaquePointer
    private let queue: ConnectionThread
    private let dropped = DroppedFlag()
    /// Receives the server's NOTICE messages (kept alive as long as the connection).
    private let notices: NoticeSink
    /// How long a statement may take, client side, before the connection is dropped: the
    /// server's own `statement_timeout` plus a little. A backend that is stopped (or a server
    /// that stopped answering) cancels nothing itself.
    let clientDeadline: Duration
    /// Where it is connected, without the password (for logs).
    public let server: String

    private init(handle: OpaquePointer, queue: ConnectionThread, server: String, notices: NoticeSink, clientDeadline: Duration) {
        self.handle = handle
        self.queue = queue
        self.server = server
        self.notices = notices
        self.clientDeadline = clientDeadline
    }

    deinit {
        let handle = ConnectionHandle(pointer: self.handle)
        let notices = self.notices, dropped = self.dropped
        queue.finish {
            if !dropped.value { PQfinish(handle.pointer) }
            // The notice sink lives until libpq can no longer call it.
            withExtendedLifetime(notices) {}
        }
    }

    /// Connects to `url` (`postgresql://user:password@host:port/db?sslmode=require`, as Redash's
    /// `REDASH_DATABASE_URL`), with a connect timeout and a statement timeout for every query.
    public static func connect(
        url: SecretURL, connectTimeout: Duration = .seconds(5), statementTimeout: Duration = .seconds(10),
        applicationName: String = "redash-autoscaler", logger: Logger = Logger(label: "postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    ) async throws -> PostgresConnection {
        let queue = ConnectionThread()
        let seconds = max(2, Int(connectTimeout.inSeconds.rounded(.up)))  // libpq's minimum is 2 s
        let milliseconds = max(1, Int((statementTimeout.inSeconds * 1000).rounded()))
        // TCP keepalives: a server that vanishes (failover, a network partition) is noticed in
        // about 25 s instead of the kernel's two hours; the leader lease depends on it.
        let keywords = ["dbname", "connect_timeout", "application_name", "options",
                        "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"]
        let values = [url.unredacted, String(seconds), applicationName,
                      "-c statement_timeout=\(milliseconds) -c TimeZone=UTC -c DateStyle=ISO",
                      "1", "10", "5", "3"]
        // A cancelled caller stops waiting at once; a connection made after that is finished.
        return try await CallerWait<PostgresConnection>.run { wait in
            queue.async {
                let keywordPointers = keywords.map { strdup($0) } + [nil]
                let valuePointers = values.map { strdup($0) } + [nil]
                defer {
                    keywordPointers.forEach { free($0) }
                    valuePointers.forEach { free($0) }
                }
                // expand_dbname = 1: the URL is read as a connection string; the keywords after
                // it (timeouts, options) override what it says.
                guard let handle = keywordPointers.withUnsafeBufferPointer({ keys in
                    valuePointers.withUnsafeBufferPointer { vals in
                        PQconnectdbParams(
                            UnsafeRawPointer(keys.baseAddress!).assumingMemoryBound(to: UnsafePointer<CChar>?.self),
                            UnsafeRawPointer(vals.baseAddress!).assumingMemoryBound(to: UnsafePointer<CChar>?.self), 1)
                    }
                }) else {
                    wait.finish(.failure(PostgresError(.connectionFailed, "out of memory")))
                    queue.finish {}
                    return
                }
                guard PQstatus(handle) == CONNECTION_OK else {
                    let message = Self.text(PQerrorMessage(handle))
                    PQfinish(handle)
                    queue.finish {}
                    let kind: PostgresError.Kind = message.contains("password authentication failed") || message.contains("no password supplied")
                        ? .authenticationFailed : message.contains("timeout expired") ? .timeout : .connectionFailed
                    wait.finish(.failure(PostgresError(kind, "cannot connect to \(url): \(message)")))
                    return
                }
                let server = "\(Self.text(PQhost(handle))):\(Self.text(PQport(handle)))/\(Self.text(PQdb(handle)))"
                // NOTICE lines go to the log, as structured lines, not raw to standard error.
                let notices = NoticeSink(logger: logger, server: server)
                PQsetNoticeProcessor(handle, { context, message in
                    guard let context, let message else { return }
                    Unmanaged<NoticeSink>.fromOpaque(context).takeUnretainedValue().receive(String(cString: message))
                }, Unmanaged.passUnretained(notices).toOpaque())
                wait.finish(.success(PostgresConnection(
                    handle: handle, queue: queue, server: server, notices: notices, clientDeadline: statementTimeout + .seconds(2))))
            }
        }
    }

    /// Runs one parameterised statement (`$1`, `$2`, … bound as text; `nil` is SQL NULL). There
    /// is no way to run SQL built from strings. The answer is awaited for at most the client
    /// deadline (or `within`, when shorter); past it the connection is dropped (the server ends
    /// the statement when it sees the connection gone, or at its own `statement_timeout`) and the
    /// error is a lost connection, so the session opens a new one.
    public func query(_ sql: String, _ parameters: [String?] = [], within limit: Duration? = nil) async throws -> PostgresRows {
        let box = ConnectionHandle(pointer: handle)
        let deadline = min(limit ?? clientDeadline, clientDeadline)
        // A cancelled caller stops waiting at once; the statement runs on to its deadline here.
        return try await CallerWait<PostgresRows>.run { wait in
            queue.async { [self] in
                guard !dropped.value else {
                    wait.finish(.failure(PostgresError(.connectionLost, "the connection to \(server) was dropped")))
                    return
                }
                let handle = box.pointer
                let copies = parameters.map { $0.map { strdup($0) } ?? nil }
                defer { copies.forEach { free($0) } }
                let sent = copies.withUnsafeBufferPointer { values in
                    PQsendQueryParams(
                        handle, sql, Int32(parameters.count), nil,
                        values.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: UnsafePointer<CChar>?.self) },
                        nil, nil, 0)
                }
                guard sent == 1 else {
                    wait.finish(.failure(PostgresError(.connectionLost, Self.text(PQerrorMessage(handle)))))
                    return
                }
                switch Self.awaitResult(handle, within: deadline) {
                case .answered(let result):
                    defer { PQclear(result) }
                    wait.finish(Result { try Self.decode(result, handle: handle) })
                case .failed:
                    wait.finish(.failure(PostgresError(.connectionLost, Self.text(PQerrorMessage(handle)))))
                case .timedOut:
                    dropped.value = true
                    PQfinish(handle)
                    wait.finish(.failure(PostgresError(
                        .connectionLost, "no answer from \(server) within \(deadline.compactDescription); the connection was dropped")))
                }
            }
        }
    }

    enum Awaited {
        case answered(OpaquePointer?)
        case failed
        case timedOut
    }

    /// Reads the results of the statement just sent, waiting on the socket with `poll` so that a
    /// silent server cannot hold the connection's queue past `deadline`. Returns the last result.
    private static func awaitResult(_ handle: OpaquePointer, within deadline: Duration) -> Awaited {
        let end = ContinuousClock.now + deadline
        var last: OpaquePointer?
        while true {
            guard PQconsumeInput(handle) == 1 else {
                if let last { PQclear(last) }
                return .failed
            }
            while PQisBusy(handle) == 0 {
                guard let result = PQgetResult(handle) else { return .answered(last) }
                if let last { PQclear(last) }
                last = result
            }
            let remaining = end - ContinuousClock.now
            guard remaining > .zero else {
                if let last { PQclear(last) }
                return .timedOut
            }
            var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(min(Double(Int32.max), max(1, (remaining / .milliseconds(1)).rounded(.up))))
            if poll(&descriptor, 1, milliseconds) < 0, errno != EINTR {
                if let last { PQclear(last) }
                return .failed
            }
        }
    }

    /// True while the server connection is up.
    public var isOpen: Bool {
        get async {
            let box = ConnectionHandle(pointer: handle)
            return await withCheckedContinuation { continuation in
                queue.async { [self] in continuation.resume(returning: !dropped.value && PQstatus(box.pointer) == CONNECTION_OK) }
            }
        }
    }

    // MARK: Results

    private static func decode(_ result: OpaquePointer?, handle: OpaquePointer) throws -> PostgresRows {
        guard let result else {
            throw PostgresError(.connectionLost, text(PQerrorMessage(handle)))
        }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let sqlState = field(result, "C")
            let primary = field(result, "M") ?? text(PQerrorMessage(handle))
            let kind: PostgresError.Kind = sqlState == "57014" ? .timeout
                : PQstatus(handle) != CONNECTION_OK ? .connectionLost : .query
            throw PostgresError(kind, sqlState: sqlState, primary)
        }
        let columnCount = Int(PQnfields(result)), rowCount = Int(PQntuples(result))
        let columns = (0..<columnCount).map { text(PQfname(result, Int32($0))) }
        let types = (0..<columnCount).map { PQftype(result, Int32($0)) }
        var rows: [[PostgresValue]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            rows.append((0..<columnCount).map { column in
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 { return .null }
                // Values are taken as they are: a text column's spaces are data.
                return PostgresDecoding.value(String(cString: PQgetvalue(result, Int32(row), Int32(column))), type: types[column])
            })
        }
        return PostgresRows(columns: columns, rows: rows)
    }

    private static func field(_ result: OpaquePointer, _ code: Character) -> String? {
        guard let pointer = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
        return String(cString: pointer)
    }

    private static func text(_ pointer: UnsafePointer<CChar>?) -> String {
        pointer.map { String(cString: $0).trimmingWhitespace } ?? ""
    }

    private static func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
        pointer.map { String(cString: $0).trimmingWhitespace } ?? ""
    }
}

/// Whether the connection was dropped after a missed deadline (its PGconn is then finished).
/// Touched only on the connection's serial queue, which is what makes the unchecked Sendable safe.
final class DroppedFlag: @unchecked Sendable {
    var value = false
}

/// Where the server's NOTICE messages go: the log, with the server named. libpq calls it on the
/// connection's queue, from C, through an unretained pointer the connection keeps alive.
final class NoticeSink: Sendable {
    let logger: Logger
    let server: String

    init(logger: Logger, server: String) {
        self.logger = logger
        self.server = server
    }

    func receive(_ message: String) {
        logger.notice("PostgreSQL notice", metadata: ["server": "\(server)", "notice": "\(message.trimmingWhitespace)"])
    }
}

/// The one thread a connection's libpq calls run on, in the order they were submitted. It ends
/// after the job handed to `finish`.
///
/// A thread of its own, started without waiting for it: the caller may be one of the two
/// threads Swift's concurrency has on a 2-core machine, and waiting there for a new thread to
/// be scheduled (NIO's thread pool does, in `start()`) costs every other task that long, for
/// each of 200 connections opened at once.
final class ConnectionThread: Sendable {
    private enum Job: Sendable {
        case work(@Sendable () -> Void)
        case last(@Sendable () -> Void)
    }

    /// What the thread and its submitters share; the thread holds it, not the ConnectionThread,
    /// so that an unused one is released (and its thread ended) by `deinit`.
    private final class Jobs: Sendable {
        let queue = Mutex<(jobs: [Job], closed: Bool)>(([], false))
        let ready = DispatchSemaphore(value: 0)

        /// False once the last job was submitted: later jobs do not run.
        func submit(_ job: Job) -> Bool {
            let accepted = queue.withLock { state in
                guard !state.closed else { return false }
                if case .last = job { state.closed = true }
                state.jobs.append(job)
                return true
            }
            if accepted { ready.signal() }
            return accepted
        }

        func serve() {
            while true {
                ready.wait()
                guard let job = queue.withLock({ $0.jobs.isEmpty ? nil : $0.jobs.removeFirst() }) else { continue }
                switch job {
                case .work(let work): work()
                case .last(let work):
                    work()
                    return
                }
            }
        }
    }

    private let jobs = Jobs()

    init() {
        let jobs = self.jobs
        Thread.detachNewThread { jobs.serve() }
    }

    deinit {
        // A connect never started (its caller was cancelled first): the thread ends here.
        _ = jobs.submit(.last {})
    }

    /// Runs `work` on the thread after everything submitted before it.
    func async(_ work: @escaping @Sendable () -> Void) {
        _ = jobs.submit(.work(work))
    }

    /// Runs `work` last, then ends the thread. Work submitted later does not run (the connection
    /// submits nothing after it: it is called from its deinit or a failed connect).
    func finish(_ work: @escaping @Sendable () -> Void) {
        _ = jobs.submit(.last(work))
    }
}
