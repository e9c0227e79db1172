@testable import Controller
import Foundation
import Logging
import Testing
import IntegrationSupport

/// The JSON log line as Datadog reads it: numbers as numbers, reserved names not clobbered.
@Suite("JSON log lines", .testThreads)
struct JSONLogTests {
    @Test("plain decimal numbers become JSON numbers; anything else stays text", arguments: [
        ("3", "int"), ("-2", "int"), ("0", "int"), ("108.5", "double"), ("-0.25", "double"),
        ("007", "text"), ("1e5", "text"), ("5.0 seconds", "text"), ("nan", "text"), ("inf", "text"), ("", "text"),
        ("3.", "text"), (".5", "text"), ("12345678901234567", "text"), ("1.2.3", "text"), ("?", "text"), ("0x10", "text"),
    ])
    func numbers(_ text: String, _ kind: String) {
        let value = JSONLogHandler.jsonValue(text)
        switch kind {
        case "int": #expect((value as? Int).map(String.init) == text)
        case "double": #expect((value as? Double) == Double(text))
        default: #expect(value as? String == text)
        }
    }

    @Test("the Redash service goes under redash_service; the controller's identity comes from DD_SERVICE, DD_ENV, DD_VERSION")
    func reservedNames() throws {
        let fields = JSONLogHandler.fields(["service": "redash-adhoc-worker", "to": "3", "status": "x", "host": "h"])
        #expect(fields["redash_service"] as? String == "redash-adhoc-worker" && fields["service"] == nil)
        #expect(fields["to"] as? Int == 3)
        #expect(fields["log.status"] as? String == "x" && fields["ecs.host"] as? String == "h" && fields["status"] == nil && fields["host"] == nil)

        let identity = JSONLogHandler.Identity.from(environment: ["DD_SERVICE": "redash-autoscaler-prod", "DD_ENV": "prod"], buildVersion: "0.1.0")
        #expect(identity == JSONLogHandler.Identity(service: "redash-autoscaler-prod", env: "prod", version: "0.1.0"))
        let defaults = JSONLogHandler.Identity.from(environment: ["DD_SERVICE": "", "DD_VERSION": "2026.12"], buildVersion: "0.1.0")
        #expect(defaults == JSONLogHandler.Identity(service: "redash-autoscaler", env: nil, version: "2026.12"))
    }
}
