extension String {
    /// The text followed by spaces up to `width` characters (never cut).
    public func rightPadded(to width: Int) -> String {
        self + String(repeating: " ", count: max(0, width - count))
    }

    /// Spaces up to `width` characters, then the text (never cut): numbers in a table column.
    public func leftPadded(to width: Int) -> String {
        String(repeating: " ", count: max(0, width - count)) + self
    }
}

extension BinaryInteger {
    /// The decimal digits with leading zeros up to `width`: `5.zeroPadded(to: 2)` is `05`.
    public func zeroPadded(to width: Int) -> String {
        let digits = String(self)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
