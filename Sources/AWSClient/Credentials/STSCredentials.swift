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
    /// Tries of one call when the connection drops or STS answers 5xx or a throttle.
    static let attempts = 3

    private static func pause(before attempt: Int) async throws {
        let base = 0.1 * Double(1 << (attempt - 1))
        try await Task.sleep(for: .seconds(base * Double.random(in: 0.5..<1.5)))
    }

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
        let text = try await query(
            action, about: roleARN, parameters: parameters, signer: signer, region: region, environment: environment, transport: transport, now: now)
        guard let key = XMLFields.first("AccessKeyId", in: text), let secret = XMLFields.first("SecretAccessKey", in: text),
              let sessionToken = XMLFields.first("SessionToken", in: text) else {
            throw CredentialError("STS \(action) for \(roleARN) answered without credentials")
        }
        let expiration = XMLFields.first("Expiration", in: text).flatMap(CivilTime.parseTimestamp)
        return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: sessionToken, expiration: expiration)
    }

    /// `GetCallerIdentity`: the ARN of whoever `credentials` belong to (a user, an assumed role's
    /// session), which needs no permission.
    static func callerARN(
        credentials: AWSCredentials, region: String?, environment: [String: String], transport: any HTTPTransport, now: Instant = WallClock.now()
    ) async throws -> String {
        let text = try await query(
            "GetCallerIdentity", about: "the caller", parameters: [], signer: credentials, region: region, environment: environment,
            transport: transport, now: now)
        guard let arn = XMLFields.first("Arn", in: text) else { throw CredentialError("STS GetCallerIdentity answered without an ARN") }
        return arn
    }

    /// One query-protocol call: the answer's XML. `about` names what it is for, in errors.
    private static func query(
        _ action: String, about: String, parameters: [(String, String)], signer: AWSCredentials?,
        region: String?, environment: [String: String], transport: any HTTPTransport, now: Instant
    ) async throws -> String {
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
        // A dropped connection, a 5xx or a throttle is tried again (three attempts, 0.2 s then
        // 0.4 s apart, with jitter), as the AWS SDKs do: a credential refresh should not fail on
        // one closed keep-alive connection. Anything else is the answer.
        var attempt = 0
        while true {
            attempt += 1
            let reply: HTTPReply
            do {
                reply = try await transport.send(method: "POST", url: endpoint.url(path: "/"), headers: headers, body: body, timeout: timeout)
            } catch let error as TransportError {
                if attempt < attempts, error.kind != .unknownHost {
                    try await pause(before: attempt + 1)
                    continue
                }
                throw CredentialError("STS \(action) for \(about): \(error)")
            }
            let text = reply.text
            if reply.status == 200 { return text }
            let code = XMLFields.first("Code", in: text) ?? "HTTP \(reply.status)"
            if attempt < attempts, reply.status >= 500 || code == "Throttling" || code == "ThrottlingException" {
                try await pause(before: attempt + 1)
                continue
            }
            let message = XMLFields.first("Message", in: text).map { ": \($0.prefix(300))" } ?? ""
            throw CredentialError("STS \(action) for \(about) failed: \(code)\(message)")
        }
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
