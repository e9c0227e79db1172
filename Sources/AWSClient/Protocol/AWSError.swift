import Foundation

/// An AWS API call that failed with an answer from AWS (or something in front of it). The
/// description says what to do about it; it never contains request headers, bodies or keys.
public struct AWSError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// The IAM policy lacks the action.
        case accessDenied
        /// The cluster, service or task asked for does not exist (in this region and account).
        case notFound
        /// Temporary credentials expired, or the key is unknown or deactivated.
        case expiredCredentials
        case invalidCredentials
        /// The signature did not match: the secret is wrong or the request was changed on the way.
        case invalidSignature
        /// This machine's clock is too far from AWS's.
        case clockSkew
        /// Rate limited; retried with backoff before this is reported.
        case throttled
        /// AWS's side failed (5xx); retried before this is reported.
        case server
        /// The request was wrong in a way that retrying will not change.
        case invalidRequest
        /// Not an AWS answer at all (an HTML page from a proxy, an empty 403).
        case unexpectedResponse
    }

    public var kind: Kind
    /// `ecs:UpdateService`: the IAM action name of the call.
    public var action: String
    /// AWS's error code (`ClusterNotFoundException`, `AccessDenied`) or `HTTP 403`.
    public var code: String
    public var message: String
    public var status: Int
    /// What was asked (`cluster redash, service redash-adhoc-worker`), to make not-found errors
    /// actionable.
    public var context: String?

    public init(kind: Kind, action: String, code: String, message: String, status: Int, context: String? = nil) {
        self.kind = kind
        self.action = action
        self.code = code
        self.message = message
        self.status = status
        self.context = context
    }

    public var description: String {
        var text = "\(action) failed"
        if let context { text += " (\(context))" }
        text += ": \(code)"
        if !message.isEmpty { text += ": \(message)" }
        if let hint { text += ". \(hint)" }
        return text
    }

    /// What to do, by kind.
    public var hint: String? {
        switch kind {
        case .accessDenied: "The IAM policy of these credentials must allow \(action) (deploy/iam/controller-policy.json.tftpl lists every action the controller uses)"
        case .notFound: "Check the cluster and service names in the policy, the region and the account"
        case .expiredCredentials: "The credentials have expired; renew them (for SSO: aws sso login) and retry"
        case .invalidCredentials: "The access key is not known to AWS or is deactivated"
        case .invalidSignature: "The secret access key does not match the access key id"
        case .clockSkew: "This machine's clock differs from AWS's by more than 5 minutes; fix time sync (NTP, chrony)"
        case .throttled: "AWS rate-limited the call; it was retried with backoff"
        case .server: "AWS failed to answer; it was retried with backoff"
        case .invalidRequest, .unexpectedResponse: nil
        }
    }

    /// Worth another attempt, with backoff.
    public var isRetryable: Bool { kind == .throttled || kind == .server }

    static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
        "RequestThrottled", "RequestLimitExceeded", "BandwidthLimitExceeded", "SlowDown", "PriorRequestNotComplete",
        "ProvisionedThroughputExceededException", "TransactionInProgressException", "EC2ThrottledException",
    ]
    static let transientCodes: Set<String> = ["RequestTimeout", "RequestTimeoutException", "InternalFailure", "ServiceUnavailable", "ServerException"]

    /// Classifies an error answer. Both formats seen in practice are read: the JSON protocol's
    /// `{"__type": "…#Code", "message": …}` (with `X-Amzn-ErrorType`), and the query protocol's
    /// XML `<ErrorResponse><Error><Code>…` (which moto's IAM layer and some AWS front ends return
    /// for authentication failures).
    package static func from(_ reply: HTTPReply, action: String, context: String?) -> AWSError {
        var code: String?
        var message = ""
        if let object = try? JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any] {
            code = (object["__type"] as? String) ?? (object["code"] as? String) ?? (object["Code"] as? String)
            message = (object["message"] as? String) ?? (object["Message"] as? String) ?? ""
        } else if reply.text.contains("<ErrorResponse") || reply.text.contains("<Error>") {
            code = XMLFields.first("Code", in: reply.text)
            message = XMLFields.first("Message", in: reply.text) ?? ""
        }
        if code == nil, let header = reply.header("X-Amzn-ErrorType") { code = header }
        let cleaned = code.map(Self.cleanCode)
        guard let cleaned, !cleaned.isEmpty else {
            let type = reply.header("Content-Type").map { " (\($0.split(separator: ";").first.map(String.init) ?? $0))" } ?? ""
            let kind: Kind = reply.status >= 500 ? .server : (reply.status == 429 ? .throttled : .unexpectedResponse)
            return AWSError(
                kind: kind, action: action, code: "HTTP \(reply.status)",
                message: reply.body.isEmpty ? "an empty answer" : "an answer that is not from AWS\(type); a proxy or firewall may be in the way",
                status: reply.status, context: context)
        }
        return AWSError(
            kind: classify(code: cleaned, message: message, status: reply.status), action: action, code: cleaned,
            message: String(message.prefix(500)), status: reply.status, context: context)
    }

    /// `com.amazonaws.ecs#ClusterNotFoundException` and `ClusterNotFoundException:http://…`
    /// both become `ClusterNotFoundException`.
    static func cleanCode(_ raw: String) -> String {
        var code = Substring(raw)
        if let hash = code.lastIndex(of: "#") { code = code[code.index(after: hash)...] }
        if let colon = code.firstIndex(of: ":") { code = code[..<colon] }
        return String(code).trimmingCharacters(in: .whitespaces)
    }

    static func classify(code: String, message: String, status: Int) -> Kind {
        switch code {
        case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "NotAuthorized": return .accessDenied
        case "ClusterNotFoundException", "ServiceNotFoundException", "ServiceNotActiveException", "ResourceNotFoundException",
             "ObjectNotFoundException": return .notFound
        case "ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired": return .expiredCredentials
        case "UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId": return .invalidCredentials
        case "RequestTimeTooSkewed", "RequestExpired": return .clockSkew
        case "SignatureDoesNotMatch", "IncompleteSignature": return .invalidSignature
        case "InvalidSignatureException":
            return message.localizedCaseInsensitiveContains("expired") || message.localizedCaseInsensitiveContains("skew") ? .clockSkew : .invalidSignature
        default: break
        }
        if throttlingCodes.contains(code) || status == 429 { return .throttled }
        if transientCodes.contains(code) || status >= 500 { return .server }
        return .invalidRequest
    }
}
