/// `${VAR}` and `${VAR:-default}` in scalar values, so that secrets stay in the environment
/// (ECS injects them from Parameter Store) and out of the file. `$$` writes a literal `$`.
enum Interpolation {
    /// Why a value could not be interpolated.
    enum Failure: Error, Equatable {
        case undefined(String)
        case unterminated
        case badName(String)
    }

    /// Replaces every reference in `text` with its value from `environment`.
    static func expand(_ text: String, environment: [String: String]) throws(Failure) -> String {
        guard text.contains("$") else { return text }
        var result = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            guard character == "$", next < text.endIndex else {
                result.append(character)
                index = next
                continue
            }
            if text[next] == "$" {
                result.append("$")
                index = text.index(after: next)
                continue
            }
            guard text[next] == "{" else {
                result.append(character)
                index = next
                continue
            }
            guard let close = matchingBrace(in: text, after: next) else { throw .unterminated }
            let body = text[text.index(after: next)..<close]
            let name: Substring
            let fallback: Substring?
            if let separator = body.firstRange(of: ":-") {
                name = body[..<separator.lowerBound]
                fallback = body[separator.upperBound...]
            } else {
                name = body
                fallback = nil
            }
            guard isValidName(name) else { throw .badName(String(name)) }
            // An empty variable counts as unset when a default is given, as in the shell.
            if let value = environment[String(name)], !(value.isEmpty && fallback != nil) {
                result += value
            } else if let fallback {
                // A default may name another variable: `${RQ_REDIS_URL:-${REDASH_REDIS_URL}}`.
                result += try expand(String(fallback), environment: environment)
            } else {
                throw .undefined(String(name))
            }
            index = text.index(after: close)
        }
        return result
    }

    /// The `}` that closes the `${` whose `{` is at `open`, counting nested `${…}`.
    private static func matchingBrace(in text: String, after open: String.Index) -> String.Index? {
        var depth = 0
        var index = text.index(after: open)
        while index < text.endIndex {
            let character = text[index]
            if character == "$", text.index(after: index) < text.endIndex, text[text.index(after: index)] == "{" {
                depth += 1
                index = text.index(index, offsetBy: 2)
                continue
            }
            if character == "}" {
                if depth == 0 { return index }
                depth -= 1
            }
            index = text.index(after: index)
        }
        return nil
    }

    private static func isValidName(_ name: Substring) -> Bool {
        guard let first = name.first, first == "_" || first.isLetter else { return false }
        return name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }
}
