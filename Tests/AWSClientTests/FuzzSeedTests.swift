import AWSClient
import AWSTestSupport
import AutoscalerCore
import Foundation
import FuzzHarness
import IntegrationSupport
import Testing

/// The AWS fuzzer's seeds are real answers: the calls of a reconcile, made against moto (IAM on)
/// and the stand-in (task protection, and AWS failing as it does), recorded; replaying a
/// recording through the fuzz harness must come to the same outcome, and keep its promises.
///
/// `FUZZ_RECORD_CORPUS=$PWD/Fuzz/Corpus swift test --filter AWSClientTests.FuzzSeedTests` also
/// writes each recording as a seed of `aws-answers`.
@Suite("Fuzz seeds: AWS answers from moto and the stand-in, recorded and replayed", .testThreads, .serialized)
struct FuzzSeedTests {
    func recordAndReplay(_ name: String, keys: Lab.Keys, endpoint: String) async throws -> AWSAnswersTarget.Outcome {
        let recording = RecordingTransport(AsyncHTTPTransport())
        let context = try AWSContext.make(
            cluster: AWSAnswersTarget.cluster, regionFlag: Lab.region, policyRegion: nil, profile: nil,
            environment: Lab.environment(keys, endpoint: endpoint), transport: recording, retry: AWSAnswersTarget.retry)
        let live = await AWSAnswersTarget.session(ecs: context.ecs, autoScaling: context.autoScaling)
        let input = AWSAnswers.encode(recording.answers)
        #expect(await AWSAnswersTarget.replay(input) == live, "\(name): the replay differs from the live calls")
        let problems = await AWSAnswersTarget.check(input)
        #expect(problems.isEmpty, "\(name): \(problems)")
        if let corpus = ProcessInfo.processInfo.environment["FUZZ_RECORD_CORPUS"] {
            try Data(input).write(to: URL(fileURLWithPath: "\(corpus)/aws-answers/seed-\(name)"))
        }
        return live
    }

    @Test("moto: services, tasks, a scaling target; no task protection API")
    func moto() async throws {
        let moto = try await LocalHTTPServer.moto()
        let world = try await Lab.setUpMoto(moto, services: AWSAnswersTarget.services, tasks: 2, scalableTargets: [AWSAnswersTarget.services[1]])
        let outcome = try await recordAndReplay("moto", keys: world.controller, endpoint: moto.url)
        #expect(outcome.snapshot?.states.count == 2)
        #expect(outcome.scalableTargets?.keys.sorted() == [AWSAnswersTarget.services[1]])
    }

    @Test("the stand-in: services, protection enabled with an expiry; then throttling, 5xx, a proxy's HTML page")
    func standIn() async throws {
        let keys = Lab.Keys(accessKeyID: "AKIASTANDIN", secretAccessKey: "standin-secret-value")
        let server = try await LocalHTTPServer.python(Lab.script, ["serve"])
        try await Lab.control(server, "/_tasks", #"["arn:aws:ecs:eu-west-1:123456789012:task/redash/0f3c9d2e5b8a4c1d9e7f6a5b4c3d2e1f"]"#)
        let outcome = try await recordAndReplay("standin-protection", keys: keys, endpoint: server.url)
        #expect(outcome.protection?.protected.count == 1)

        try await Lab.control(server, "/_faults", """
            [{"status": 400, "body": "{\\"__type\\": \\"ThrottlingException\\", \\"message\\": \\"Rate exceeded\\"}"},
             {"status": 503, "body": ""},
             {"status": 403, "body": "<html><body>Forbidden</body></html>", "contentType": "text/html"},
             {"status": 400, "body": "{\\"__type\\": \\"ExpiredTokenException\\", \\"message\\": \\"The security token included in the request is expired\\"}"},
             {"status": 400, "body": "<ErrorResponse><Error><Code>AccessDenied</Code><Message>not authorized to perform: ecs:UpdateService &amp; more</Message></Error></ErrorResponse>", "contentType": "text/xml"}]
            """)
        let faults = try await recordAndReplay("standin-faults", keys: keys, endpoint: server.url)
        #expect(faults.snapshot == nil && !faults.errors.isEmpty)
    }
}
