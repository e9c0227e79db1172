import AWSSigning
import AutoscalerCore
import Foundation
import SystemClock

/// STS's query protocol for the two calls that hand out a role's temporary credentials:
/// `AssumeRoleWithWebIdentity`, not signed (the token is the proof), and `AssumeRole`, signed with
/// the caller's own credentials. Both answer the same XML. Errors name the call and the role,
/// never a secret.
enum STS {
    static let timeout: Duration = .seconds(10)

    /// The regional endpoint when a region is known; `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL`
    /// when set; else the global `sts.amazonaws.com`, which signs as us-east-1.
    static func endpoint(region: String?, environment: [String: String]) throws -> (endpoint: AWSEndpoint, signingRegion: String) {
        if let region {
            return (try AWSEndpoint.resolve(.sts, region: region, environment: environment), region)
        }
        if environment["AWS_ENDPOINT_URL_STS"] != nil || environment["AWS_ENDPOINT_URL"] != nil {
            return (try AWSEndpoint.resolve(.sts, region: "us-east-1", environment: environment), "us-east-1")
        }
        return (AWSEndpoint(scheme: "https", host: "sts.amazonaws.com", port: nil, basePath: ""), "us-east-1")
    }

    /// Calls `action` for `roleARN` with `parameters` (besides Action and Version) and returns the
    /// credentials of the answer. `signer`: the credentials to sign with, nil for an unsigned call.
    static func credentials(
        _ action: String, roleARN: String, parameters: [(String, String)], signer: AWSCredentials?,
        region: String?, environment: [String: String], transport: any HTTPTransport, now: Instant = WallClock.now()
    ) async throws -> AWSCredentials {
        let (endpoint, signingRegion) = try endpoint(region: region, environment: environment)
        let form = ([("Action", action), ("Version", "2011-06-15")] + parameters)
            .map { "\(FormEncoding.encode($0.0))=\(FormEncoding.encode($0.1))" }.joined(separator: "&")
        let body = Array(form.utf8)
        var headers: [(name: String, value: String)] = [
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"), ("Accept", "text/xml"),
        ]
        if let signer {
            let request = SigV4Request(
                method: "POST", scheme: endpoint.scheme, host: endpoint.host, port: endpoint.port, path: endpoint.basePath + "/",
                headers: headers, body: body)
            let signature = SigV4Signer.sign(request, credentials: signer, region: signingRegion, service: AWSService.sts.signingName, date: now)
            headers.append(("Host", request.hostHeader))
            headers.append(contentsOf: signature.headers)
        }
        let reply: HTTPReply
        do {
            reply = try await transport.send(method: "POST", url: endpoint.url(path: "/"), headers: headers, body: body, timeout: timeout)
        } catch let error as TransportError {
            throw CredentialError("STS \(action) for \(roleARN): \(error)")
        }
        let text = reply.text
        guard reply.status == 200 else {
            let code = XMLFields.first("Code", in: text) ?? "HTTP \(reply.status)"
            let message = XMLFields.first("Message", in: text).map { ": \($0.prefix(300))" } ?? ""
            throw CredentialError("STS \(action) for \(roleARN) failed: \(code)\(message)")
        }
        guard let key = XMLFields.first("AccessKeyId", in: text), let secret = XMLFields.first("SecretAccessKey", in: text),
              let sessionToken = XMLFields.first("SessionToken", in: text) else {
            throw CredentialError("STS \(action) for \(roleARN) answered without credentials")
        }
        let expiration = XMLFields.first("Expiration", in: text).flatMap(CivilTime.parseTimestamp)
        return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: sessionToken, expiration: expiration)
    }

    /// `redash-autoscaler-<unix time>`: a session name CloudTrail shows next to every call.
    static func defaultSessionName() -> String {
        "redash-autoscaler-\(Int(Date().timeIntervalSince1970))"
    }
}

/// `application/x-www-form-urlencoded` as AWS's query protocol reads it: RFC 3986 unreserved
/// characters kept, everything else percent-encoded.
enum FormEncoding {
    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
}
