import AutoscalerCore

/// RQ writes times as `utcformat`: `%Y-%m-%dT%H:%M:%S.%fZ` (UTC), e.g. `2026-11-23T09:00:12.345678Z`.
enum RQTimestamp {
    static func parse(_ text: String) -> Instant? {
        let characters = Array(text.utf8)
        guard characters.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = Int(characters[index]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0..<4), characters[4] == UInt8(ascii: "-"), let month = number(5..<7),
              characters[7] == UInt8(ascii: "-"), let day = number(8..<10),
              characters[10] == UInt8(ascii: "T") || characters[10] == UInt8(ascii: " "),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var fraction = 0.0
        var index = 19
        if index < characters.count, characters[index] == UInt8(ascii: ".") {
            var scale = 0.1
            index += 1
            while index < characters.count, (48...57).contains(characters[index]) {
                fraction += Double(characters[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        let suffix = String(decoding: characters[index...], as: UTF8.self)
        guard ["", "Z", "+00:00"].contains(suffix) else { return nil }
        return CivilTime.instant(year: year, month: month, day: day, hour: hour, minute: minute,
                                 second: Double(second) + fraction)
    }
}
