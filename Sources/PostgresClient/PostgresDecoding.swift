import AutoscalerCore

/// Text-format values by type OID (pg_type): the handful Redash's tables use.
enum PostgresDecoding {
    static func value(_ text: String, type: UInt32) -> PostgresValue {
        switch type {
        case 16: return .bool(text == "t")
        case 20, 21, 23, 26: return Int(text).map(PostgresValue.integer) ?? .text(text)
        case 700, 701, 1700: return Double(text).map(PostgresValue.double) ?? .text(text)
        case 1114, 1184: return CivilTime.parseTimestamp(text).map(PostgresValue.timestamp) ?? .text(text)
        case 114, 3802: return .json(text)
        default: return .text(text)
        }
    }
}
