/// Why a parameter or secret could not be read, said so that an operator knows what to change.
/// It never holds the value: a parameter may hold secrets.
public struct StoredTextError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// No such parameter or secret in that region and account.
        case notFound
        /// The credentials may not read it, or may not decrypt it.
        case accessDenied
        /// It exists but holds no text (a binary secret that is not UTF-8).
        case notText
        /// Anything else AWS or the network said.
        case failed
    }

    public var kind: Kind
    public var description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// Names where a read went: the region, and the account when the caller knows it.
    static func place(region: String, account: String?) -> String {
        "in region \(region) (account \(account ?? "of these credentials; give the ARN to read another account's"))"
    }

    /// The AWS error of a read, as an operator's sentence. `what` names the thing read
    /// (`SSM parameter /redash/policy`), `action` the IAM action of the read; a missing
    /// kms:Decrypt is told apart, since it is the other permission a SecureString or a secret
    /// encrypted with a customer-managed key needs.
    static func from(_ error: any Error, what: String, action: String, region: String, account: String?, notFoundCodes: Set<String>) -> StoredTextError {
        guard let error = error as? AWSError else { return StoredTextError(.failed, "\(what): \(error)") }
        if notFoundCodes.contains(error.code) {
            return StoredTextError(.notFound, "\(what) not found \(place(region: region, account: account))")
        }
        if error.kind == .accessDenied || error.code == "AccessDeniedException" {
            let kms = error.message.contains("kms:") || error.code.hasPrefix("KMS")
            let missing = kms
                ? "kms:Decrypt on the KMS key that encrypts it (a customer-managed key needs it granted explicitly)"
                : "\(action) on it (and kms:Decrypt, if a customer-managed KMS key encrypts it)"
            return StoredTextError(.accessDenied, "\(what) \(place(region: region, account: account)): access denied: the credentials' IAM policy must allow \(missing); AWS said: \(error.code): \(error.message)")
        }
        if error.code.hasPrefix("KMS") || error.code == "DecryptionFailure" {
            return StoredTextError(.accessDenied, "\(what) \(place(region: region, account: account)) cannot be decrypted: \(error.code): \(error.message). The credentials need kms:Decrypt on its key, and the key must be enabled")
        }
        return StoredTextError(.failed, "\(what) \(place(region: region, account: account)): \(error)")
    }
}
