extension Array {
    /// The elements in consecutive runs of at most `size` (the last may be shorter), for APIs
    /// that take a bounded number of items per call.
    public func chunked(into size: Int) -> [ArraySlice<Element>] {
        precondition(size > 0, "a chunk holds at least one element")
        return stride(from: startIndex, to: endIndex, by: size).map { self[$0..<Swift.min($0 + size, endIndex)] }
    }
}

/// Amazon Resource Names.
public enum ARN {
    /// The part after the last `/`: a task's id, a service's or a cluster's name, or the text
    /// itself when it has no `/`.
    public static func lastPart(_ arn: String) -> String {
        arn.split(separator: "/").last.map(String.init) ?? arn
    }
}
