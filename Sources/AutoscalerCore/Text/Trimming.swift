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
