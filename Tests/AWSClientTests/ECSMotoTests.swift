@testable import AWSClient
import AutoscalerCLI
import AutoscalerCore
import AWSSigning
import Foundation
import AWSTestSupport
import IntegrationSupport
import SystemClock
import Testing

/// The ECS client against moto's server mode with IAM authentication on: every request is
/// signed by our SigV4 signer and checked by moto, with users whose policy is deploy/'s document.
@Suite("ECS client against moto", .testThreads, .serialized)
struct ECSMotoTests {
    @Test("describe (batched past 10), missing services, set desired count, tasks and scaling targets with the shipped IAM policy")
    func controllerCalls() async throws {
        let moto = try await LocalHTTPServer.moto()
        let names = (1...12).map { "redash-worker-\($0)" }
        let world = try await Lab.setUpMoto(moto, services: names, tasks: 2, scalableTargets: ["redash-worker-3"])
        let context = try Lab.context(world.controller, endpoint: moto.url)

        // 13 names: two DescribeServices batches, one unknown name.
        let report = try await context.ecs.describeServices(names + ["redash-ghost"])
        #expect(report.services.map(\.serviceName) == names)
        #expect(report.services.map(\.desiredCount) == names.indices.map { 1 + $0 % 3 })
        #expect(report.missing.map(\.name) == ["redash-ghost"])
        #expect(report.missing.first?.reason == "MISSING")
        #expect(report.services.allSatisfy { $0.primaryDeployment != nil })

        let updated = try await context.ecs.setDesiredCount(service: "redash-worker-1", to: 5)
        #expect(updated.desiredCount == 5)
        let after = try await context.ecs.describeServices(["redash-worker-1", "redash-worker-2"])
        #expect(after.services.map(\.desiredCount) == [5, 2])

        // moto ignores the serviceName filter of ListTasks and lists the cluster's tasks.
        let arns = try await context.ecs.listTasks(service: "redash-worker-1")
        #expect(Set(arns) == Set(world.tasks))
        let tasks = try await context.ecs.describeTasks(arns)
        #expect(Set(tasks.map(\.taskArn)) == Set(world.tasks))
        #expect(tasks.allSatisfy { !$0.lastStatus.isEmpty && $0.taskID.count >= 8 })

        let targets = try await context.autoScaling.scalableTargets(cluster: "redash", services: names)
        #expect(Array(targets.keys) == ["redash-worker-3"])
        #expect(targets["redash-worker-3"]?.maxCapacity == 10)

        // A cluster that does not exist: typed, and the message names what was asked.
        let elsewhere = try Lab.context(world.controller, endpoint: moto.url, cluster: "redash-typo")
        await #expect {
            try await elsewhere.ecs.describeServices(["redash-worker-1"])
        } throws: { error in
            guard let error = error as? AWSError else { return false }
            return error.kind == .notFound && error.code == "ClusterNotFoundException" && "\(error)".contains("cluster redash-typo")
        }
    }

    @Test("IAM is enforced: a wrong secret is SignatureDoesNotMatch, a missing action is AccessDenied naming it; no secret in any message")
    func iamEnforced() async throws {
        let moto = try await LocalHTTPServer.moto()
        let world = try await Lab.setUpMoto(moto, services: ["redash-adhoc-worker"])

        var wrong = world.controller
        wrong.secretAccessKey = "not-the-secret-\(UUID().uuidString)"
        let forged = try Lab.context(wrong, endpoint: moto.url)
        do {
            _ = try await forged.ecs.describeServices(["redash-adhoc-worker"])
            Issue.record("a request signed with the wrong secret was accepted")
        } catch let error as AWSError {
            #expect(error.kind == .invalidSignature && error.code == "SignatureDoesNotMatch", "\(error)")
            #expect(error.status == 403)
            #expect(!"\(error)".contains(wrong.secretAccessKey))
        }

        // The read-only cut of the shipped policy can read but not scale.
        let readonly = try Lab.context(world.readonly, endpoint: moto.url)
        let services = try await readonly.ecs.describeServices(["redash-adhoc-worker"])
        #expect(services.services.count == 1)
        do {
            try await readonly.ecs.setDesiredCount(service: "redash-adhoc-worker", to: 3)
            Issue.record("UpdateService was allowed without ecs:UpdateService")
        } catch let error as AWSError {
            #expect(error.kind == .accessDenied, "\(error)")
            #expect(error.action == "ecs:UpdateService")
            #expect("\(error)".contains("must allow ecs:UpdateService"))
            #expect("\(error)".contains("service redash-adhoc-worker"))
            #expect(!"\(error)".contains(world.readonly.secretAccessKey))
        }
        // Nothing changed.
        let unchanged = try await readonly.ecs.describeServices(["redash-adhoc-worker"])
        #expect(unchanged.services.first?.desiredCount == 1)
    }

    @Test("a role_arn profile: STS AssumeRole signed with the source profile's keys, then ECS with the role's permissions")
    func assumeRoleProfile() async throws {
        let moto = try await LocalHTTPServer.moto()
        let world = try await Lab.setUpMoto(moto, services: ["redash-adhoc-worker"])
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("home-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home.appendingPathComponent(".aws"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        try """
            [laptop]
            aws_access_key_id = \(world.laptop.accessKeyID)
            aws_secret_access_key = \(world.laptop.secretAccessKey)
            """.write(to: home.appendingPathComponent(".aws/credentials"), atomically: true, encoding: .utf8)
        try """
            [profile prod]
            role_arn = \(world.roleARN)
            source_profile = laptop
            role_session_name = sre-dry-run
            region = \(Lab.region)
            """.write(to: home.appendingPathComponent(".aws/config"), atomically: true, encoding: .utf8)
        let environment = ["HOME": home.path, "AWS_ENDPOINT_URL": moto.url, "AWS_EC2_METADATA_DISABLED": "true"]

        let context = try AWSContext.make(
            cluster: "redash", regionFlag: nil, policyRegion: nil, profile: "prod", environment: environment, retry: Lab.quickRetry)
        let assumed = try await context.credentials.credentials()
        #expect(assumed.accessKeyID.hasPrefix("ASIA") && assumed.sessionToken?.isEmpty == false, "\(assumed.accessKeyID)")
        #expect(assumed.expiration.map { $0 > WallClock.now() } == true)
        #expect(context.region == Lab.region)
        let services = try await context.ecs.describeServices(["redash-adhoc-worker"])
        #expect(services.services.map(\.serviceName) == ["redash-adhoc-worker"])
        try await context.ecs.setDesiredCount(service: "redash-adhoc-worker", to: 2)
        #expect(try await context.ecs.describeServices(["redash-adhoc-worker"]).services.first?.desiredCount == 2)

        // The laptop user's own keys may only assume the role: the permissions came from the role.
        let direct = try AWSContext.make(
            cluster: "redash", regionFlag: Lab.region, policyRegion: nil, profile: "laptop", environment: environment, retry: Lab.quickRetry)
        do {
            _ = try await direct.ecs.describeServices(["redash-adhoc-worker"])
            Issue.record("the source profile's own keys could read ECS")
        } catch let error as AWSError {
            #expect(error.kind == .accessDenied && error.action == "ecs:DescribeServices", "\(error)")
        }
    }

    @Test("services --json against moto: counts, deployments, a missing service and a loud warning for a scaling target")
    func servicesCommand() async throws {
        let moto = try await LocalHTTPServer.moto()
        let world = try await Lab.setUpMoto(moto, services: ["redash-adhoc-worker", "redash-scheduled-worker"], scalableTargets: ["redash-adhoc-worker"])
        let context = try Lab.context(world.controller, endpoint: moto.url)
        let policy = Policy(cluster: "redash", redis: RedisSettings(url: SecretURL("redis://127.0.0.1:6379/0")), services: [
            ServicePolicy(name: "redash-adhoc-worker", queues: ["queries"], minTasks: 1, maxTasks: 8),
            ServicePolicy(name: "redash-scheduled-worker", queues: ["scheduled_queries"], minTasks: 1, maxTasks: 4),
            ServicePolicy(name: "redash-missing-worker", queues: ["celery"], minTasks: 1, maxTasks: 1),
        ])
        let report = await ServicesCommand.report(policy: policy, context: context, json: true)
        #expect(report.exitCode == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.standardOutput.utf8)) as? [String: Any])
        #expect(object["cluster"] as? String == "redash")
        #expect(object["region"] as? String == "eu-west-1")
        let entries = try #require(object["services"] as? [[String: Any]])
        #expect(entries.map { $0["name"] as? String } == ["redash-adhoc-worker", "redash-scheduled-worker", "redash-missing-worker"])
        #expect(entries[0]["desired"] as? Int == 1)
        #expect(entries[1]["desired"] as? Int == 2)
        #expect(entries[0]["found"] as? Bool == true)
        #expect((entries[0]["deployments"] as? [[String: Any]])?.first?["status"] as? String == "PRIMARY")
        #expect((entries[0]["autoscalingTarget"] as? [String: Any])?["resourceId"] as? String == "service/redash/redash-adhoc-worker")
        #expect(entries[1]["autoscalingTarget"] is NSNull)
        #expect(entries[2]["found"] as? Bool == false)
        #expect(entries[2]["reason"] as? String == "MISSING")
        #expect(report.standardError.contains("WARNING: redash-adhoc-worker has an Application Auto Scaling target"))
        #expect(!report.standardError.contains("redash-scheduled-worker"))

        let table = await ServicesCommand.report(policy: policy, context: context, json: false)
        #expect(table.standardOutput.contains("redash-missing-worker"))
        #expect(table.standardOutput.contains("not found in cluster redash (MISSING)"))
    }
}
