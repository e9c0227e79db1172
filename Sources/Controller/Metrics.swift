import AutoscalerCore
import CoreMetrics
import Foundation
import Prometheus
import Synchronization

/// The controller's metrics. The code records through swift-metrics handles (`Gauge`, `Counter`,
/// `Timer`), made with this registry's own factory rather than the process-wide one, so that
/// every reconciler (and every test) has its own values. swift-prometheus keeps the values and
/// renders `/metrics`; with DogStatsD on, a second backend receives the same records through
/// swift-metrics' multiplexer. Safe to use from any task.
public final class MetricsRegistry: Sendable {
    /// Where the values live; `render()` is its text exposition.
    public let prometheus: PrometheusCollectorRegistry
    /// Values waiting for the next DogStatsD flush; nil when DogStatsD is off.
    public let dogStatsD: DogStatsDAggregator?
    /// The swift-metrics factory behind every handle here. `run` also bootstraps the process-wide
    /// metrics system with it, so a library's metrics land in `/metrics` too.
    public let factory: any MetricsFactory

    private struct Key: Hashable {
        var name: String
        /// Sorted by label name.
        var labels: [String]
    }

    private struct Handles {
        var gauges: [Key: CoreMetrics.Gauge] = [:]
        var counters: [Key: CoreMetrics.Counter] = [:]
    }

    private let handles = Mutex(Handles())
    private let reconcileDuration: CoreMetrics.Timer

    static let reconcileDurationName = "redash_autoscaler_reconcile_duration_seconds"

    /// Help texts, by metric name; every metric the controller records has one.
    static let help: [String: String] = [
        "redash_autoscaler_desired_tasks": "desiredCount ECS reports for the service",
        "redash_autoscaler_proposed_tasks": "desiredCount the controller wants for the service",
        "redash_autoscaler_running_tasks": "running tasks ECS reports for the service",
        "redash_autoscaler_queue_pending_jobs": "jobs waiting in the queue",
        "redash_autoscaler_queue_running_jobs": "jobs running from the queue (RQ; Celery with celery.inspect)",
        "redash_autoscaler_celery_nodes": "Celery worker nodes the last remote-control round reached and that answered",
        "redash_autoscaler_celery_rounds_total": "Celery remote-control rounds, complete (every node answered) or not",
        "redash_autoscaler_queue_oldest_age_seconds": "age of the oldest waiting job",
        "redash_autoscaler_leader": "1 when this controller holds the lease (or needs none)",
        "redash_autoscaler_would_scale_actions_total": "changes a dry-run or paused service would have made, by direction",
        "redash_autoscaler_controller_mode": "1 for the controller-wide mode in force (run --dry-run, the policy's mode and the kill switch combined), 0 for the others",
        "redash_autoscaler_service_mode": "1 for the mode the service was handled in this tick (active, dry-run, paused), 0 for the others",
        "redash_autoscaler_operator_hold_tasks": "the task count an operator's hold keeps the service at; absent without a hold",
        "redash_autoscaler_scheduler_stale": "1 when Redash's scheduler looks dead",
        "redash_autoscaler_policy_reload_failures_total": "policy files rejected on reload",
        "redash_autoscaler_reconciles_total": "reconciles by outcome",
        "redash_autoscaler_errors_total": "failed reads or writes by dependency",
        "redash_autoscaler_scale_actions_total": "desiredCount changes sent to ECS and accepted, by direction (dry-run counts in would_scale_actions_total)",
        "redash_autoscaler_skipped_schedules": "scheduled queries whose schedule could not be read",
        "redash_autoscaler_last_scale_timestamp_seconds": "Unix time of the last desiredCount change applied to the service",
        "redash_autoscaler_unmapped_busy_workers": "busy RQ workers that could not be matched to an ECS task",
        "redash_autoscaler_task_protection_changes_total": "tasks whose scale-in protection was set or released, by action",
        "redash_autoscaler_forecast_refreshes_compared_total": "Redash refreshes whose outdated_queries_count was compared with the forecast",
        "redash_autoscaler_forecast_refresh_absolute_error_total": "sum over compared refreshes of |found due by Redash - forecast|",
        "redash_autoscaler_forecast_refresh_error": "found due by Redash's last refresh minus what the forecast said",
        "redash_autoscaler_queue_name_problems": "policy queues that exist nowhere (missing) and queues with work no service consumes (unconsumed)",
        "redash_autoscaler_ecs_requests_total": "ECS API requests sent, by action (every attempt, retries included)",
        "redash_autoscaler_ecs_requests_last_tick": "ECS API requests the last reconcile sent",
        reconcileDurationName: "wall time of one reconcile",
    ]

    /// Buckets of the reconcile-duration histogram.
    static let reconcileBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    /// `dogStatsD`: also collect every record for a DogStatsD agent (see `DogStatsDSender`).
    public init(dogStatsD: Bool = false) {
        let prometheus = PrometheusCollectorRegistry()
        let exporter = PrometheusExporter(registry: prometheus, help: Self.help, durationBuckets: Self.reconcileBuckets)
        let aggregator = dogStatsD ? DogStatsDAggregator() : nil
        let factory: any MetricsFactory = aggregator.map { MultiplexMetricsHandler(factories: [exporter, $0]) } ?? exporter
        self.prometheus = prometheus
        self.dogStatsD = aggregator
        self.factory = factory
        reconcileDuration = CoreMetrics.Timer(label: Self.reconcileDurationName, dimensions: [], factory: factory)
    }

    private static func key(_ name: String, _ labels: [String: String]) -> (Key, [(String, String)]) {
        let sorted = labels.sorted { $0.key < $1.key }
        return (Key(name: name, labels: sorted.flatMap { [$0.key, $0.value] }), sorted.map { ($0.key, $0.value) })
    }

    /// The handle of this series, made on first use.
    private func handle<Handle: Sendable>(
        _ table: WritableKeyPath<Handles, [Key: Handle]>, _ name: String, _ labels: [String: String],
        make: (String, [(String, String)], any MetricsFactory) -> Handle
    ) -> Handle {
        let (key, dimensions) = Self.key(name, labels)
        return handles.withLock { handles in
            if let handle = handles[keyPath: table][key] { return handle }
            let handle = make(name, dimensions, factory)
            handles[keyPath: table][key] = handle
            return handle
        }
    }

    public func set(_ name: String, _ labels: [String: String] = [:], _ value: Double) {
        handle(\.gauges, name, labels) { CoreMetrics.Gauge(label: $0, dimensions: $1, factory: $2) }.record(value)
    }

    /// Drops one series of a gauge: a value that is no longer known is absent, not frozen.
    public func remove(_ name: String, _ labels: [String: String]) {
        let (key, _) = Self.key(name, labels)
        let removed = handles.withLock { handles in handles.gauges.removeValue(forKey: key) }
        removed?.destroy()
    }

    /// Drops every series of a gauge (a service or queue removed from the policy).
    public func clear(_ name: String) {
        let removed = handles.withLock { handles in
            let removed = handles.gauges.filter { $0.key.name == name }
            for key in removed.keys { handles.gauges[key] = nil }
            return Array(removed.values)
        }
        for gauge in removed { gauge.destroy() }
    }

    public func increment(_ name: String, _ labels: [String: String] = [:], by amount: Int = 1) {
        handle(\.counters, name, labels) { CoreMetrics.Counter(label: $0, dimensions: $1, factory: $2) }.increment(by: amount)
    }

    public func observeReconcile(_ duration: Duration) {
        reconcileDuration.recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    /// The Prometheus text exposition of every metric.
    public func render() -> String {
        prometheus.emitToString()
    }
}

/// swift-metrics' factory for swift-prometheus, with this controller's help texts: gauges
/// (recorders that do not aggregate), counters and timers (as duration histograms).
/// swift-prometheus' own factory registers every metric without help.
struct PrometheusExporter: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    let help: [String: String]
    let durationBuckets: [Duration]

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: help[label] ?? "")
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        if aggregate {
            return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: durationBuckets.map(\.inSeconds))
        }
        return registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: durationBuckets)
    }

    func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? ValueHistogram { registry.unregisterValueHistogram(histogram) }
    }

    func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}
