import AWSClient
import AWSTestSupport
import AutoscalerCore
import Foundation
import IntegrationSupport
import Testing

/// The policy's remote sources against moto with IAM authentication on: Parameter Store
/// (String and SecureString, with the controller's parameter permission) and Secrets Manager.
@Suite("Policy in Parameter Store and Secrets Manager, against moto", .testThreads, .serialized)
struct StoredTextMotoTests {
    static func source(_ location: String, _ keys: Lab.Keys, _ moto: LocalHTTPServer) throws -> any TextSource {
        let made = try StoredTextSource.make(
            try TextLocation.parse(location), regionFlag: Lab.region, profile: nil, environment: Lab.environment(keys, endpoint: moto.url),
            retry: Lab.quickRetry)
        return try #require(made)
    }

    @Test("a String and a SecureString parameter read alike, each with its version; an overwrite is a new version")
    func parameters() async throws {
        let moto = try await LocalHTTPServer.moto()
        let world = try await Lab.setUpMoto(moto, services: ["redash-adhoc-worker"])
        let store = try ParameterStoreLab(moto, keys: world.admin)
        try await store.put("/redash-autoscaler/plain", "cluster: redash\n")
        try await store.put("/redash-autoscaler/secure", "cluster: secure\ndatabase: postgresql://u:pw@db/redash\n", type: "SecureString")

        let plain = try Self.source("ssm:/redash-autoscaler/plain", world.controller, moto)
        #expect(plain.name == "ssm:/redash-autoscaler/plain")
        #expect(try await plain.read() == SourcedText(text: "cluster: redash\n", version: "1"))
        let secure = try Self.source("ssm:/redash-autoscaler/secure", world.controller, moto)
        let read = try await secure.read()
        #expect(read.text == "cluster: secure\ndatabase: postgresql://u:pw@db/redash\n", "decrypted, not the ciphertext")
        #expect(secure.describe(read) == "ssm:/redash-autoscaler/secure (version 1)")

        #expect(try await store.put("/redash-autoscaler/plain", "cluster: other\n") == 2)
        #expect(try await plain.read() == SourcedText(text: "cluster: other\n", version: "2"))
        // The ARN Terraform outputs reads the same parameter.
        let byARN = try Self.source("arn:aws:ssm:\(Lab.region):123456789012:parameter/redash-autoscaler/plain", world.controller, moto)
        #expect(try await byARN.read().version == "2")
    }

    @Test("a missing parameter names it and the region; a denied one names ssm:GetParameter; neither message holds the value")
    func failures() async throws {
        let moto = try await LocalHTTPServer.moto()
        let world = try await Lab.setUpMoto(moto, services: ["redash-adhoc-worker"])
        let store = try ParameterStoreLab(moto, keys: world.admin)
        let value = "cluster: redash # value-Marker-K7q2"
        try await store.put("/redash-autoscaler/policy", value, type: "SecureString")

        await #expect {
            try await Self.source("ssm:/redash-autoscaler/nope", world.controller, moto).read()
        } throws: { error in
            guard let error = error as? StoredTextError else { return false }
            return error.kind == .notFound && "\(error)".contains("SSM parameter /redash-autoscaler/nope not found in region \(Lab.region)")
        }
        // The read-only user has the ECS reads only.
        let denied = try Self.source("ssm:/redash-autoscaler/policy", world.readonly, moto)
        var message = ""
        await #expect {
            try await denied.read()
        } throws: { error in
            message = "\(error)"
            guard let error = error as? StoredTextError else { return false }
            return error.kind == .accessDenied && message.contains("must allow ssm:GetParameter on it")
        }
        #expect(!message.contains("value-Marker-K7q2") && !message.contains(world.readonly.secretAccessKey), "\(message)")
    }

    @Test("a Secrets Manager secret is read with its VersionId; a new value is a new version")
    func secret() async throws {
        let moto = try await LocalHTTPServer.moto()
        let world = try await Lab.setUpMoto(moto, services: ["redash-adhoc-worker"])
        let store = try ParameterStoreLab(moto, keys: world.admin)
        let first = try await store.createSecret("redash-autoscaler/policy", "cluster: redash\n")
        let source = try Self.source("secretsmanager:redash-autoscaler/policy", world.admin, moto)
        #expect(try await source.read() == SourcedText(text: "cluster: redash\n", version: first))
        let second = try await store.putSecret("redash-autoscaler/policy", "cluster: other\n")
        #expect(second != first)
        #expect(try await source.read() == SourcedText(text: "cluster: other\n", version: second))
        // The controller's role has no secretsmanager:GetSecretValue: said so.
        await #expect {
            try await Self.source("secretsmanager:redash-autoscaler/policy", world.controller, moto).read()
        } throws: { error in
            (error as? StoredTextError)?.kind == .accessDenied && "\(error)".contains("secretsmanager:GetSecretValue")
        }
    }
}
