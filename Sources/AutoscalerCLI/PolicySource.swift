import AWSClient
import ArgumentParser
import AutoscalerCore
import Foundation
import Logging
import PolicyFile

/// A policy as a command loaded it, and where to read it again.
struct LoadedPolicy {
    /// The policy, valid.
    var policy: Policy
    /// Where it came from, as messages name it: a path, `ssm:/redash/policy`,
    /// `$REDASH_AUTOSCALER_POLICY_YAML`, the embedded default.
    var origin: String
    /// What `run` reads again while it runs; `nil` for the environment's YAML and the embedded
    /// default, which cannot change under a running process.
    var source: (any TextSource)?
    /// The read that gave `policy`, when there was one.
    var read: SourcedText?
    /// Every diagnostic, warnings included.
    var diagnostics: [Diagnostic]
}

/// Loads the policy for a command, printing its diagnostics to standard error.
enum PolicySource {
    /// Holds the policy's YAML itself, for containers without a policy file; `--policies` wins,
    /// and it wins over `REDASH_AUTOSCALER_POLICIES`. It cannot be reloaded: a policy that must
    /// change without a deployment belongs in `--policies ssm:/NAME`.
    static let textVariable = "REDASH_AUTOSCALER_POLICY_YAML"

    /// The policy at the resolved location. When no location was asked for and `policies.yaml`
    /// is not in the working directory, commands that need no real deployment use the embedded
    /// default.
    static func load(
        _ options: PolicyOptions, environment: [String: String], allowEmbedded: Bool, aws: AWSOptions? = nil
    ) async throws -> (policy: Policy, origin: String) {
        let loaded = try await loadWithSource(options, environment: environment, allowEmbedded: allowEmbedded, aws: aws)
        return (loaded.policy, loaded.origin)
    }

    /// As `load`, with the source to read again and the read.
    static func loadWithSource(
        _ options: PolicyOptions, environment: [String: String], allowEmbedded: Bool, aws: AWSOptions? = nil,
        logger: Logger = Logger(label: "redash-autoscaler.policy", factory: { _ in SwiftLogNoOpLogHandler() })
    ) async throws -> LoadedPolicy {
        let outcome = await read(options, environment: environment, allowEmbedded: allowEmbedded, aws: aws, logger: logger)
        guard case .read(let result, let origin, let source, let read) = outcome else {
            if case .unreadable(let message) = outcome { StandardError.write(message) }
            throw ExitCode(1)
        }
        if !result.diagnostics.isEmpty {
            StandardError.write(result.diagnostics.map(\.description).joined(separator: "\n"))
        }
        guard let policy = result.policy else {
            StandardError.write("\(origin): \(result.errors.count) error(s); the policy was not accepted")
            throw ExitCode(1)
        }
        return LoadedPolicy(policy: policy, origin: origin, source: source, read: read, diagnostics: result.diagnostics)
    }

    /// What reading the policy gave: the parse (valid or not), or why there was nothing to parse.
    enum Outcome {
        case read(PolicyLoadResult, origin: String, source: (any TextSource)?, read: SourcedText?)
        /// The location is malformed, or AWS could not be asked or refused: a sentence to print.
        case unreadable(String)
    }

    /// Reads and parses, printing nothing.
    static func read(
        _ options: PolicyOptions, environment: [String: String], allowEmbedded: Bool, aws: AWSOptions?, logger: Logger
    ) async -> Outcome {
        let written = options.resolvedPath(environment: environment)
        let explicitlyAsked = options.policies != nil || environment[PolicyLoader.pathVariable] != nil
        if options.policies == nil, let text = environment[Self.textVariable], !text.isEmpty {
            // The policy's text itself, from the container's environment.
            let origin = "$\(Self.textVariable)"
            return .read(PolicyLoader.parse(text, file: origin, environment: environment), origin: origin, source: nil, read: nil)
        }
        let location: TextLocation
        do {
            location = try TextLocation.parse(written)
        } catch {
            return .unreadable("--policies: \(error)")
        }
        let source: any TextSource
        switch location {
        case .file(let path):
            if allowEmbedded && !explicitlyAsked && !FileManager.default.fileExists(atPath: path) {
                let result = PolicyLoader.parse(EmbeddedPolicy.text, file: EmbeddedPolicy.fileName, environment: environment)
                return .read(result, origin: EmbeddedPolicy.fileName, source: nil, read: nil)
            }
            source = FileText(path: path)
        case .ssmParameter, .secret:
            do {
                guard let made = try StoredTextSource.make(
                    location, regionFlag: aws?.region, profile: aws?.profile, environment: environment, logger: logger) else {
                    return .unreadable("\(location): not a parameter or a secret")
                }
                source = made
            } catch {
                return .unreadable("cannot read the policy from \(location): \(error)")
            }
        }
        do {
            let read = try await source.read()
            return .read(PolicyLoader.parse(read.text, file: source.name, environment: environment), origin: source.name, source: source, read: read)
        } catch let error as FileTextError {
            // As a diagnostic, like every other problem of a file.
            let diagnostic = Diagnostic(severity: .error, file: source.name, line: 1, column: 1, path: "", message: "cannot read the policy file: \(error.reason)")
            return .read(PolicyLoadResult(policy: nil, diagnostics: [diagnostic]), origin: source.name, source: source, read: nil)
        } catch {
            return .unreadable("cannot read the policy: \(error)")
        }
    }
}

/// Writes lines to standard error.
enum StandardError {
    static func write(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
