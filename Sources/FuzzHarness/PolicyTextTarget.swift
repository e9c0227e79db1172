import AutoscalerCore
import PolicyFile

/// Any text as `policies.yaml`, through the loader (the size and nesting limits, YAML, `${VAR}`
/// interpolation, every check). The promises: the result is a policy with no errors, or no
/// policy and at least one error; every diagnostic points into the file (line and column from 1,
/// no line past the end) and says something; a policy's numbers are within the bounds the
/// documentation gives.
public enum PolicyTextTarget: FuzzTarget {
    public static let name = "policy-text"

    /// What `${VAR}` can refer to: set, empty, and a URL of each kind.
    static let environment = [
        "REDIS_URL": "redis://cache:6379/0", "REDASH_REDIS_URL": "redis://cache:6379/1", "RQ_REDIS_URL": "redis://rq-cache:6379/1",
        "DATABASE_URL": "postgresql://redash@db:5432/redash", "EMPTY": "", "CLUSTER": "redash",
    ]

    public static func check(_ input: [UInt8]) -> [String] {
        let text = String(decoding: input, as: UTF8.self)
        let result = PolicyLoader.parse(text, file: "fuzz.yaml", environment: environment)
        var problems: [String] = []
        if (result.policy != nil) != result.errors.isEmpty {
            problems.append(result.policy == nil ? "no policy and no error" : "a policy despite \(result.errors.count) error(s)")
        }
        let lines = yamlLineCount(text)
        for diagnostic in result.diagnostics {
            if diagnostic.line < 1 || diagnostic.line > lines + 1 || diagnostic.column < 1 {
                problems.append("a diagnostic outside the file's \(lines) line(s): \(diagnostic)")
            }
            if diagnostic.message.isEmpty || diagnostic.file != "fuzz.yaml" { problems.append("an empty or misplaced diagnostic: \(diagnostic)") }
        }
        if let policy = result.policy { problems += policyProblems(policy) }
        return problems
    }

    /// Lines as YAML counts them, and libyaml's marks with it: `\r\n`, `\r` and `\n` end a line,
    /// and so do NEL, LS and PS (YAML 1.1).
    static func yamlLineCount(_ text: String) -> Int {
        var lines = 1
        var previous: Unicode.Scalar?
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n" where previous == "\r": break
            case "\n", "\r", "\u{85}", "\u{2028}", "\u{2029}": lines += 1
            default: break
            }
            previous = scalar
        }
        return lines
    }

    static func policyProblems(_ policy: Policy) -> [String] {
        var problems: [String] = []
        if policy.interval <= .zero { problems.append("interval \(policy.interval)") }
        if policy.services.isEmpty { problems.append("no services") }
        for service in policy.services {
            var wrong: [String] = []
            if service.minTasks < 0 || service.maxTasks < service.minTasks { wrong.append("minTasks \(service.minTasks), maxTasks \(service.maxTasks)") }
            if service.workersPerTask < 1 { wrong.append("workersPerTask \(service.workersPerTask)") }
            if service.queues.isEmpty { wrong.append("no queues") }
            if service.staleAfter <= .zero { wrong.append("staleAfter \(service.staleAfter)") }
            let target = service.target
            if !(target.backlogPerWorker.isFinite && target.backlogPerWorker > 0) { wrong.append("backlogPerWorker \(target.backlogPerWorker)") }
            if target.maxWait <= .zero || (target.drainTime.map { $0 <= .zero } ?? false) { wrong.append("target \(target)") }
            for behavior in [service.scaleUp, service.scaleDown]
            where behavior.maxStep < 1 || behavior.stabilizationWindow < .zero || behavior.cooldown < .zero {
                wrong.append("behavior \(behavior)")
            }
            if let fallback = service.fallbackTasks, fallback < 0 || fallback > service.maxTasks { wrong.append("fallbackTasks \(fallback)") }
            if service.taskProtection < .seconds(60) || service.taskProtection > .seconds(2880 * 60) { wrong.append("taskProtection \(service.taskProtection)") }
            for floor in service.schedules where floor.minTasks < 0 || floor.minTasks > service.maxTasks {
                wrong.append("schedule \(floor.name) minTasks \(floor.minTasks)")
            }
            problems += wrong.map { "service \(service.name): \($0)" }
        }
        return problems
    }
}
