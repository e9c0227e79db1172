import AWSSigning
import AutoscalerCore
import Foundation

/// The JSON document that credential_process, the ECS container endpoint and IMDS all answer
/// with: `AccessKeyId`, `SecretAccessKey`, a session token (`SessionToken` for a process,
/// `Token` for the endpoints) and an ISO 8601 `Expiration`. Errors name the source and never
/// echo the document, which holds the secret.
package enum TemporaryCredentialsDocument {
    package static func parse(_ body: some Collection<UInt8>, source: String) throws(CredentialError) -> (object: [String: Any], credentials: AWSCredentials) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw CredentialError("\(source) did not answer with a JSON object")
        }
        guard let key = object["AccessKeyId"] as? String, !key.isEmpty,
              let secret = object["SecretAccessKey"] as? String, !secret.isEmpty else {
            throw CredentialError("\(source) gave no AccessKeyId or SecretAccessKey")
        }
        var expiration: Instant?
        if let text = object["Expiration"] as? String {
            guard let parsed = CivilTime.parseTimestamp(text) else {
                throw CredentialError("\(source) gave an Expiration that is not ISO 8601: \(text)")
            }
            expiration = parsed
        }
        let token = (object["SessionToken"] as? String) ?? (object["Token"] as? String)
        return (object, AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: token, expiration: expiration))
    }
}
