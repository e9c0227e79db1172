import AutoscalerCore

/// A column value, copied out of libpq's result and decoded by the column's type.
public enum PostgresValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case integer(Int)
    case double(Double)
    case text(String)
    /// `timestamp with time zone` (and `timestamp`, read as UTC).
    case timestamp(Instant)
    /// `json` or `jsonb`, as its text.
    case json(String)

    public var int: Int? { if case .integer(let value) = self { value } else { nil } }
    public var double: Double? {
        switch self {
        case .double(let value): value
        case .integer(let value): Double(value)
        default: nil
        }
    }
    public var string: String? {
        switch self {
        case .text(let value), .json(let value): value
        default: nil
        }
    }
    public var instant: Instant? { if case .timestamp(let value) = self { value } else { nil } }
    public var isNull: Bool { self == .null }
}

/// The rows of one query.
public struct PostgresRows: Sendable, Equatable {
    public var columns: [String]
    public var rows: [[PostgresValue]]

    /// The value of `column` in row `index`.
    public subscript(index: Int, column: String) -> PostgresValue? {
        guard let position = columns.firstIndex(of: column), index < rows.count else { return nil }
        return rows[index][position]
    }
}

/// Why a PostgreSQL operation failed. Carries the SQLSTATE, never the password.
public struct PostgresError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case connectionFailed = "connection-failed"
        case authenticationFailed = "authentication-failed"
        case timeout
        case query
        case connectionLost = "connection-lost"
    }

    public var kind: Kind
    /// The five-character SQLSTATE (`28P01`, `57014`, `42703`), when the server sent one.
    public var sqlState: String?
    public var message: String

    public init(_ kind: Kind, sqlState: String? = nil, _ message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
    }

    public var description: String {
        "postgres: \(message)" + (sqlState.map { " (SQLSTATE \($0))" } ?? "")
    }
}
