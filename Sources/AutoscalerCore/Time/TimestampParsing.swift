extension CivilTime {
    /// Parses the ISO-8601-like timestamps the systems around Redash write:
    /// `YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]][Z|z|+HH|+HH:MM|+HHMM|-…| UTC]`. No offset means UTC.
    /// RQ writes `2026-11-23T09:00:12.345678Z`, PostgreSQL (DateStyle ISO) `2026-11-23 09:00:12.5+09`,
    /// and traces exported by hand anything in between.
    public static func parseTimestamp(_ text: String) -> Instant? {
        let characters = Array(text.utf8)
        guard characters.count >= 16 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= characters.count else { return nil }
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
              let hour = number(11..<13), characters[13] == UInt8(ascii: ":"), let minute = number(14..<16),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60
        else { return nil }
        var index = 16
        var second = 0.0
        if index < characters.count, characters[index] == UInt8(ascii: ":") {
            guard let whole = number((index + 1)..<(index + 3)), whole < 61 else { return nil }
            second = Double(whole)
            index += 3
            if index < characters.count, characters[index] == UInt8(ascii: ".") {
                var scale = 0.1
                index += 1
                while index < characters.count, (48...57).contains(characters[index]) {
                    second += Double(characters[index] - 48) * scale
                    scale /= 10
                    index += 1
                }
            }
        }
        let suffix = String(decoding: characters[index...], as: UTF8.self)
        var offset = 0
        switch suffix {
        case "", "Z", "z", " UTC": break
        default:
            guard let sign = suffix.first, sign == "+" || sign == "-" else { return nil }
            let digits = suffix.dropFirst().filter { $0 != ":" }
            guard digits.count == 2 || digits.count == 4, digits.allSatisfy(\.isNumber),
                  let hours = Int(digits.prefix(2)), let minutes = Int(digits.dropFirst(2).isEmpty ? "0" : String(digits.dropFirst(2)))
            else { return nil }
            offset = (sign == "-" ? -1 : 1) * (hours * 3600 + minutes * 60)
        }
        return instant(year: year, month: month, day: day, hour: hour, minute: minute, second: second) - .seconds(offset)
    }
}
