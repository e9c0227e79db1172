import AWSSigning
import AutoscalerCore
import Foundation
import IntegrationSupport
import Testing

@Suite("SigV4 signer", .testThreads)
struct SigV4SignerTests {
    @Test("identical Authorization headers to botocore's on 1,200 random requests")
    func matchesBotocore() async throws {
        let script = Repository.root.appendingPathComponent("Tests/AWSSigningTests/Python/sigv4_vectors.py").path
        let output = try await ManagedProcess.run(Repository.python, [script, "1200", "20261122"], timeout: 120)
        let lines = output.split(separator: "\n")
        #expect(lines.count == 1200)
        var mismatches: [String] = []
        var withToken = 0, withQuery = 0, withBody = 0
        for line in lines {
            let vector = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let query = (vector["query"] as? [[String]] ?? []).map { (name: $0[0], value: $0[1]) }
            let headers = (vector["headers"] as? [[String]] ?? []).map { (name: $0[0], value: $0[1]) }
            let body = Array(Data(base64Encoded: vector["body"] as? String ?? "") ?? Data())
            let request = SigV4Request(
                method: vector["method"] as! String, scheme: vector["scheme"] as! String,
                host: vector["host"] as! String, port: vector["port"] as? Int, path: vector["path"] as! String,
                query: query, headers: headers, body: body)
            let credentials = AWSCredentials(
                accessKeyID: vector["accessKey"] as! String, secretAccessKey: vector["secret"] as! String,
                sessionToken: vector["token"] as? String)
            let signature = SigV4Signer.sign(
                request, credentials: credentials, region: vector["region"] as! String,
                service: vector["service"] as! String,
                date: Instant(secondsSinceEpoch: (vector["time"] as! NSNumber).doubleValue))
            if signature.authorization != vector["authorization"] as? String || signature.amzDate != vector["amzDate"] as? String {
                mismatches.append("\(request.method) \(request.path) \(query)\n  ours:     \(signature.authorization)\n  botocore: \(vector["authorization"] ?? "")")
            }
            if credentials.sessionToken != nil { withToken += 1 }
            if !query.isEmpty { withQuery += 1 }
            if !body.isEmpty { withBody += 1 }
        }
        #expect(mismatches.count == 0, "first mismatch: \(mismatches.first ?? "")")
        #expect(withToken > 300 && withQuery > 600 && withBody > 300, "the vectors exercise tokens, queries and bodies")
    }

    @Test("AWS's published example: IAM ListUsers, 2015-08-30T12:36:00Z")
    func awsExample() {
        let request = SigV4Request(
            method: "GET", host: "iam.amazonaws.com", path: "/",
            query: [("Action", "ListUsers"), ("Version", "2010-05-08")],
            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")])
        let signature = SigV4Signer.sign(
            request, credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1", service: "iam",
            date: CivilTime.instant(year: 2015, month: 8, day: 30, hour: 12, minute: 36))
        #expect(signature.amzDate == "20150830T123600Z")
        #expect(signature.authorization == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
    }

    @Test("credentials never print their secret or token")
    func credentialsAreRedacted() {
        let credentials = AWSCredentials(accessKeyID: "AKIAEXAMPLE", secretAccessKey: "very-secret-key", sessionToken: "session-token-value")
        #expect(!"\(credentials)".contains("very-secret-key"))
        #expect(!"\(credentials)".contains("session-token-value"))
        #expect("\(credentials)".contains("AKIAEXAMPLE"))
    }

    @Test("what is sent is what is signed: the encoded query and path")
    func encodedForms() {
        let request = SigV4Request(
            method: "GET", host: "example.com", path: "/a b/./c/../d//é",
            query: [("b", "2 3"), ("a", "x/y"), ("a", "%")])
        #expect(request.encodedPath == "/a%20b/d/%C3%A9")
        #expect(request.encodedQuery == "a=%25&a=x%2Fy&b=2%203")
    }
}
