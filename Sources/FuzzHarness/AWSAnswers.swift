import AWSClient
import Foundation

/// A fuzz input of the AWS target: HTTP answers, in the order the calls are made, as text a
/// person can read and write. Each answer is a status line, header lines, a blank line and the
/// body; answers are separated by a line `---`:
///
///     200
///     Content-Type: application/x-amz-json-1.1
///
///     {"services": [...], "failures": []}
///     ---
///     400
///     X-Amzn-ErrorType: ThrottlingException
///
///     {"__type": "ThrottlingException", "message": "Rate exceeded"}
public enum AWSAnswers {
    static let separator = Array("\n---\n".utf8)

    /// The answers in `bytes`; a status that is not a number reads as 200.
    public static func decode(_ bytes: [UInt8]) -> [HTTPReply] {
        split(bytes, on: separator).map { record in
            let blank = firstRange(of: Array("\n\n".utf8), in: record)
            let head = String(decoding: record[..<(blank?.lowerBound ?? record.endIndex)], as: UTF8.self)
            let body = blank.map { Array(record[$0.upperBound...]) } ?? []
            var lines = head.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let status = lines.isEmpty ? 200 : Int(lines.removeFirst().trimmingCharacters(in: [" ", "\r"])) ?? 200
            let headers = lines.compactMap { line -> (name: String, value: String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " }))
            }
            return HTTPReply(status: status, headers: headers, body: body)
        }
    }

    /// `replies` as an input.
    public static func encode(_ replies: [HTTPReply]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (index, reply) in replies.enumerated() {
            if index > 0 { bytes += separator }
            bytes += Array("\(reply.status)\n".utf8)
            for header in reply.headers { bytes += Array("\(header.name): \(header.value)\n".utf8) }
            bytes += Array("\n".utf8) + reply.body
        }
        return bytes
    }

    private static func split(_ bytes: [UInt8], on separator: [UInt8]) -> [ArraySlice<UInt8>] {
        var parts: [ArraySlice<UInt8>] = []
        var rest = bytes[...]
        while let range = firstRange(of: separator, in: rest) {
            parts.append(rest[..<range.lowerBound])
            rest = rest[range.upperBound...]
        }
        parts.append(rest)
        return parts
    }

    private static func firstRange(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Range<Int>? {
        guard haystack.count >= needle.count else { return nil }
        var start = haystack.startIndex
        while start + needle.count <= haystack.endIndex {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start..<(start + needle.count) }
            start += 1
        }
        return nil
    }
}
