/// AWS region names as a shape: `eu-west-1`, `us-gov-west-1`, `ap-southeast-5`, `cn-north-1`.
/// A two-letter prefix, dash-separated lower-case words, a number at the end. Whether AWS has
/// such a region is for its endpoint to say.
public enum RegionName {
    public static func isWellFormed(_ region: String) -> Bool {
        let parts = region.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0].count == 2, let last = parts.last, !last.isEmpty,
              last.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        return parts.dropLast().allSatisfy { part in !part.isEmpty && part.allSatisfy { $0.isASCII && $0.isLowercase } }
    }
}
