import AutoscalerCore
import Foundation

/// An AWS service as this program addresses it.
public struct AWSService: Sendable, Hashable {
    /// The name in SigV4's credential scope (`ecs`, `application-autoscaling`, `sts`).
    public var signingName: String
    /// The host prefix of the public endpoint.
    public var endpointPrefix: String
    /// The suffix of `AWS_ENDPOINT_URL_<ID>` (`ECS`, `APPLICATION_AUTO_SCALING`, `STS`, `SSM`,
    /// `SECRETS_MANAGER`).
    public var environmentID: String

    public static let ecs = AWSService(signingName: "ecs", endpointPrefix: "ecs", environmentID: "ECS")
    public static let applicationAutoScaling = AWSService(
        signingName: "application-autoscaling", endpointPrefix: "application-autoscaling", environmentID: "APPLICATION_AUTO_SCALING")
    public static let sts = AWSService(signingName: "sts", endpointPrefix: "sts", environmentID: "STS")
    /// Parameter Store, where the policy may live.
    public static let ssm = AWSService(signingName: "ssm", endpointPrefix: "ssm", environmentID: "SSM")
    public static let secretsManager = AWSService(signingName: "secretsmanager", endpointPrefix: "secretsmanager", environmentID: "SECRETS_MANAGER")
}

/// Where requests for a service go: `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`, else
/// the public regional endpoint. The overrides are how the tests reach moto, and how a VPC
/// endpoint or a proxy is used.
public struct AWSEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int?
    /// The path prefix of an override URL, usually empty.
    public var basePath: String

    public var description: String { url(path: "/") }

    public func url(path: String) -> String {
        let portText = port.map { ":\($0)" } ?? ""
        let hostText = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(hostText)\(portText)\(basePath)\(path)"
    }

    public static func resolve(_ service: AWSService, region: String, environment: [String: String]) throws(AWSConfigurationError) -> AWSEndpoint {
        for variable in ["AWS_ENDPOINT_URL_\(service.environmentID)", "AWS_ENDPOINT_URL"] {
            guard let text = environment[variable], !text.isEmpty else { continue }
            guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
                  scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty else {
                throw AWSConfigurationError("\(variable) is not an http(s) URL: \(text)")
            }
            var path = components.path
            while path.hasSuffix("/") { path.removeLast() }
            return AWSEndpoint(scheme: scheme, host: host, port: components.port, basePath: path)
        }
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return AWSEndpoint(scheme: "https", host: "\(service.endpointPrefix).\(region).\(suffix)", port: nil, basePath: "")
    }
}

/// A setting that makes talking to AWS impossible: no region, a malformed endpoint.
public struct AWSConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The region, in the order a user expects: `--region`, the policy's `region:`, `AWS_REGION`,
/// `AWS_DEFAULT_REGION`, the profile's `region`.
public enum AWSRegion {
    public static func resolve(
        flag: String?, policy: String?, environment: [String: String], profile: String? = nil
    ) throws -> (region: String, source: String) {
        var candidates: [(String?, String)] = [
            (flag, "--region"), (policy, "the policy's region"),
            (environment["AWS_REGION"], "AWS_REGION"), (environment["AWS_DEFAULT_REGION"], "AWS_DEFAULT_REGION"),
        ]
        let files = SharedFileCredentials(environment: environment, profile: profile)
        candidates.append(((try? files.region()) ?? nil, "profile \(files.profile)"))
        for (value, source) in candidates {
            guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { continue }
            guard RegionName.isWellFormed(value) else {
                throw AWSConfigurationError("\(source) gives region \"\(value)\", which is not an AWS region name (like eu-west-1 or ap-northeast-1)")
            }
            return (value, source)
        }
        throw AWSConfigurationError("no AWS region: pass --region, set region: in the policy, or set AWS_REGION")
    }
}
