import AutoscalerCore
import CLibPQ
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A PGconn pointer that may cross into the connection's dispatch queue. Safe because every use
/// happens on that one serial queue; the pointer never leaves this module.
struct ConnectionHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// One libpq connection. Every libpq call for it runs on its own serial dispatch queue, never on
/// the Swift concurrency pool (libpq blocks), and only one at a time (a PGconn is not
/// thread-safe). Results are copied into Swift values and cleared before a call returns.
public final class PostgresConnection: @unchecked Sendable {
    // `handle` is touched only on `queue`, which serialises every use; that is what makes the
    // unchecked Sendable safe.
    private let handle: OpaquePointer
    private let queue: DispatchQueue
    /// Where it is connected, without the password (for logs).
    public let server: String

    private init(handle: OpaquePointer, queue: DispatchQueue, server: String) {
        self.handle = handle
        self.queue = queue
        self.server = server
    }

    deinit {
        let handle = ConnectionHandle(pointer: self.handle)
        queue.async { PQfinish(handle.pointer) }
    }

    /// Connects to `url` (`postgresql://user:password@host:port/db?sslmode=require`, as Redash's
    /// `REDASH_DATABASE_URL`), with a connect timeout and a statement timeout for every query.
    public static func connect(
        url: SecretURL, connectTimeout: Duration = .seconds(5), statementTimeout: Duration = .seconds(10),
        applicationName: String = "redash-autoscaler"
    ) async throws -> PostgresConnection {
        let queue = DispatchQueue(label: "redash-autoscaler.postgres")
        let seconds = max(2, Int(connectTimeout.inSeconds.rounded(.up)))  // libpq's minimum is 2 s
        let milliseconds = max(1, Int((statementTimeout.inSeconds * 1000).rounded()))
        // TCP keepalives: a server that vanishes (failover, a network partition) is noticed in
        // about 25 s instead of the kernel's two hours; the leader lease depends on it.
        let keywords = ["dbname", "connect_timeout", "application_name", "options",
                        "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"]
        let values = [url.unredacted, String(seconds), applicationName,
                      "-c statement_timeout=\(milliseconds) -c TimeZone=UTC -c DateStyle=ISO",
                      "1", "10", "5", "3"]
        return try await withCheckedThrowingContinuation { continuation in
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
                    continuation.resume(throwing: PostgresError(.connectionFailed, "out of memory"))
                    return
                }
                guard PQstatus(handle) == CONNECTION_OK else {
                    let message = Self.text(PQerrorMessage(handle))
                    PQfinish(handle)
                    let kind: PostgresError.Kind = message.contains("password authentication failed") || message.contains("no password supplied")
                        ? .authenticationFailed : message.contains("timeout expired") ? .timeout : .connectionFailed
                    continuation.resume(throwing: PostgresError(kind, "cannot connect to \(url): \(message)"))
                    return
                }
                let server = "\(Self.text(PQhost(handle))):\(Self.text(PQport(handle)))/\(Self.text(PQdb(handle)))"
                continuation.resume(returning: PostgresConnection(handle: handle, queue: queue, server: server))
            }
        }
    }

    /// Runs one parameterised statement (`$1`, `$2`, … bound as text; `nil` is SQL NULL). There
    /// is no way to run SQL built from strings.
    public func query(_ sql: String, _ parameters: [String?] = []) async throws -> PostgresRows {
        let box = ConnectionHandle(pointer: handle)
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                let handle = box.pointer
                let copies = parameters.map { $0.map { strdup($0) } ?? nil }
                defer { copies.forEach { free($0) } }
                let result = copies.withUnsafeBufferPointer { values in
                    PQexecParams(
                        handle, sql, Int32(parameters.count), nil,
                        values.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: UnsafePointer<CChar>?.self) },
                        nil, nil, 0)
                }
                defer { PQclear(result) }
                continuation.resume(with: Result { try Self.decode(result, handle: handle) })
            }
        }
    }

    /// True while the server connection is up.
    public var isOpen: Bool {
        get async {
            let box = ConnectionHandle(pointer: handle)
            return await withCheckedContinuation { continuation in
                queue.async { continuation.resume(returning: PQstatus(box.pointer) == CONNECTION_OK) }
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
