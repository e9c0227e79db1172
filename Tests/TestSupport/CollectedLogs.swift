import Logging
import Synchronization

/// Collects log lines, for checking what a client logged.
public final class CollectedLogs: Sendable {
    private let lines = Mutex<[String]>([])

    public init() {}

    public var all: [String] { lines.withLock { $0 } }

    public func logger() -> Logger {
        Logger(label: "collected", factory: { _ in Handler(logs: self) })
    }

    struct Handler: LogHandler {
        let logs: CollectedLogs
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let fields = (event.metadata ?? [:]).map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ")
            logs.lines.withLock { $0.append("\(event.level) \(event.message) \(fields)") }
        }
    }
}
