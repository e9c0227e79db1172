/// A connection URL that may carry a password (or a libpq keyword string, `host=… password=…`).
///
/// Its `description` never shows the password, so a `SecretURL` is safe to interpolate into
/// logs, errors and metrics; the full text is only available as `unredacted`, for the code that
/// opens the connection.
public struct SecretURL: Hashable, Sendable, CustomStringConvertible {
    /// The URL as written, password included.
    public let unredacted: String

    /// Wraps a URL.
    public init(_ text: String) {
        self.unredacted = text
    }

    /// The scheme before `://`, lowercased (`redis`, `postgresql`), or `nil` when there is none.
    public var scheme: String? {
        guard let range = unredacted.firstRange(of: "://") else { return nil }
        return unredacted[..<range.lowerBound].lowercased()
    }

    /// The URL with any password replaced by `***`.
    public var description: String {
        Self.redact(unredacted)
    }

    /// Replaces the password of a URL's `user:password@` part, and the value of any query
    /// parameter named like a secret, with `***`.
    public static func redact(_ text: String) -> String {
        guard let schemeEnd = text.firstRange(of: "://") else { return redactKeywords(text) }
        var authorityEnd = text[schemeEnd.upperBound...].firstIndex(where: { "/?#".contains($0) })
            ?? text.endIndex
        var result = String(text[..<schemeEnd.upperBound])
        let authority = text[schemeEnd.upperBound..<authorityEnd]
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            if let colon = userInfo.firstIndex(of: ":") {
                result += String(userInfo[..<colon]) + ":***"
            } else if text.hasPrefix("redis") {
                // redis://secret@host is the legacy password-only form.
                result += "***"
            } else {
                result += String(userInfo)
            }
            result += String(authority[at...])
        } else {
            result += String(authority)
        }
        let rest = text[authorityEnd...]
        guard let question = rest.firstIndex(of: "?") else { return result + String(rest) }
        result += String(rest[..<question])
        authorityEnd = rest.index(after: question)
        let parameters = rest[authorityEnd...].split(separator: "&", omittingEmptySubsequences: false)
        let redacted = parameters.map { parameter -> String in
            guard let equals = parameter.firstIndex(of: "=") else { return String(parameter) }
            let key = parameter[..<equals].lowercased()
            let isSecret = ["password", "pass", "secret", "token", "sslpassword"].contains {
                key.contains($0)
            }
            return isSecret ? String(parameter[..<equals]) + "=***" : String(parameter)
        }
        return result + "?" + redacted.joined(separator: "&")
    }

    /// Names of keyword-string and query parameters that hold secrets.
    static let secretNames = ["password", "pass", "secret", "token", "sslpassword"]

    /// A libpq keyword/value string (`host=db password=x dbname=redash`) with every secret value,
    /// quoted or not, replaced by `***`. Text that is neither a URL nor keywords is hidden whole
    /// when it mentions a secret name, since its shape is unknown.
    static func redactKeywords(_ text: String) -> String {
        guard text.contains("=") else { return text }
        var result = ""
        var index = text.startIndex
        while index < text.endIndex {
            // Copy white space, then read `key = value`.
            if text[index].isWhitespace {
                result.append(text[index])
                index = text.index(after: index)
                continue
            }
            var keyEnd = index
            while keyEnd < text.endIndex, text[keyEnd] != "=", !text[keyEnd].isWhitespace { keyEnd = text.index(after: keyEnd) }
            let key = text[index..<keyEnd]
            var cursor = keyEnd
            while cursor < text.endIndex, text[cursor].isWhitespace { cursor = text.index(after: cursor) }
            guard cursor < text.endIndex, text[cursor] == "=" else {
                result += key
                index = keyEnd
                continue
            }
            cursor = text.index(after: cursor)
            while cursor < text.endIndex, text[cursor].isWhitespace { cursor = text.index(after: cursor) }
            var valueEnd = cursor
            if valueEnd < text.endIndex, text[valueEnd] == "'" {
                valueEnd = text.index(after: valueEnd)
                while valueEnd < text.endIndex, text[valueEnd] != "'" {
                    if text[valueEnd] == "\\" { valueEnd = text.index(after: valueEnd) }
                    if valueEnd < text.endIndex { valueEnd = text.index(after: valueEnd) }
                }
                if valueEnd < text.endIndex { valueEnd = text.index(after: valueEnd) }
            } else {
                while valueEnd < text.endIndex, !text[valueEnd].isWhitespace { valueEnd = text.index(after: valueEnd) }
            }
            let lowered = key.lowercased()
            let isSecret = secretNames.contains { lowered.contains($0) }
            result += key + "=" + (isSecret ? "***" : text[cursor..<valueEnd])
            index = valueEnd
        }
        return result
    }
}
