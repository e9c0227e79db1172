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

    /// Buckets of the reconcile-duration histogram.
    static let reconcileBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    /// `dogStatsD`: also collect every record for a DogStatsD agent (see `DogStatsDSender`).
    public init(dogStatsD: Bool = false) {
        let prometheus = PrometheusCollectorRegistry()
        let exporter = PrometheusExporter(registry: prometheus, help: Metric.help, durationBuckets: Self.reconcileBuckets)
        let aggregator = dogStatsD ? DogStatsDAggregator() : nil
        let factory: any MetricsFactory = aggregator.map { MultiplexMetricsHandler(factories: [exporter, $0]) } ?? exporter
        self.prometheus = prometheus
        self.dogStatsD = aggregator
        self.factory = factory
        reconcileDuration = CoreMetrics.Timer(label: Metric.reconcileDuration.rawValue, dimensions: [], factory: factory)
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

    /// Sets a gauge of the catalogue.
    public func set(_ metric: Metric, _ labels: [String: String] = [:], _ value: Double) {
        handle(\.gauges, metric.rawValue, labels) { CoreMetrics.Gauge(label: $0, dimensions: $1, factory: $2) }.record(value)
    }

    /// Drops one series of a gauge: a value that is no longer known is absent, not frozen.
    public func remove(_ metric: Metric, _ labels: [String: String]) {
        let (key, _) = Self.key(metric.rawValue, labels)
        let removed = handles.withLock { handles in handles.gauges.removeValue(forKey: key) }
        removed?.destroy()
    }

    /// Drops every series of a gauge (a service or queue removed from the policy).
    public func clear(_ metric: Metric) {
        let removed = handles.withLock { handles in
            let removed = handles.gauges.filter { $0.key.name == metric.rawValue }
            for key in removed.keys { handles.gauges[key] = nil }
            return Array(removed.values)
        }
        for gauge in removed { gauge.destroy() }
    }

    /// Adds to a counter of the catalogue (`by: 0` makes the series exist at 0).
    public func increment(_ metric: Metric, _ labels: [String: String] = [:], by amount: Int = 1) {
        handle(\.counters, metric.rawValue, labels) { CoreMetrics.Counter(label: $0, dimensions: $1, factory: $2) }.increment(by: amount)
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
