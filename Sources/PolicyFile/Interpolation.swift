/// `${VAR}` and `${VAR:-default}` in scalar values, so that secrets stay in the environment
/// (ECS injects them from Parameter Store) and out of the file. `$$` writes a literal `$`.
///
/// Where a field may take a reference is the field's choice (`Use`): a URL may take any
/// variable (the password is then masked wherever the URL is shown); a name or a number only a
/// variable whose name does not look like a secret's; free text (queue names, schedule names)
/// none. So a policy's author cannot publish the task's secrets through a field that is shown.
enum Interpolation {
    /// What a field may interpolate.
    enum Use {
        /// Nothing: `${…}` stays as written (and fails the field's own check).
        case none
        /// Variables whose names do not look like a secret's.
        case names
        /// Any variable: the field is a URL, shown with its password masked.
        case secrets
    }

    /// Why a value could not be interpolated.
    enum Failure: Error, Equatable {
        case undefined(String)
        case unterminated
        case badName(String)
        case secret(String)
    }

    /// Parts of a variable name that mark it as holding a secret (or a URL that may hold one).
    static let secretMarkers = ["SECRET", "PASSWORD", "PASSWD", "TOKEN", "CREDENTIAL", "PRIVATE", "COOKIE", "KEY", "URL", "DSN", "AUTH"]

    /// Whether `name` looks like a secret's variable (`AWS_SECRET_ACCESS_KEY`, `REDASH_DATABASE_URL`).
    static func looksSecret(_ name: String) -> Bool {
        let upper = name.uppercased()
        return secretMarkers.contains { upper.contains($0) }
    }

    /// Replaces every reference in `text` with its value from `environment`; with `use` `.names`
    /// a reference to a secret-looking variable is refused. `used` collects the values put in.
    static func expand(
        _ text: String, environment: [String: String], use: Use = .secrets, used: inout [String]
    ) throws(Failure) -> String {
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
            if use == .names, looksSecret(String(name)) { throw .secret(String(name)) }
            // An empty variable counts as unset when a default is given, as in the shell.
            if let value = environment[String(name)], !(value.isEmpty && fallback != nil) {
                result += value
                used.append(value)
            } else if let fallback {
                // A default may name another variable: `${RQ_REDIS_URL:-${REDASH_REDIS_URL}}`.
                result += try expand(String(fallback), environment: environment, use: use, used: &used)
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

    /// `expand` without collecting the values.
    static func expand(_ text: String, environment: [String: String], use: Use = .secrets) throws(Failure) -> String {
        var used: [String] = []
        return try expand(text, environment: environment, use: use, used: &used)
    }

    private static func isValidName(_ name: Substring) -> Bool {
        guard let first = name.first, first == "_" || first.isLetter else { return false }
        return name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }
}
