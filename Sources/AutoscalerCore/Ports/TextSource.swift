/// Where the controller reads a document it re-reads while it runs (the policy; later a kill
/// switch): a file, an SSM parameter, a Secrets Manager secret. Each read gives the text and the
/// version the store gave it, so that a change can be named in the log.
public protocol TextSource: Sendable {
    /// How the source is named in logs, errors and YAML diagnostics: `policies.yaml`,
    /// `ssm:/redash-autoscaler/policy`. Never the text.
    var name: String { get }
    /// Reads the text as it is now. Errors say what to do and never contain the text: a
    /// parameter may hold secrets.
    func read() async throws -> SourcedText
}

/// One read of a `TextSource`.
public struct SourcedText: Sendable, Equatable {
    /// The document.
    public var text: String
    /// The store's name for this revision: SSM's `Version` (`7`), Secrets Manager's `VersionId`,
    /// a digest of a file's contents.
    public var version: String

    /// Creates a read.
    public init(text: String, version: String) {
        self.text = text
        self.version = version
    }
}

extension TextSource {
    /// `ssm:/redash-autoscaler/policy (version 7)`: what a log line or `plan` says of a read.
    public func describe(_ read: SourcedText) -> String { "\(name) (version \(read.version))" }
}
