import AutoscalerCore

/// Text-format values by type OID (pg_type): the handful Redash's tables use.
enum PostgresDecoding {
    static func value(_ text: String, type: UInt32) -> PostgresValue {
        switch type {
        case 16: return .bool(text == "t")
        case 20, 21, 23, 26: return Int(text).map(PostgresValue.integer) ?? .text(text)
        case 700, 701, 1700: return Double(text).map(PostgresValue.double) ?? .text(text)
        case 1114, 1184: return timestamp(text).map(PostgresValue.timestamp) ?? .text(text)
        case 114, 3802: return .json(text)
        default: return .text(text)
        }
    }

    /// `2026-11-23 09:00:00.123456+00` (DateStyle ISO, TimeZone UTC, which the connection sets).
    static func timestamp(_ text: String) -> Instant? {
        let characters = Array(text.utf8)
        guard characters.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int? { Int(String(decoding: characters[range], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var index = 19
        var fraction = 0.0
        if index < characters.count, characters[index] == UInt8(ascii: ".") {
            var scale = 0.1
            index += 1
            while index < characters.count, (48...57).contains(characters[index]) {
                fraction += Double(characters[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offsetSeconds = 0
        if index < characters.count, characters[index] == UInt8(ascii: "+") || characters[index] == UInt8(ascii: "-") {
            let sign = characters[index] == UInt8(ascii: "-") ? -1 : 1
            let rest = String(decoding: characters[(index + 1)...], as: UTF8.self).split(separator: ":")
            let hours = Int(rest.first ?? "") ?? 0, minutes = rest.count > 1 ? Int(rest[1]) ?? 0 : 0
            offsetSeconds = sign * (hours * 3600 + minutes * 60)
        }
        return CivilTime.instant(year: year, month: month, day: day, hour: hour, minute: minute, second: Double(second) + fraction)
            - .seconds(offsetSeconds)
    }
}
