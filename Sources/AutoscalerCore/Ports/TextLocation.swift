/// Where a `TextSource` reads, as written on the command line: `policies.yaml` or `file:PATH`;
/// `ssm:/name` or `ssm:` + a parameter ARN; `secretsmanager:` + a secret's name or ARN. A bare
/// SSM or Secrets Manager ARN is read as such too, since that is what Terraform outputs.
public enum TextLocation: Sendable, Equatable, CustomStringConvertible {
    case file(path: String)
    /// `name` as `GetParameter` takes it: a name (`/redash/policy`) or an ARN.
    case ssmParameter(name: String)
    /// `id` as `GetSecretValue` takes it: a name or an ARN.
    case secret(id: String)

    /// The location `text` names, or why it names none.
    public static func parse(_ text: String) throws(TextLocationError) -> TextLocation {
        if let rest = text.dropPrefix("ssm:") { return .ssmParameter(name: try identifier(rest, of: text, kind: "an SSM parameter name, such as ssm:/redash-autoscaler/policy")) }
        if let rest = text.dropPrefix("secretsmanager:") { return .secret(id: try identifier(rest, of: text, kind: "a secret name or ARN, such as secretsmanager:redash-autoscaler/policy")) }
        if let rest = text.dropPrefix("file:") {
            guard !rest.isEmpty else { throw TextLocationError("\(text): file: needs a path, such as file:/etc/redash-autoscaler/policies.yaml") }
            return .file(path: rest)
        }
        if let arn = ARN(text) {
            if arn.service == "ssm" { return .ssmParameter(name: text) }
            if arn.service == "secretsmanager" { return .secret(id: text) }
        }
        guard !text.isEmpty else { throw TextLocationError("an empty location: give a path, ssm:/name or secretsmanager:name") }
        return .file(path: text)
    }

    private static func identifier(_ rest: String, of text: String, kind: String) throws(TextLocationError) -> String {
        guard !rest.isEmpty, !rest.contains(where: \.isWhitespace) else { throw TextLocationError("\(text): expected \(kind)") }
        if rest.hasPrefix("arn:"), ARN(rest) == nil {
            throw TextLocationError("\(text): \(rest) is not an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)")
        }
        return rest
    }

    /// The region an ARN names, if the location is one: it wins over the configured region,
    /// since a parameter lives in exactly one.
    public var arnRegion: String? {
        switch self {
        case .file: nil
        case .ssmParameter(let id), .secret(let id): ARN(id).flatMap { $0.region.isEmpty ? nil : $0.region }
        }
    }

    /// The account an ARN names, if the location is one.
    public var arnAccount: String? {
        switch self {
        case .file: nil
        case .ssmParameter(let id), .secret(let id): ARN(id).flatMap { $0.account.isEmpty ? nil : $0.account }
        }
    }

    /// `ssm:/redash/policy`, `secretsmanager:redash/policy`, or the path.
    public var description: String {
        switch self {
        case .file(let path): path
        case .ssmParameter(let name): "ssm:\(name)"
        case .secret(let id): "secretsmanager:\(id)"
        }
    }

    /// The fields of `arn:partition:service:region:account:resource`.
    struct ARN {
        var service: String
        var region: String
        var account: String

        init?(_ text: String) {
            let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
            guard parts.count == 6, parts[0] == "arn", !parts[1].isEmpty, !parts[2].isEmpty, !parts[5].isEmpty else { return nil }
            service = String(parts[2])
            region = String(parts[3])
            account = String(parts[4])
        }
    }
}

/// A location that cannot be read as one.
public struct TextLocationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension String {
    fileprivate func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}
