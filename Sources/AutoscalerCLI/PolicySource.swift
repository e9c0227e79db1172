import ArgumentParser
import AutoscalerCore
import Foundation
import PolicyFile

/// Loads the policy for a command, printing its diagnostics to standard error.
enum PolicySource {
    /// Holds the policy's YAML itself, for containers without a policy file; `--policies` wins.
    static let textVariable = "REDASH_AUTOSCALER_POLICY_YAML"

    /// The policy at the resolved path. When no path was asked for and `policies.yaml` is not in
    /// the working directory, commands that need no real deployment use the embedded default.
    static func load(
        _ options: PolicyOptions, environment: [String: String], allowEmbedded: Bool
    ) throws -> (policy: Policy, origin: String) {
        let path = options.resolvedPath(environment: environment)
        let explicitlyAsked = options.policies != nil || environment[PolicyLoader.pathVariable] != nil
        let result: PolicyLoadResult
        let origin: String
        if options.policies == nil, let text = environment[Self.textVariable], !text.isEmpty {
            // The policy's text itself, from the container's environment (deploy/terraform).
            result = PolicyLoader.parse(text, file: "$\(Self.textVariable)", environment: environment)
            origin = "$\(Self.textVariable)"
        } else if allowEmbedded && !explicitlyAsked && !FileManager.default.fileExists(atPath: path) {
            result = PolicyLoader.parse(EmbeddedPolicy.text, file: EmbeddedPolicy.fileName, environment: environment)
            origin = EmbeddedPolicy.fileName
        } else {
            result = PolicyLoader.load(path: path, environment: environment)
            origin = path
        }
        if !result.diagnostics.isEmpty {
            StandardError.write(result.diagnostics.map(\.description).joined(separator: "\n"))
        }
        guard let policy = result.policy else {
            StandardError.write("\(origin): \(result.errors.count) error(s); the policy was not accepted")
            throw ExitCode(1)
        }
        return (policy, origin)
    }
}

/// Writes lines to standard error.
enum StandardError {
    static func write(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
