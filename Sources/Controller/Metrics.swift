import Foundation
import Synchronization

/// The controller's metrics, rendered in Prometheus' text format at `/metrics`. A small registry
/// of our own: gauges and counters keyed by name and labels, and one histogram (reconcile
/// duration). Safe to update from any task.
public final class MetricsRegistry: Sendable {
    struct Label: Hashable, Comparable {
        var name: String
        var value: String

        static func < (lhs: Label, rhs: Label) -> Bool { (lhs.name, lhs.value) < (rhs.name, rhs.value) }
    }

    struct Key: Hashable, Comparable {
        var name: String
        /// Sorted by name.
        var labels: [Label]

        static func < (lhs: Key, rhs: Key) -> Bool {
            lhs.name != rhs.name ? lhs.name < rhs.name : lhs.labels.lexicographicallyPrecedes(rhs.labels)
        }

        /// `name{label="value",…}` with Prometheus' escaping.
        var prometheus: String {
            labels.isEmpty ? name : "\(name){\(labels.map { "\($0.name)=\"\(MetricsRegistry.escape($0.value))\"" }.joined(separator: ","))}"
        }
    }

    struct State {
        var gauges: [Key: Double] = [:]
        var counters: [Key: Double] = [:]
        var histogramBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
        var histogramCounts: [Int] = Array(repeating: 0, count: 11)
        var histogramSum = 0.0
        var histogramTotal = 0
    }

    private let state = Mutex(State())

    /// Help texts, by metric name.
    static let help: [String: (type: String, text: String)] = [
        "redash_autoscaler_desired_tasks": ("gauge", "desiredCount ECS reports for the service"),
        "redash_autoscaler_proposed_tasks": ("gauge", "desiredCount the controller wants for the service"),
        "redash_autoscaler_running_tasks": ("gauge", "running tasks ECS reports for the service"),
        "redash_autoscaler_queue_pending_jobs": ("gauge", "jobs waiting in the queue"),
        "redash_autoscaler_queue_running_jobs": ("gauge", "jobs running from the queue (RQ)"),
        "redash_autoscaler_queue_oldest_age_seconds": ("gauge", "age of the oldest waiting job"),
        "redash_autoscaler_leader": ("gauge", "1 when this controller holds the lease (or needs none)"),
        "redash_autoscaler_scheduler_stale": ("gauge", "1 when Redash's scheduler looks dead"),
        "redash_autoscaler_policy_reload_failures_total": ("counter", "policy files rejected on reload"),
        "redash_autoscaler_reconciles_total": ("counter", "reconciles by outcome"),
        "redash_autoscaler_errors_total": ("counter", "failed reads or writes by dependency"),
        "redash_autoscaler_scale_actions_total": ("counter", "desiredCount changes sent (or, in dry-run, that would be) by direction"),
        "redash_autoscaler_skipped_schedules": ("gauge", "scheduled queries whose schedule could not be read"),
        "redash_autoscaler_reconcile_duration_seconds": ("histogram", "wall time of one reconcile"),
    ]

    public init() {}

    static func key(_ name: String, _ labels: [String: String]) -> Key {
        Key(name: name, labels: labels.map { Label(name: $0.key, value: $0.value) }.sorted())
    }

    /// Gauges and counters as they are now, sorted.
    func snapshot() -> (gauges: [(Key, Double)], counters: [(Key, Double)]) {
        state.withLock { state in
            (state.gauges.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
             state.counters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        }
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    public func set(_ name: String, _ labels: [String: String] = [:], _ value: Double) {
        state.withLock { $0.gauges[Self.key(name, labels)] = value }
    }

    /// Drops every series of a gauge (a service or queue removed from the policy).
    public func clear(_ name: String) {
        state.withLock { state in state.gauges = state.gauges.filter { $0.key.name != name } }
    }

    public func increment(_ name: String, _ labels: [String: String] = [:], by amount: Double = 1) {
        state.withLock { $0.counters[Self.key(name, labels), default: 0] += amount }
    }

    public func observeReconcile(seconds: Double) {
        state.withLock { state in
            for (index, bound) in state.histogramBuckets.enumerated() where seconds <= bound { state.histogramCounts[index] += 1 }
            state.histogramSum += seconds
            state.histogramTotal += 1
        }
    }

    /// A counter's or gauge's current value (tests, `/status`).
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let key = Self.key(name, labels)
        return state.withLock { $0.gauges[key] ?? $0.counters[key] }
    }

    public func render() -> String {
        let snapshot = state.withLock { $0 }
        var lines: [String] = []
        var described = Set<String>()
        func describe(_ name: String) {
            guard described.insert(name).inserted, let help = Self.help[name] else { return }
            lines.append("# HELP \(name) \(help.text)")
            lines.append("# TYPE \(name) \(help.type)")
        }
        func line(_ key: Key, _ value: Double) {
            describe(key.name)
            lines.append("\(key.prometheus) \(Self.format(value))")
        }
        for (key, value) in snapshot.gauges.sorted(by: { $0.key < $1.key }) { line(key, value) }
        for (key, value) in snapshot.counters.sorted(by: { $0.key < $1.key }) { line(key, value) }
        let histogram = "redash_autoscaler_reconcile_duration_seconds"
        describe(histogram)
        for (index, bound) in snapshot.histogramBuckets.enumerated() {
            lines.append("\(histogram)_bucket{le=\"\(Self.format(bound))\"} \(snapshot.histogramCounts[index])")
        }
        lines.append("\(histogram)_bucket{le=\"+Inf\"} \(snapshot.histogramTotal)")
        lines.append("\(histogram)_sum \(Self.format(snapshot.histogramSum))")
        lines.append("\(histogram)_count \(snapshot.histogramTotal)")
        return lines.joined(separator: "\n") + "\n"
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return String(value)
    }
}
