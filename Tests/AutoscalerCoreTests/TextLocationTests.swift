import AutoscalerCore
import Testing
import IntegrationSupport

@Suite("Where a policy can live", .testThreads)
struct TextLocationTests {
    static let acceptedLocations: [(String, String, TextLocation)] = [
        ("a bare path is a file", "policies.yaml", .file(path: "policies.yaml")),
        ("file: takes the rest as the path", "file:/etc/redash/policies.yaml", .file(path: "/etc/redash/policies.yaml")),
        ("ssm: takes a parameter name", "ssm:/redash-autoscaler/policy", .ssmParameter(name: "/redash-autoscaler/policy")),
        ("ssm: takes a parameter ARN", "ssm:arn:aws:ssm:eu-west-1:123456789012:parameter/p", .ssmParameter(name: "arn:aws:ssm:eu-west-1:123456789012:parameter/p")),
        ("a bare SSM ARN is a parameter", "arn:aws:ssm:eu-west-1:123456789012:parameter/p", .ssmParameter(name: "arn:aws:ssm:eu-west-1:123456789012:parameter/p")),
        ("secretsmanager: takes a secret name", "secretsmanager:redash/policy", .secret(id: "redash/policy")),
        ("a bare Secrets Manager ARN is a secret", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:p-AbCdEf",
         .secret(id: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:p-AbCdEf")),
    ]

    @Test("accepted locations", arguments: acceptedLocations)
    func accepted(_ scenario: String, _ text: String, _ expected: TextLocation) throws {
        #expect(try TextLocation.parse(text) == expected, "\(scenario)")
    }

    static let rejectedLocations: [(String, String, String)] = [
        ("ssm: without a name", "ssm:", "expected an SSM parameter name"),
        ("a name with a space", "ssm:/redash policy", "expected an SSM parameter name"),
        ("secretsmanager: without a name", "secretsmanager:", "expected a secret name or ARN"),
        ("file: without a path", "file:", "file: needs a path"),
        ("a malformed ARN after ssm:", "ssm:arn:aws:ssm", "is not an ARN"),
        ("nothing", "", "an empty location"),
    ]

    @Test("rejected locations say what is expected", arguments: rejectedLocations)
    func rejected(_ scenario: String, _ text: String, _ message: String) {
        #expect(throws: TextLocationError.self, "\(scenario)") { try TextLocation.parse(text) }
        do {
            _ = try TextLocation.parse(text)
        } catch {
            #expect(error.description.contains(message), "\(scenario): \(error)")
        }
    }

    @Test("an ARN's region and account win over the configured ones; a name has neither")
    func regionOfARN() throws {
        let arn = try TextLocation.parse("arn:aws:ssm:ap-northeast-1:123456789012:parameter/redash/policy")
        #expect(arn.arnRegion == "ap-northeast-1" && arn.arnAccount == "123456789012")
        #expect(arn.description == "ssm:arn:aws:ssm:ap-northeast-1:123456789012:parameter/redash/policy")
        let name = try TextLocation.parse("ssm:/redash/policy")
        #expect(name.arnRegion == nil && name.arnAccount == nil)
    }
}
