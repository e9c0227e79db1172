import Foundation
import Logging

/// One JSON object per line on standard output, for FireLens, CloudWatch and Datadog:
/// `{"time": "…", "level": "notice", "label": "…", "message": "…", "service": "…", …}`, metadata
/// as top-level string fields.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    static let output = FileHandle.standardOutput
    static let lock = NSLock()

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: String] = [:]
        for (key, value) in metadata { object[key] = "\(value)" }
        for (key, value) in metadataProvider?.get() ?? [:] { object[key] = "\(value)" }
        for (key, value) in event.metadata ?? [:] { object[key] = "\(value)" }
        object["level"] = event.level.rawValue
        object["label"] = label
        object["message"] = "\(event.message)"
        // One formatter, used under the lock that also keeps lines from interleaving.
        Self.lock.withLock {
            object["time"] = Self.formatter.string(from: Date())
            guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
            data.append(0x0a)
            Self.output.write(data)
        }
    }

    nonisolated(unsafe) static let formatter: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}
