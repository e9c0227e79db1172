@testable import AWSClient
import AutoscalerCore
import Foundation
import Testing
import IntegrationSupport

@Suite("AWS protocol pieces", .testThreads)
struct AWSProtocolUnitTests {
    static func reply(_ status: Int, _ body: String, headers: [(String, String)] = []) -> HTTPReply {
        HTTPReply(status: status, headers: headers.map { (name: $0.0, value: $0.1) }, body: Array(body.utf8))
    }

    @Test("error bodies in both formats, and the classification of their codes", arguments: [
        (400, #"{"__type": "com.amazonaws.ecs#ClusterNotFoundException", "message": "Cluster not found."}"#, "ClusterNotFoundException", AWSError.Kind.notFound),
        (400, #"{"__type": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/", "message": "Rate exceeded"}"#, "ThrottlingException", .throttled),
        (400, #"{"__type": "AccessDeniedException", "Message": "User is not authorized to perform: ecs:UpdateService"}"#, "AccessDeniedException", .accessDenied),
        (400, #"{"__type": "ExpiredTokenException", "message": "The security token included in the request is expired"}"#, "ExpiredTokenException", .expiredCredentials),
        (400, #"{"__type": "UnrecognizedClientException", "message": "The security token included in the request is invalid."}"#, "UnrecognizedClientException", .invalidCredentials),
        (400, #"{"__type": "InvalidParameterException", "message": "desiredCount must be >= 0"}"#, "InvalidParameterException", .invalidRequest),
        (403, #"<?xml version="1.0"?><ErrorResponse><Errors><Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message></Error></Errors></ErrorResponse>"#, "RequestTimeTooSkewed", .clockSkew),
        (403, #"<ErrorResponse><Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/x is not authorized to perform: ecs:UpdateService &amp; more</Message></Error></ErrorResponse>"#, "AccessDenied", .accessDenied),
        (500, "", "HTTP 500", .server),
        (429, "slow down", "HTTP 429", .throttled),
        (403, "<html>Forbidden</html>", "HTTP 403", .unexpectedResponse),
    ])
    func errorFormats(_ status: Int, _ body: String, _ code: String, _ kind: AWSError.Kind) {
        let error = AWSError.from(Self.reply(status, body), action: "ecs:UpdateService", context: "cluster c, service s")
        #expect(error.code == code)
        #expect(error.kind == kind)
        #expect(error.isRetryable == (kind == .throttled || kind == .server))
        if code == "AccessDenied" { #expect(error.message.hasSuffix("ecs:UpdateService & more")) }
    }

    @Test("the X-Amzn-ErrorType header names the error when the body does not")
    func errorTypeHeader() {
        let error = AWSError.from(Self.reply(400, "", headers: [("x-amzn-errortype", "ServiceNotFoundException:http://x")]), action: "ecs:UpdateService", context: nil)
        #expect(error.code == "ServiceNotFoundException" && error.kind == .notFound)
    }

    @Test("region: --region, then the policy, AWS_REGION, AWS_DEFAULT_REGION, the profile; a malformed one names its source")
    func regionOrder() throws {
        let home = NSTemporaryDirectory() + "region-home-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        try "[default]\nregion = ap-northeast-1\n".write(toFile: home + "/.aws/config", atomically: true, encoding: .utf8)
        var environment = ["HOME": home, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-2"]
        #expect(try AWSRegion.resolve(flag: "eu-central-1", policy: "us-west-2", environment: environment).region == "eu-central-1")
        #expect(try AWSRegion.resolve(flag: nil, policy: "us-west-2", environment: environment).region == "us-west-2")
        #expect(try AWSRegion.resolve(flag: nil, policy: nil, environment: environment).region == "eu-west-1")
        environment["AWS_REGION"] = nil
        #expect(try AWSRegion.resolve(flag: nil, policy: nil, environment: environment).region == "us-east-2")
        environment["AWS_DEFAULT_REGION"] = nil
        let fromProfile = try AWSRegion.resolve(flag: nil, policy: nil, environment: environment)
        #expect(fromProfile.region == "ap-northeast-1" && fromProfile.source == "profile default")
        #expect(throws: AWSConfigurationError.self) { try AWSRegion.resolve(flag: nil, policy: nil, environment: ["HOME": "/nonexistent"]) }
        do {
            _ = try AWSRegion.resolve(flag: "tokyo", policy: nil, environment: environment)
            Issue.record("a malformed region was accepted")
        } catch let error as AWSConfigurationError {
            #expect(error.message.contains("--region gives region \"tokyo\""))
        }
    }

    @Test("endpoints: per-service variable, then AWS_ENDPOINT_URL, then the public regional endpoint")
    func endpoints() throws {
        #expect(try AWSEndpoint.resolve(.ecs, region: "eu-west-1", environment: [:]).description == "https://ecs.eu-west-1.amazonaws.com/")
        #expect(try AWSEndpoint.resolve(.ecs, region: "cn-north-1", environment: [:]).host == "ecs.cn-north-1.amazonaws.com.cn")
        let environment = ["AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL_ECS": "https://vpce-1.ecs.eu-west-1.vpce.amazonaws.com/"]
        #expect(try AWSEndpoint.resolve(.ecs, region: "eu-west-1", environment: environment).description == "https://vpce-1.ecs.eu-west-1.vpce.amazonaws.com/")
        #expect(try AWSEndpoint.resolve(.applicationAutoScaling, region: "eu-west-1", environment: environment).description == "http://127.0.0.1:5000/")
        #expect(throws: AWSConfigurationError.self) { try AWSEndpoint.resolve(.ecs, region: "eu-west-1", environment: ["AWS_ENDPOINT_URL_ECS": "ftp://x"]) }
    }

    @Test("backoff: full jitter within an exponentially growing, capped ceiling")
    func backoff() {
        let policy = RetryPolicy(maxAttempts: 6, base: .milliseconds(100), cap: .seconds(1))
        #expect(policy.delay(after: 1, unit: 0.999).inSeconds <= 0.1)
        #expect(abs(policy.delay(after: 3, unit: 1).inSeconds - 0.4) < 1e-9)
        #expect(abs(policy.delay(after: 5, unit: 1).inSeconds - 1.0) < 1e-9)  // capped
        #expect(policy.delay(after: 4, unit: 0) == .zero)
    }

    @Test("DescribeTasks: the ENI's private IP (awsvpc) or a container's interface, start time; services mid-deployment")
    func decoding() throws {
        let tasks = #"""
            {"tasks": [
              {"taskArn": "arn:aws:ecs:eu-west-1:1:task/redash/0a1b2c3d4e", "lastStatus": "RUNNING", "desiredStatus": "RUNNING",
               "startedAt": 1795428000.25,
               "attachments": [{"type": "ElasticNetworkInterface", "status": "ATTACHED",
                                "details": [{"name": "subnetId", "value": "subnet-1"}, {"name": "privateIPv4Address", "value": "10.0.3.17"}]}]},
              {"taskArn": "arn:aws:ecs:eu-west-1:1:task/redash/ffee", "lastStatus": "PENDING",
               "containers": [{"networkInterfaces": [{"privateIpv4Address": "10.0.4.9"}]}]}
            ]}
            """#
        let output = try JSONDecoder().decode(ECSClient.DescribeTasksOutput.self, from: Data(tasks.utf8))
        let decoded = try #require(output.tasks)
        #expect(decoded.map(\.privateIPv4Address) == ["10.0.3.17", "10.0.4.9"])
        #expect(decoded[0].startedAt == Instant(secondsSinceEpoch: 1_795_428_000.25))
        #expect(decoded[0].taskID == "0a1b2c3d4e")

        let deploying = ECSService(serviceName: "s", desiredCount: 2, runningCount: 1, pendingCount: 1, deployments: [
            ECSDeployment(id: "a", status: "PRIMARY", desiredCount: 2, runningCount: 1, pendingCount: 1, rolloutState: "IN_PROGRESS"),
            ECSDeployment(id: "b", status: "ACTIVE", desiredCount: 1, runningCount: 1, pendingCount: 0, rolloutState: "COMPLETED"),
        ])
        #expect(deploying.isDeploying && deploying.deploymentSummary == "IN_PROGRESS (2 deployments)")
        let settled = ECSService(serviceName: "s", desiredCount: 2, runningCount: 2, pendingCount: 0, deployments: [
            ECSDeployment(id: "a", status: "PRIMARY", desiredCount: 2, runningCount: 2, pendingCount: 0, rolloutState: "COMPLETED"),
        ])
        #expect(!settled.isDeploying)
    }
}
