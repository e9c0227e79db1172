import AutoscalerCore
import Foundation

/// A policy file as a `TextSource`. Its version is a digest of the bytes (FNV-1a, 64 bits): a
/// file has no version of its own, and the digest is only a name for a change in a log line,
/// not a guard against tampering.
public struct FileText: TextSource {
    /// The path as given.
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public var name: String { path }

    public func read() async throws -> SourcedText {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason = FileManager.default.fileExists(atPath: path)
                ? ((error as NSError).localizedFailureReason ?? "cannot be read")
                : "no such file"
            throw FileTextError(path: path, reason: reason)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw FileTextError(path: path, reason: "cannot be read as UTF-8 text")
        }
        return SourcedText(text: text, version: Self.digest(data))
    }

    /// FNV-1a of `bytes` as 16 hex digits.
    static func digest(_ bytes: Data) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// A policy file that cannot be read.
public struct FileTextError: Error, Sendable, CustomStringConvertible {
    public var path: String
    /// `no such file`, `cannot be read as UTF-8 text`, the system's reason.
    public var reason: String

    public var description: String { "\(path): \(reason)" }
}
