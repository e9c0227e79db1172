import AWSSigning
import AutoscalerCore
import Foundation

/// Signatures per second for a DescribeServices-sized ECS request (JSON 1.1 body of ten service
/// names, session token), the request the controller signs every tick.
enum SigV4Benchmark {
    static func run(count: Int) {
        let body = Array(#"{"cluster":"redash","services":["redash-adhoc-worker","redash-scheduled-worker","redash-scheduler","redash-worker","redash-server","a","b","c","d","e"],"include":["TAGS"]}"#.utf8)
        let request = SigV4Request(
            method: "POST", host: "ecs.ap-northeast-1.amazonaws.com", path: "/",
            headers: [("Content-Type", "application/x-amz-json-1.1"),
                      ("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.DescribeServices")],
            body: body)
        let credentials = AWSCredentials(accessKeyID: "ASIAEXAMPLE", secretAccessKey: "secret", sessionToken: String(repeating: "t", count: 800))
        var checksum = 0
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for index in 0..<count {
                let signature = SigV4Signer.sign(
                    request, credentials: credentials, region: "ap-northeast-1", service: "ecs",
                    date: Instant(secondsSinceEpoch: 1_795_400_000 + Double(index)))
                checksum &+= signature.authorization.utf8.count
            }
        }
        print("sigv4: \(count) DescribeServices signatures in \(String(format: "%.3f", elapsed.inSeconds)) s: \(String(format: "%.0f", Double(count) / elapsed.inSeconds)) signatures/s, \(String(format: "%.1f", elapsed.inSeconds * 1e6 / Double(count))) µs each (checksum \(checksum))")
    }
}
