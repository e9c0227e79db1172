import Foundation

/// The `--json` output of every command: pretty-printed, keys sorted, absent values as `null`.
public enum JSONOutput {
    public static func render(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: nullify(object), options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// `Optional.none` boxed in `Any` is not JSON; make it `null`.
    private static func nullify(_ value: Any) -> Any {
        if let dictionary = value as? [String: Any] { return dictionary.mapValues(nullify) }
        if let array = value as? [Any] { return array.map(nullify) }
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return NSNull() }
            return nullify(wrapped)
        }
        return value
    }
}
