import AWSSigning
import AutoscalerCore
import Foundation

/// Runs a profile's `credential_process` and reads the JSON it prints:
/// `{"Version": 1, "AccessKeyId": …, "SecretAccessKey": …, "SessionToken": …, "Expiration": "2026-…Z"}`.
struct ProcessCredentials: Sendable {
    let command: String
    let profile: String
    /// A credential_process that hangs must not hang the controller.
    static let timeout: Duration = .seconds(30)

    func credentials() async throws -> AWSCredentials {
        // The output goes to private files, read once the process has exited: reading a pipe to
        // end-of-file blocks a thread until every holder of its write end closes it, and a child
        // spawned at the same moment elsewhere in the process can inherit that end and hold it
        // for its whole life.
        let directory = NSTemporaryDirectory()
        let outputPath = directory + "credential-process-\(UUID().uuidString).out"
        let errorPath = directory + "credential-process-\(UUID().uuidString).err"
        let manager = FileManager.default
        // 0600: the output holds the secret.
        guard manager.createFile(atPath: outputPath, contents: nil, attributes: [.posixPermissions: 0o600]),
              manager.createFile(atPath: errorPath, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw CredentialError("profile \(profile): cannot create a temporary file for credential_process output in \(directory)")
        }
        defer {
            try? manager.removeItem(atPath: outputPath)
            try? manager.removeItem(atPath: errorPath)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.standardInput = FileHandle.nullDevice
        guard let output = FileHandle(forWritingAtPath: outputPath), let errors = FileHandle(forWritingAtPath: errorPath) else {
            throw CredentialError("profile \(profile): cannot open a temporary file for credential_process output")
        }
        defer {
            try? output.close()
            try? errors.close()
        }
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw CredentialError("profile \(profile): cannot run credential_process: \(error.localizedDescription)")
        }
        let deadline = ContinuousClock.now + Self.timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                throw CredentialError("profile \(profile): credential_process did not finish within \(Self.timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let data = manager.contents(atPath: outputPath) ?? Data()
        let errorData = manager.contents(atPath: errorPath) ?? Data()
        guard process.terminationStatus == 0 else {
            // Its stderr is its own message (`Error when retrieving token from sso: Token has expired`);
            // shortened, since it could be long.
            let message = String(decoding: errorData.prefix(400), as: UTF8.self).trimmingWhitespace
            throw CredentialError("profile \(profile): credential_process exited \(process.terminationStatus)\(message.isEmpty ? "" : ": \(message)")")
        }
        return try Self.parse(data, profile: profile)
    }

    static func parse(_ data: Data, profile: String) throws(CredentialError) -> AWSCredentials {
        let source = "profile \(profile): credential_process"
        guard (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else {
            throw CredentialError("\(source) did not print a JSON object")
        }
        let (object, credentials) = try TemporaryCredentialsDocument.parse(data, source: source)
        guard (object["Version"] as? Int) == 1 else {
            throw CredentialError("\(source) printed Version \(object["Version"].map { "\($0)" } ?? "(missing)"); only Version 1 is defined")
        }
        return credentials
    }
}
