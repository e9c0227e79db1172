import Foundation
/// Reads leaf elements out of the small XML documents AWS's query protocol answers with (STS
/// responses, `ErrorResponse` bodies). Not a general XML parser: it finds the text of the first
/// `<Name>…</Name>` and decodes the five predefined entities, which is all these documents use.
enum XMLFields {
    static func first(_ name: String, in text: String) -> String? {
        guard let open = text.range(of: "<\(name)>"),
              let close = text.range(of: "</\(name)>", range: open.upperBound..<text.endIndex) else { return nil }
        return unescape(String(text[open.upperBound..<close.lowerBound]))
    }

    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
