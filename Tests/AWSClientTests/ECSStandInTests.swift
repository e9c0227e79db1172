@testable import AWSClient
import AutoscalerCore
import Foundation
import AWSTestSupport
import IntegrationSupport
import SystemClock
import Testing

/// What moto cannot show: task protection (moto has no such API) and AWS failing in the ways
/// it does in production (throttling, 5xx, a proxy's HTML page, slow answers, clock skew).
/// The stand-in is `aws_lab.py serve`, written for these tests from the ECS API reference.
@Suite("ECS client against the stand-in", .testThreads)
struct ECSStandInTests {
    static let keys = Lab.Keys(accessKeyID: "AKIASTANDIN", secretAccessKey: "standin-secret-value")

    static func start() async throws -> (LocalHTTPServer, AWSContext) {
        let server = try await LocalHTTPServer.python(Lab.script, ["serve"])
        return (server, try Lab.context(keys, endpoint: server.url))
    }

    @Test("task protection: enable with expiry, read back, disable; unknown tasks come back as failures")
    func taskProtection() async throws {
        let (server, context) = try await Self.start()
        let arns = ["arn:aws:ecs:eu-west-1:123456789012:task/redash/aaaa1111", "arn:aws:ecs:eu-west-1:123456789012:task/redash/bbbb2222"]
        try await Lab.control(server, "/_tasks", "[\"\(arns[0])\", \"\(arns[1])\"]")
        let before = WallClock.now()
        let enabled = try await context.ecs.updateTaskProtection([arns[0]], enabled: true, expiresInMinutes: 30)
        #expect(enabled.tasks.map(\.taskArn) == [arns[0]] && enabled.tasks[0].protectionEnabled)
        let expiry = try #require(enabled.tasks[0].expirationDate)
        #expect(abs((expiry - before).inSeconds - 1800) < 60)

        let read = try await context.ecs.taskProtection(arns + ["arn:aws:ecs:eu-west-1:123456789012:task/redash/gone"])
        #expect(read.tasks.map(\.protectionEnabled) == [true, false])
        #expect(read.failures.map(\.reason) == ["TASK_NOT_VALID"])

        _ = try await context.ecs.updateTaskProtection([arns[0]], enabled: false)
        let after = try await context.ecs.taskProtection([arns[0]])
        #expect(after.tasks.first?.protectionEnabled == false)

        // An out-of-range expiry is the caller's mistake: not retried.
        let calls = try await Lab.requestCount(server)
        await #expect(throws: AWSError.self) { try await context.ecs.updateTaskProtection([arns[1]], enabled: true, expiresInMinutes: 5000) }
        #expect(try await Lab.requestCount(server) == calls + 1)
    }

    @Test("throttling and 5xx are retried with backoff, then succeed")
    func retriesThenSucceeds() async throws {
        let (server, context) = try await Self.start()
        try await Lab.control(server, "/_faults", """
            [{"status": 400, "body": "{\\"__type\\": \\"ThrottlingException\\", \\"message\\": \\"Rate exceeded\\"}"},
             {"status": 503, "body": ""}]
            """)
        let report = try await context.ecs.describeServices(["redash-adhoc-worker"])
        #expect(report.services.first?.desiredCount == 2)
        #expect(report.services.first?.deploymentSummary == "COMPLETED")
        #expect(try await Lab.requestCount(server) == 3)
    }

    @Test("errors: persistent 5xx gives up after the retry budget; throttling is typed; an HTML 403 is not mistaken for AWS")
    func errorKinds() async throws {
        let (server, context) = try await Self.start()
        try await Lab.control(server, "/_faults", """
            [{"status": 500, "body": "{\\"__type\\": \\"ServerException\\", \\"message\\": \\"internal\\"}"},
             {"status": 500, "body": "{\\"__type\\": \\"ServerException\\", \\"message\\": \\"internal\\"}"},
             {"status": 500, "body": "{\\"__type\\": \\"ServerException\\", \\"message\\": \\"internal\\"}"},
             {"status": 403, "body": "<html><body><h1>Forbidden</h1>Access to this site is blocked by policy</body></html>", "contentType": "text/html"},
             {"status": 400, "body": "{\\"__type\\": \\"com.amazonaws.ecs#ServiceNotFoundException\\", \\"message\\": \\"Service not found.\\"}"}]
            """)
        do {
            _ = try await context.ecs.describeServices(["a"])
            Issue.record("three 500s in a row succeeded")
        } catch let error as AWSError {
            #expect(error.kind == .server && error.code == "ServerException", "\(error)")
        }
        #expect(try await Lab.requestCount(server) == 3)
        do {
            _ = try await context.ecs.describeServices(["a"])
            Issue.record("an HTML 403 succeeded")
        } catch let error as AWSError {
            #expect(error.kind == .unexpectedResponse && error.code == "HTTP 403", "\(error)")
            #expect("\(error)".contains("not from AWS (text/html)"))
        }
        do {
            try await context.ecs.setDesiredCount(service: "redash-adhoc-worker", to: 2)
            Issue.record("ServiceNotFound succeeded")
        } catch let error as AWSError {
            #expect(error.kind == .notFound && error.code == "ServiceNotFoundException", "\(error)")
            #expect("\(error)".contains("cluster redash, service redash-adhoc-worker"))
        }
        #expect(try await Lab.requestCount(server) == 5)
    }

    /// Found by the aws-answers fuzzer (Fuzz/Corpus/aws-answers/crash-desired-count-missing): a
    /// service without `desiredCount` was read as desired 0, the count a scale decision starts
    /// from. The answer is not ECS's; the call fails, the service has no state.
    @Test("a service without desiredCount (or runningCount) fails the call: never a desired count of 0 that ECS did not give")
    func missingDesiredCount() async throws {
        let (server, context) = try await Self.start()
        let service = { (counts: String) in
            #"{\"services\": [{\"serviceName\": \"redash-adhoc-worker\", \"status\": \"ACTIVE\", "#
                + counts + #", \"deployments\": [{\"id\": \"ecs-svc/1\", \"status\": \"PRIMARY\", \"desiredCount\": 2, "#
                + #"\"runningCount\": 2, \"pendingCount\": 0, \"rolloutState\": \"COMPLETED\"}]}], \"failures\": []}"#
        }
        let withoutDesired = service(#"\"runningCount\": 2, \"pendingCount\": 0"#)
        let withoutRunning = service(#"\"desiredCount\": 2, \"pendingCount\": 0"#)
        try await Lab.control(server, "/_faults", #"[{"status": 200, "body": ""# + withoutDesired + #""}, {"status": 200, "body": ""# + withoutRunning + #""}]"#)
        for missing in ["desiredCount", "runningCount"] {
            do {
                let snapshot = try await ECSClusterView(client: context.ecs).services(["redash-adhoc-worker"], now: Instant(secondsSinceEpoch: 1_750_000_000))
                Issue.record("an answer without \(missing) was read as \(snapshot)")
            } catch let error as AWSError {
                #expect(error.kind == .unexpectedResponse, "\(error)")
                #expect("\(error)".contains("missing services[0].\(missing)"), "\(error)")
            }
        }
        // Neither answer was retried: a body that is not ECS's does not improve by asking again.
        #expect(try await Lab.requestCount(server) == 2)
    }

    @Test("a slow endpoint times out (each attempt) instead of hanging")
    func slowEndpoint() async throws {
        let (server, _) = try await Self.start()
        var context = try Lab.context(Self.keys, endpoint: server.url, retry: RetryPolicy(maxAttempts: 2, base: .milliseconds(10), cap: .milliseconds(10)))
        context = AWSContext(
            region: context.region, regionSource: context.regionSource, credentials: context.credentials,
            ecs: ECSClient(cluster: "redash", api: { var api = context.ecs.api; api.timeout = .milliseconds(500); return api }()),
            autoScaling: context.autoScaling)
        try await Lab.control(server, "/_faults", """
            [{"status": 200, "body": "{}", "delay": 120}, {"status": 200, "body": "{}", "delay": 120}]
            """)
        let start = ContinuousClock.now
        await #expect {
            _ = try await context.ecs.describeServices(["a"])
        } throws: { error in
            (error as? TransportError)?.kind == .timeout
        }
        // Two attempts of 0.5 s, not an answer after 120 s. The bound is loose for a loaded
        // machine (a full parallel test run took 25 s here); the error above is the real check:
        // a late answer must not be accepted.
        #expect(ContinuousClock.now - start < .seconds(60))
    }

    @Test("clock skew is reported as such, with how far off this clock is")
    func clockSkew() async throws {
        let (server, context) = try await Self.start()
        // AWS's Date header 20 minutes before this machine's clock.
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let date = formatter.string(from: Date().addingTimeInterval(-1200))
        try await Lab.control(server, "/_faults", """
            [{"status": 400, "date": "\(date)", "body": "{\\"__type\\": \\"InvalidSignatureException\\", \\"message\\": \\"Signature expired: 20261123T101500Z is now earlier than 20261123T103000Z (20261123T103500Z - 5 min.)\\"}"}]
            """)
        do {
            _ = try await context.ecs.describeServices(["a"])
            Issue.record("a skewed request succeeded")
        } catch let error as AWSError {
            #expect(error.kind == .clockSkew, "\(error)")
            #expect("\(error)".contains("20 min ahead"), "\(error)")
            #expect("\(error)".contains("NTP"))
        }
        #expect(try await Lab.requestCount(server) == 1)
    }
}
