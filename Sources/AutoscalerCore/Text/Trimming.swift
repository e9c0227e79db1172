extension StringProtocol {
    /// The text without leading and trailing whitespace (the standard library has no trim, and
    /// the core does not import Foundation).
    public var trimmingWhitespace: String {
        var text = Substring(self)
        while text.first?.isWhitespace == true { text = text.dropFirst() }
        while text.last?.isWhitespace == true { text = text.dropLast() }
        return String(text)
    }
}

extension StringProtocol {
    /// The text cut to at most `limit` characters, ending with "…" when cut: what a page or a
    /// log shows of text a user wrote (a hold's reason), so that no input makes an output big.
    public func clipped(to limit: Int) -> String {
        guard count > limit else { return String(self) }
        return String(prefix(Swift.max(0, limit - 1))) + "…"
    }
}

extension StringProtocol {
    /// The text with control characters shown as escapes (`\u{1B}`), tab and newline kept: what a
    /// terminal prints of text from a database or a file, so that no stored text can move the
    /// cursor, recolour the screen or hide what follows.
    public var printable: String {
        var shown = ""
        for scalar in unicodeScalars {
            let value = scalar.value
            if (value < 0x20 && scalar != "\n" && scalar != "\t") || (0x7F...0x9F).contains(value) || scalar == "\u{2028}" || scalar == "\u{2029}" {
                shown += "\\u{" + String(value, radix: 16, uppercase: true) + "}"
            } else {
                shown.unicodeScalars.append(scalar)
            }
        }
        return shown
    }
}
