import AutoscalerCore
import Foundation

/// The controller-wide kill switch: a document holding `active`, `dry-run` or `paused` (one word,
/// surrounding blanks and a trailing newline ignored), read every tick. An absent or empty
/// document asks for nothing, so the policy's modes apply; anything else is an error, and the
/// reconciler then keeps the mode it last read.
public struct KillSwitch: ModeSwitch {
    public let source: String
    /// The document's text, `nil` when it does not exist.
    let readText: @Sendable () async throws -> String?

    public init(source: String, read: @escaping @Sendable () async throws -> String?) {
        self.source = source
        self.readText = read
    }

    /// A file: `echo paused > /run/redash-autoscaler/mode` stops every write from the next tick.
    public static func file(_ path: String) -> KillSwitch {
        KillSwitch(source: path) {
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw KillSwitchError("\(path) cannot be read (check its permissions)")
            }
            guard data.count <= 1024 else { throw KillSwitchError("\(path) holds \(data.count) bytes; expected one word") }
            return String(decoding: data, as: UTF8.self)
        }
    }

    public func read(now: Instant) async throws -> ServiceMode? {
        guard let text = try await readText() else { return nil }
        return try Self.mode(in: text, source: source)
    }

    /// The mode `text` names; `nil` for an empty document.
    static func mode(in text: String, source: String) throws -> ServiceMode? {
        let word = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if word.isEmpty { return nil }
        guard let mode = ServiceMode(rawValue: word) else {
            let shown = word.count > 40 ? String(word.prefix(40)) + "…" : word
            throw KillSwitchError("\(source) holds `\(shown)`; expected active, dry-run or paused (or nothing)")
        }
        return mode
    }
}

/// Why the kill switch could not be read.
public struct KillSwitchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
