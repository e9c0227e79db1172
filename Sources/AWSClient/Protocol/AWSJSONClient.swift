import AWSSigning
import AutoscalerCore
import Foundation
import SystemClock
import Logging

/// Calls an AWS service over its JSON 1.1 protocol: `POST /` with `X-Amz-Target:
/// <prefix>.<Action>` and a JSON body, signed with SigV4. Throttling, 5xx answers and lost
/// connections are retried with backoff and full jitter; an answer that retrying will not change
/// (access denied, not found, a bad request) is not. Expired credentials are renewed once.
public struct AWSJSONClient: Sendable {
    public let service: AWSService
    public let targetPrefix: String
    public let region: String
    public let endpoint: AWSEndpoint
    let credentials: CredentialProvider
    let transport: any HTTPTransport
    public var retry: RetryPolicy
    /// Deadline for one attempt.
    public var timeout: Duration
    /// The client-side rate limit; `nil`: none.
    public let budget: CallBudget?
    /// Requests sent, per action.
    public let ledger: CallLedger
    let logger: Logger
    let now: @Sendable () -> Instant
    let jitter: @Sendable () -> Double

    public init(
        service: AWSService, targetPrefix: String, region: String, endpoint: AWSEndpoint, credentials: CredentialProvider,
        transport: any HTTPTransport = AsyncHTTPTransport(), retry: RetryPolicy = RetryPolicy(), timeout: Duration = .seconds(10),
        budget: CallBudget? = nil, ledger: CallLedger = CallLedger(), logger: Logger = Logger(label: "aws"),
        now: @escaping @Sendable () -> Instant = WallClock.now,
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.service = service
        self.targetPrefix = targetPrefix
        self.region = region
        self.endpoint = endpoint
        self.credentials = credentials
        self.transport = transport
        self.retry = retry
        self.timeout = timeout
        self.budget = budget
        self.ledger = ledger
        self.logger = logger
        self.now = now
        self.jitter = jitter
    }

    /// Calls `action` with `input`; `context` names what was asked, for errors. With `deadline`,
    /// every attempt and every wait between them ends by then: no attempt starts, and none is
    /// waited for, after it (a write made under a lease must not land after the lease).
    public func call<Input: Encodable & Sendable, Output: Decodable>(
        _ action: String, _ input: Input, context: String? = nil, deadline: Duration? = nil, as output: Output.Type = Output.self
    ) async throws -> Output {
        let body = try Array(JSONEncoder().encode(input))
        let reply = try await send(action, body: body, context: context, until: deadline.map { ContinuousClock.now + $0 })
        do {
            return try JSONDecoder().decode(Output.self, from: Data(reply.body.isEmpty ? Array("{}".utf8) : reply.body))
        } catch {
            throw AWSError(
                kind: .unexpectedResponse, action: iamAction(action), code: "HTTP \(reply.status)",
                message: "the answer could not be read: \(Self.decodingSummary(error))", status: reply.status, context: context)
        }
    }

    func iamAction(_ action: String) -> String { "\(service.signingName):\(action)" }

    func send(_ action: String, body: [UInt8], context: String?, until end: ContinuousClock.Instant? = nil) async throws -> HTTPReply {
        var attempt = 0
        var renewedCredentials = false
        while true {
            attempt += 1
            let failure: any Error
            var attemptTimeout = timeout
            if let end {
                let remaining = end - ContinuousClock.now
                guard remaining > .milliseconds(50) else {
                    throw TransportError(kind: .timeout, target: iamAction(action), detail: "not sent: its deadline has passed")
                }
                attemptTimeout = min(timeout, remaining)
            }
            if let budget {
                try await budget.acquire(for: iamAction(action), until: end)
                if let end { attemptTimeout = min(attemptTimeout, end - ContinuousClock.now) }
            }
            ledger.count(action)
            do {
                let reply = try await attemptOnce(action, body: body, timeout: attemptTimeout)
                if (200..<300).contains(reply.status) { return reply }
                var error = AWSError.from(reply, action: iamAction(action), context: context)
                if error.kind == .clockSkew, let skew = clockSkew(reply) { error.message += " (this machine's clock is \(skew) AWS's)" }
                if error.kind == .expiredCredentials, !renewedCredentials {
                    renewedCredentials = true
                    await credentials.invalidate()
                    attempt -= 1
                    logger.notice("AWS says the credentials expired; renewing them", metadata: ["action": "\(error.action)"])
                    continue
                }
                guard error.isRetryable else { throw error }
                failure = error
            } catch let error as TransportError where error.kind != .unknownHost {
                failure = error
            }
            guard attempt < retry.maxAttempts else { throw failure }
            let delay = retry.delay(after: attempt, unit: jitter())
            if let end, ContinuousClock.now + delay >= end { throw failure }
            logger.notice("retrying AWS call", metadata: [
                "action": "\(iamAction(action))", "attempt": "\(attempt)", "delay": "\(delay)", "error": "\(failure)",
            ])
            try await Task.sleep(for: delay)
        }
    }

    func attemptOnce(_ action: String, body: [UInt8], timeout: Duration) async throws -> HTTPReply {
        let keys = try await credentials.credentials()
        let path = endpoint.basePath + "/"
        let headers = [
            (name: "Content-Type", value: "application/x-amz-json-1.1"),
            (name: "X-Amz-Target", value: "\(targetPrefix).\(action)"),
        ]
        let request = SigV4Request(
            method: "POST", scheme: endpoint.scheme, host: endpoint.host, port: endpoint.port, path: path,
            headers: headers, body: body)
        let signature = SigV4Signer.sign(request, credentials: keys, region: region, service: service.signingName, date: now())
        var sent = headers
        sent.append(("Host", request.hostHeader))
        sent.append(contentsOf: signature.headers)
        sent.append(("User-Agent", "redash-autoscaler"))
        return try await transport.send(method: "POST", url: endpoint.url(path: "/"), headers: sent, body: body, timeout: timeout)
    }

    /// How far this clock is from the `Date` AWS answered with, when it says.
    func clockSkew(_ reply: HTTPReply) -> String? {
        guard let text = reply.header("Date") else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: text) else { return nil }
        let difference = now().secondsSinceEpoch - date.timeIntervalSince1970
        let minutes = Int((abs(difference) / 60).rounded())
        return "\(minutes) min \(difference > 0 ? "ahead of" : "behind")"
    }

    static func decodingSummary(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .keyNotFound(let key, let context): return "missing \(path(context.codingPath + [key]))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    /// `services[0].desiredCount`, as the API reference writes a field (Foundation's own key for
    /// an array element reads "Index 0").
    static func path(_ keys: [any CodingKey]) -> String {
        keys.reduce(into: "") { path, key in
            if let index = key.intValue { path += "[\(index)]" } else { path += (path.isEmpty ? "" : ".") + key.stringValue }
        }
    }
}
