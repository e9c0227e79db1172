import Foundation
import Logging

/// One JSON object per line on standard output, for FireLens, CloudWatch and Datadog:
/// `{"timestamp": "…", "level": "notice", "logger.name": "…", "message": "…", "service":
/// "redash-autoscaler", "env": "prod", "version": "0.1.0", "redash_service": "…", …}`.
///
/// Shaped so that Datadog's JSON preprocessing reads it without remapping: `timestamp` (ISO 8601)
/// is a date attribute, `level` a status attribute, `message` the body, and `service` is the
/// controller's own name (Datadog's reserved attribute, from `DD_SERVICE`), so the Redash service
/// a line is about goes under `redash_service`, the tag key its DogStatsD metrics and events
/// carry too (`DogStatsDAggregator.tagKey`), so that logs and metrics join on it. Metadata whose text is a plain decimal number
/// (`3`, `-2`, `108.5`) is written as a JSON number, so that it can be a measure; everything
/// else is a string.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let identity: Identity
    static let output = FileHandle.standardOutput
    static let lock = NSLock()

    /// The controller's identity in every line: Datadog's unified service tagging.
    public struct Identity: Sendable, Equatable {
        public var service: String
        public var env: String?
        public var version: String?

        public init(service: String = "redash-autoscaler", env: String? = nil, version: String? = nil) {
            self.service = service
            self.env = env
            self.version = version
        }

        /// `DD_SERVICE` (default `redash-autoscaler`), `DD_ENV`, `DD_VERSION` (default: the build's).
        public static func from(environment: [String: String], buildVersion: String?) -> Identity {
            func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
            return Identity(service: value("DD_SERVICE") ?? "redash-autoscaler", env: value("DD_ENV"), version: value("DD_VERSION") ?? buildVersion)
        }
    }

    /// Keys the handler writes itself; metadata under these names is moved aside, not lost.
    static let renamed: [String: String] = [
        "service": DogStatsDAggregator.tagKey("service"), "env": "ecs.env", "version": "ecs.version", "level": "log.level",
        "message": "log.message", "timestamp": "log.timestamp", "host": "ecs.host", "source": "log.source", "status": "log.status",
    ]

    public init(label: String, identity: Identity = Identity()) {
        self.label = label
        self.identity = identity
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object = Self.fields(metadata.merging(metadataProvider?.get() ?? [:]) { $1 }.merging(event.metadata ?? [:]) { $1 })
        object["level"] = event.level.rawValue
        object["logger.name"] = label
        object["message"] = "\(event.message)"
        object["service"] = identity.service
        if let env = identity.env { object["env"] = env }
        if let version = identity.version { object["version"] = version }
        // One formatter, used under the lock that also keeps lines from interleaving.
        Self.lock.withLock {
            object["timestamp"] = Self.formatter.string(from: Date())
            guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
            data.append(0x0a)
            Self.output.write(data)
        }
    }

    /// Metadata as JSON values: reserved names moved aside, plain numbers as numbers.
    static func fields(_ metadata: Logger.Metadata) -> [String: Any] {
        var object: [String: Any] = [:]
        for (key, value) in metadata {
            object[renamed[key] ?? key] = jsonValue("\(value)")
        }
        return object
    }

    /// `3` → 3, `-0.25` → -0.25; `007`, `1e5`, `5.0 seconds`, `nan` and numbers too long to be
    /// exact in a double stay strings.
    static func jsonValue(_ text: String) -> Any {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 16 else { return text }
        var index = bytes[0] == UInt8(ascii: "-") ? 1 : 0
        let digitsStart = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        let integerDigits = index - digitsStart
        guard integerDigits > 0, !(integerDigits > 1 && bytes[digitsStart] == UInt8(ascii: "0")) else { return text }
        if index == bytes.count { return Int(text) ?? text }
        guard bytes[index] == UInt8(ascii: "."), index + 1 < bytes.count else { return text }
        index += 1
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        guard index == bytes.count, let number = Double(text), number.isFinite else { return text }
        return number
    }

    nonisolated(unsafe) static let formatter: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}
