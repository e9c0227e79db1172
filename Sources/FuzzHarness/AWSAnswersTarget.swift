import AWSClient
import AWSSigning
import AutoscalerCore
import Foundation
import Logging
import Synchronization

/// HTTP answers, any at all, to the AWS calls the controller makes: each through `AWSError.from`
/// and the credential-document reader, then all of them, in order, as the answers to one session
/// of ECS port calls (`services`, `tasks`, `setProtection`, `setDesiredCount`) and Application
/// Auto Scaling's `scalableTargets`, through the JSON client with its retries and the ECS models.
///
/// The promises, besides not crashing: an error always has a code; a service state's desired
/// count is one the answer gave (never a default), and its counts are in range; a task's
/// protection expiry is a number.
public enum AWSAnswersTarget: FuzzTarget {
    public static let name = "aws-answers"

    public static let cluster = "redash"
    public static let services = ["redash-adhoc-worker", "redash-scheduled-worker"]
    public static let now = Instant(secondsSinceEpoch: 1_750_000_000)
    /// One retry, without waiting for it.
    public static let retry = RetryPolicy(maxAttempts: 2, base: .zero, cap: .zero)

    public static func check(_ input: [UInt8]) async -> [String] {
        let answers = AWSAnswers.decode(input)
        var problems: [String] = []
        for reply in answers {
            let error = AWSError.from(reply, action: "ecs:DescribeServices", context: "cluster redash")
            if error.code.isEmpty || error.description.isEmpty { problems.append("an error without a code: \(error)") }
            _ = try? TemporaryCredentialsDocument.parse(reply.body, source: "the container credentials endpoint")
        }
        let transport = AnswerTransport(answers)
        let outcome = await session(transport)
        if let snapshot = outcome.snapshot {
            let given = transport.lastSuccessfulBody(of: "DescribeServices").map(desiredCounts) ?? [:]
            for (name, state) in snapshot.states.sorted(by: { $0.key < $1.key }) {
                if given[name]?.contains(Double(state.desired)) != true {
                    problems.append("\(name): desired \(state.desired), which the answer did not give (it gave \(given[name] ?? []))")
                }
                if ![state.desired, state.running, state.pending].allSatisfy({ (0...100_000).contains($0) }) {
                    problems.append("\(name): counts out of range: \(state)")
                }
            }
        }
        for task in (outcome.tasks ?? [:]).values.joined() where task.protectedUntil?.secondsSinceEpoch.isNaN == true {
            problems.append("task \(task.id): protected until NaN")
        }
        return problems
    }

    /// What one session of calls came to: each call's value, or its error's description.
    public struct Outcome: Sendable, Equatable {
        public var snapshot: ServicesSnapshot?
        public var tasks: [String: [TaskSnapshot]]?
        public var protection: ProtectionChange?
        public var scalableTargets: [String: ScalableTarget]?
        public var errors: [String] = []
    }

    /// The calls a reconcile makes, in its order, against `ecs` and `autoScaling`: a fuzzer's
    /// answers, or (recording) moto's or the stand-in's.
    public static func session(ecs client: ECSClient, autoScaling: ApplicationAutoScalingClient) async -> Outcome {
        // The controller's view of the cluster, as the reconciler reads and writes through it.
        let ecs = ECSClusterView(client: client)
        var outcome = Outcome()
        func attempt<Value>(_ call: () async throws -> Value) async -> Value? {
            do {
                return try await call()
            } catch {
                outcome.errors.append("\(error)")
                return nil
            }
        }
        outcome.snapshot = await attempt { try await ecs.services(services, now: now) }
        outcome.tasks = await attempt { try await ecs.tasks(of: [services[0]], now: now) }
        let arns = outcome.tasks?[services[0]]?.map(\.id) ?? ["arn:aws:ecs:eu-west-1:123456789012:task/redash/0f3c9d2e5b8a4c1d9e7f6a5b4c3d2e1f"]
        outcome.protection = await attempt { try await ecs.setProtection(true, tasks: arns, duration: .seconds(900), within: .seconds(5)) }
        _ = await attempt { try await ecs.setDesiredCount(3, service: services[0], within: .seconds(5)) }
        outcome.scalableTargets = await attempt { try await autoScaling.scalableTargets(cluster: cluster, services: services) }
        return outcome
    }

    /// The session on `input`'s answers: the replay of a recording.
    public static func replay(_ input: [UInt8]) async -> Outcome {
        await session(AnswerTransport(AWSAnswers.decode(input)))
    }

    static func session(_ transport: AnswerTransport) async -> Outcome {
        await session(
            ecs: ECSClient(cluster: cluster, api: client(.ecs, "AmazonEC2ContainerServiceV20141113", transport)),
            autoScaling: ApplicationAutoScalingClient(api: client(.applicationAutoScaling, "AnyScaleFrontendService", transport)))
    }

    /// A JSON client whose answers come from `transport`, signed with keys nobody checks.
    static func client(_ service: AWSService, _ prefix: String, _ transport: any HTTPTransport) -> AWSJSONClient {
        let credentials = CredentialProvider(chain: CredentialChain(sources: [FixedCredentials()]), logger: quietLogger, now: { now })
        return AWSJSONClient(
            service: service, targetPrefix: prefix, region: "eu-west-1",
            // The public endpoint of a well-formed region, which always resolves.
            endpoint: try! AWSEndpoint.resolve(service, region: "eu-west-1", environment: [:]),
            credentials: credentials, transport: transport, retry: retry, timeout: .seconds(5),
            logger: quietLogger, now: { now }, jitter: { 0 })
    }

    static let quietLogger = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Every `desiredCount` the answer gives each service name, as numbers.
    ///
    /// Read with JSONDecoder, as the client reads, but into a model of its own that takes any
    /// shape: JSONSerialization refuses bodies that JSONDecoder takes (bytes that are not UTF-8
    /// or raw control characters inside a string), and the fuzzer found the two disagreeing,
    /// which is not a bug of the client.
    static func desiredCounts(_ body: [UInt8]) -> [String: [Double]] {
        guard let given = try? JSONDecoder().decode(GivenServices.self, from: Data(body)) else { return [:] }
        var counts: [String: [Double]] = [:]
        for entry in given.services ?? [] {
            guard let name = entry.name, let count = entry.desiredCount else { continue }
            counts[name, default: []].append(count)
        }
        return counts
    }

    /// `{"services": [{"serviceName": …, "desiredCount": …}]}`, every part optional.
    struct GivenServices: Decodable {
        var services: [Entry]?

        enum CodingKeys: String, CodingKey { case services }

        init(from decoder: any Decoder) throws {
            services = try? decoder.container(keyedBy: CodingKeys.self).decode([Entry].self, forKey: .services)
        }

        struct Entry: Decodable {
            var name: String?
            var desiredCount: Double?

            enum CodingKeys: String, CodingKey { case serviceName, desiredCount }

            init(from decoder: any Decoder) throws {
                let container = try? decoder.container(keyedBy: CodingKeys.self)
                name = try? container?.decode(String.self, forKey: .serviceName)
                desiredCount = try? container?.decode(Double.self, forKey: .desiredCount)
            }
        }
    }
}

/// Keys that sign requests nobody checks.
struct FixedCredentials: CredentialSource {
    let name = "fuzz"
    func credentials() async throws -> AWSCredentials? {
        AWSCredentials(accessKeyID: "AKIAFUZZFUZZFUZZFUZZ", secretAccessKey: "fuzz-secret-access-key")
    }
}

/// Answers each request with the next answer, and fails like a lost connection once they run out.
/// The lock is there because transports must be `Sendable`; calls come one at a time.
final class AnswerTransport: HTTPTransport {
    private struct State {
        var answers: [HTTPReply]
        var next = 0
        var answered: [(action: String, reply: HTTPReply)] = []
    }

    private let state: Mutex<State>

    init(_ answers: [HTTPReply]) {
        state = Mutex(State(answers: answers))
    }

    func send(method: String, url: String, headers: [(name: String, value: String)], body: [UInt8], timeout: Duration) async throws -> HTTPReply {
        let action = RecordingTransport.action(headers)
        let reply = state.withLock { state -> HTTPReply? in
            guard state.next < state.answers.count else { return nil }
            let reply = state.answers[state.next]
            state.next += 1
            state.answered.append((action, reply))
            return reply
        }
        guard let reply else { throw TransportError(kind: .connection, target: "POST \(url)", detail: "connection reset by peer") }
        return reply
    }

    /// The body of the last 2xx answer to `action`.
    func lastSuccessfulBody(of action: String) -> [UInt8]? {
        state.withLock { state in state.answered.last { $0.action == action && (200..<300).contains($0.reply.status) }?.reply.body }
    }
}

/// Sends through another transport and keeps every answer, to make corpus inputs from real
/// servers' answers (`AWSAnswers.encode(recording.answers)`).
public final class RecordingTransport: HTTPTransport {
    private let inner: any HTTPTransport
    private let recorded = Mutex<[HTTPReply]>([])

    public init(_ inner: any HTTPTransport) {
        self.inner = inner
    }

    /// The answers so far, in order. Headers that vary from run to run (`Date`, request ids) are
    /// left out.
    public var answers: [HTTPReply] { recorded.withLock { $0 } }

    public func send(method: String, url: String, headers: [(name: String, value: String)], body: [UInt8], timeout: Duration) async throws -> HTTPReply {
        let reply = try await inner.send(method: method, url: url, headers: headers, body: body, timeout: timeout)
        let kept = reply.headers.filter { ["content-type", "x-amzn-errortype"].contains($0.name.lowercased()) }
        recorded.withLock { $0.append(HTTPReply(status: reply.status, headers: kept, body: reply.body)) }
        return reply
    }

    static func action(_ headers: [(name: String, value: String)]) -> String {
        headers.first { $0.name == "X-Amz-Target" }.map { String($0.value.split(separator: ".").last ?? "") } ?? ""
    }
}
