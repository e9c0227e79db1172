import AutoscalerCore
import Yams

/// One setting of a service that `defaults` may give for every service: its key below the
/// service (`target.maxWait`), one line saying what it does, and how its value is read into a
/// `ServicePolicy`. Its default is the `ServicePolicy` field's own (declared beside the field in
/// the core); `docs/policies.md` shows it, and `PolicyDocsTests` checks that the two agree.
///
/// A new setting is one entry of `ServiceSetting.all`.
struct ServiceSetting: Sendable {
    /// The key below the service, dotted for a nested one (`scaleUp.cooldown`).
    let key: String
    /// What it does, in one line.
    let summary: String
    /// The default as `docs/policies.md` writes it, taken from a `ServicePolicy` made with every
    /// default.
    let defaultText: @Sendable (ServicePolicy) -> String
    /// Reads the value at `path` and returns how it changes a service; `nil` after reporting a
    /// bad value.
    let read: @Sendable (NodeReader, Node, String) -> (@Sendable (inout ServicePolicy) -> Void)?

    /// A setting whose value goes to `field`.
    init<Value: Sendable>(
        _ key: String, _ field: any WritableKeyPath<ServicePolicy, Value> & Sendable, _ summary: String,
        shown: @escaping @Sendable (Value) -> String, read: @escaping @Sendable (NodeReader, Node, String) -> Value?
    ) {
        self.key = key
        self.summary = summary
        defaultText = { shown($0[keyPath: field]) }
        self.read = { reader, node, path in
            guard let value = read(reader, node, path) else { return nil }
            return { $0[keyPath: field] = value }
        }
    }

    /// Every setting, in the order `docs/policies.md` lists them.
    static let all: [ServiceSetting] = [
        ServiceSetting(
            "workersPerTask", \.workersPerTask, "jobs one task runs at once (Redash's WORKERS_COUNT)", shown: { "\($0)" },
            read: { $0.integer($1, $2, atLeast: 1) }),
        ServiceSetting(
            "target.backlogPerWorker", \.target.backlogPerWorker, "pending jobs each worker slot may have waiting", shown: number,
            read: { $0.positiveNumber($1, $2) }),
        ServiceSetting(
            "target.maxWait", \.target.maxWait, "the longest a job should wait", shown: duration,
            read: { $0.duration($1, $2, allowZero: false) }),
        ServiceSetting(
            "target.drainTime", \.target.drainTime, "weigh the backlog by work: run the pending work within this time",
            shown: { $0.map(duration) ?? "none" }, read: { reader, node, path in reader.duration(node, path, allowZero: false).map { .some($0) } }),
        ServiceSetting(
            "protectBusyTasks", \.protectBusyTasks, "busy-aware scale-in with ECS task scale-in protection", shown: { "\($0)" },
            read: { $0.boolean($1, $2) }),
        ServiceSetting(
            "taskProtection", \.taskProtection, "how long one protection lasts (renewed while busy)", shown: duration,
            read: { reader, node, path in
                guard let value = reader.duration(node, path, allowZero: false) else { return nil }
                // ECS accepts 1 to 2,880 minutes.
                guard value >= .seconds(60), value <= .seconds(2880 * 60) else {
                    reader.error(node.mark, path, "must be between 1m and 48h (ECS's limits for task scale-in protection)")
                    return nil
                }
                return value
            }),
        ServiceSetting(
            "scaleUp.stabilizationWindow", \.scaleUp.stabilizationWindow, "scale up only to the lowest recommendation of this window",
            shown: duration, read: { $0.duration($1, $2, allowZero: true) }),
        ServiceSetting("scaleUp.maxStep", \.scaleUp.maxStep, "most tasks one scale-up adds", shown: { "\($0)" }, read: { $0.integer($1, $2, atLeast: 1) }),
        ServiceSetting(
            "scaleUp.cooldown", \.scaleUp.cooldown, "least time between two scale-ups", shown: duration, read: { $0.duration($1, $2, allowZero: true) }),
        ServiceSetting(
            "scaleDown.stabilizationWindow", \.scaleDown.stabilizationWindow, "scale down only to the highest recommendation of this window",
            shown: duration, read: { $0.duration($1, $2, allowZero: true) }),
        ServiceSetting(
            "scaleDown.maxStep", \.scaleDown.maxStep, "most tasks one scale-down removes", shown: { "\($0)" }, read: { $0.integer($1, $2, atLeast: 1) }),
        ServiceSetting(
            "scaleDown.cooldown", \.scaleDown.cooldown, "least time between the last action and a scale-down", shown: duration,
            read: { $0.duration($1, $2, allowZero: true) }),
        ServiceSetting(
            "staleAfter", \.staleAfter, "an observation older than this counts as missing", shown: duration,
            read: { $0.duration($1, $2, allowZero: false) }),
        ServiceSetting(
            "mode", \.mode, "active, dry-run (decide, write nothing) or paused (only watch)", shown: { $0.rawValue }, read: PolicySchema.readMode),
        ServiceSetting(
            "externalChangeHold", \.externalChangeHold, "how long a desiredCount changed by someone else is left alone", shown: duration,
            read: { $0.duration($1, $2, allowZero: true) }),
    ]

    /// The keys a service or `defaults` may hold at its own level (`target` for
    /// `target.maxWait`), in order.
    static let topKeys: [String] = {
        var keys: [String] = []
        for setting in all {
            let top = String(setting.key.split(separator: ".")[0])
            if !keys.contains(top) { keys.append(top) }
        }
        return keys
    }()

    /// The keys below `top` (`maxWait` for `target`); empty for a setting without levels.
    static func subKeys(of top: String) -> [String] {
        all.compactMap { setting in
            let parts = setting.key.split(separator: ".", maxSplits: 1).map(String.init)
            return parts.count == 2 && parts[0] == top ? parts[1] : nil
        }
    }

    /// Reads every setting `entries` (a service's or `defaults`' keys at `path`) gives, in
    /// declaration order, as changes to a service.
    static func changes(_ entries: Entries, _ path: String, reader: NodeReader) -> [@Sendable (inout ServicePolicy) -> Void] {
        var changes: [@Sendable (inout ServicePolicy) -> Void] = []
        var nested: [String: Entries] = [:]
        for top in topKeys where !subKeys(of: top).isEmpty {
            if let node = entries[top], let inner = reader.mapping(node, reader.join(path, top), known: subKeys(of: top)) { nested[top] = inner }
        }
        for setting in all {
            let parts = setting.key.split(separator: ".", maxSplits: 1).map(String.init)
            let node = parts.count == 2 ? nested[parts[0]]?[parts[1]] : entries[setting.key]
            guard let node, let change = setting.read(reader, node, reader.join(path, setting.key)) else { continue }
            changes.append(change)
        }
        return changes
    }

    private static let duration: @Sendable (Duration) -> String = { $0.compactDescription }
    private static let number: @Sendable (Double) -> String = { $0 == $0.rounded() ? String(Int($0)) : String($0) }
}
