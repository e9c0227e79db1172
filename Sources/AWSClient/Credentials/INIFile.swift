import AutoscalerCore

/// The INI dialect of `~/.aws/credentials` and `~/.aws/config`: `[section]` headers,
/// `key = value` lines, `#` and `;` comments, and indented continuation lines (nested settings
/// such as `s3 =`), which are kept out of the top level.
struct INIFile: Sendable, Equatable {
    var sections: [String: [String: String]]

    /// Parses `text`; a malformed line is an error naming the line.
    init(parsing text: String, file: String) throws(CredentialError) {
        var sections: [String: [String: String]] = [:]
        var current: String?
        var nestedKey: String?
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            let trimmed = line.trimmingWhitespace
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if line.first == " " || line.first == "\t" {
                guard current != nil, nestedKey != nil else {
                    throw CredentialError("\(file):\(index + 1): an indented line outside a nested setting")
                }
                continue  // nested settings (s3 = …) are not credentials
            }
            nestedKey = nil
            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]") else { throw CredentialError("\(file):\(index + 1): a section header without `]`") }
                let name = String(trimmed.dropFirst().dropLast()).trimmingWhitespace
                current = name
                if sections[name] == nil { sections[name] = [:] }
                continue
            }
            guard let section = current else {
                throw CredentialError("\(file):\(index + 1): a setting before any [section]")
            }
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw CredentialError("\(file):\(index + 1): expected `key = value`")
            }
            let key = String(trimmed[..<equals]).trimmingWhitespace.lowercased()
            let value = String(trimmed[trimmed.index(after: equals)...]).trimmingWhitespace
            if value.isEmpty { nestedKey = key }
            sections[section, default: [:]][key] = value
        }
        self.sections = sections
    }
}
