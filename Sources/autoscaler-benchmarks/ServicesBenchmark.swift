import AWSClient
import AutoscalerCore
import Foundation
import Logging

/// Time for one `services` refresh (DescribeServices in batches of ten, plus the Application
/// Auto Scaling check) of `count` services on an ECS endpoint (moto, set up by
/// scripts/bench-services.sh). Credentials and endpoint come from the environment.
enum ServicesBenchmark {
    static func run(count: Int, rounds: Int) async {
        let names = (1...count).map { "bench-service-\($0)" }
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let context: AWSContext
        do {
            context = try AWSContext.make(cluster: "redash", regionFlag: nil, policyRegion: nil, profile: nil, logger: logger)
        } catch {
            print("services: \(error)")
            return
        }
        let clock = ContinuousClock()
        var describe: [Double] = [], refresh: [Double] = []
        var found = 0
        for round in 0...rounds {
            do {
                var report: ECSClient.ServicesReport?
                let describeTime = try await clock.measure { report = try await context.ecs.describeServices(names) }
                let targetsTime = try await clock.measure { _ = try await context.autoScaling.scalableTargets(cluster: "redash", services: names) }
                found = report?.services.count ?? 0
                if round > 0 {  // round 0 warms up connections and credentials
                    describe.append(describeTime.inSeconds * 1000)
                    refresh.append((describeTime + targetsTime).inSeconds * 1000)
                }
            } catch {
                print("services: \(error)")
                return
            }
        }
        describe.sort()
        refresh.sort()
        func figures(_ values: [Double]) -> String {
            "p50 \(String(format: "%.1f", values[values.count / 2])) ms, max \(String(format: "%.1f", values.last ?? 0)) ms"
        }
        print("services: \(found) of \(count) services found, \(rounds) rounds against \(context.ecs.endpoint)")
        print("services: DescribeServices (\((count + 9) / 10) batched calls, in parallel): \(figures(describe))")
        print("services: full refresh incl. DescribeScalableTargets: \(figures(refresh))")
    }
}
