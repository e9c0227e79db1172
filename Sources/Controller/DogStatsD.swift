import AutoscalerCore
import CoreMetrics
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A swift-metrics backend that collects records for a DogStatsD agent until the next flush:
/// a gauge keeps its last value (and is sent at every flush, as statsd gauges expect), a counter
/// adds up its increments (sent as the increase since the previous flush), a timer keeps its
/// observations (sent in seconds as histogram samples, `|h`). Names get a dot after the
/// `redash_autoscaler` prefix and labels become tags; the Redash service's label becomes
/// `redash_service` (`DogStatsDAggregator.tagKey`), since `service` is Datadog's unified service
/// tag, which names the controller itself.
public final class DogStatsDAggregator: MetricsFactory, Sendable {
    struct Series: Hashable, Comparable {
        /// `redash_autoscaler.queue_pending_jobs`
        var name: String
        /// `|#queue:queries`, or empty without labels.
        var tags: String

        static func < (lhs: Series, rhs: Series) -> Bool { (lhs.name, lhs.tags) < (rhs.name, rhs.tags) }
    }

    struct State {
        var gauges: [Series: Double] = [:]
        var counters: [Series: Double] = [:]
        var samples: [Series: [Double]] = [:]
    }

    /// Samples kept per timer between flushes; a flush every tick keeps far fewer.
    static let maximumSamples = 1_000

    private let state = Mutex(State())

    public init() {}

    /// The Datadog tag key of a metric label: `redash_service` for the Redash service (logs
    /// and events use the same key), the label itself otherwise.
    public static func tagKey(_ label: String) -> String {
        label == "service" ? "redash_service" : label
    }

    static func series(_ label: String, _ dimensions: [(String, String)]) -> Series {
        let prefix = "redash_autoscaler_"
        let name = label.hasPrefix(prefix) ? "redash_autoscaler." + label.dropFirst(prefix.count) : label
        let sorted = dimensions.map { (tagKey($0.0), $0.1) }.sorted { $0.0 < $1.0 }
        return Series(name: name, tags: sorted.isEmpty ? "" : "|#" + sorted.map { "\($0.0):\($0.1)" }.joined(separator: ","))
    }

    /// The lines to send now; counters and samples start again from zero.
    public func drain() -> [String] {
        state.withLock { state in
            var lines = state.gauges.sorted { $0.key < $1.key }.map { "\($0.key.name):\(Self.format($0.value))|g\($0.key.tags)" }
            for (series, increase) in state.counters.sorted(by: { $0.key < $1.key }) where increase > 0 {
                lines.append("\(series.name):\(Self.format(increase))|c\(series.tags)")
            }
            for (series, values) in state.samples.sorted(by: { $0.key < $1.key }) {
                lines += values.map { "\(series.name):\(Self.format($0))|h\(series.tags)" }
            }
            state.counters.removeAll(keepingCapacity: true)
            state.samples.removeAll(keepingCapacity: true)
            return lines
        }
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return String(value)
    }

    fileprivate func setGauge(_ series: Series, _ value: Double) { state.withLock { $0.gauges[series] = value } }
    fileprivate func add(_ series: Series, _ amount: Double) { state.withLock { $0.counters[series, default: 0] += amount } }
    fileprivate func sample(_ series: Series, _ value: Double) {
        state.withLock { state in
            if state.samples[series, default: []].count < Self.maximumSamples { state.samples[series, default: []].append(value) }
        }
    }
    fileprivate func adjustGauge(_ series: Series, by amount: Double) { state.withLock { $0.gauges[series, default: 0] += amount } }
    fileprivate func remove(_ series: Series) { state.withLock { $0.gauges[series] = nil } }

    /// One handler type for every kind of metric: it knows its series and what it is.
    final class Handler: CounterHandler, FloatingPointCounterHandler, RecorderHandler, MeterHandler, TimerHandler, Sendable {
        enum Kind { case counter, gauge, samples }
        let aggregator: DogStatsDAggregator
        let series: Series
        let kind: Kind

        init(_ aggregator: DogStatsDAggregator, _ series: Series, _ kind: Kind) {
            self.aggregator = aggregator
            self.series = series
            self.kind = kind
        }

        func increment(by amount: Int64) { aggregator.add(series, Double(amount)) }
        func increment(by amount: Double) { kind == .gauge ? aggregator.adjustGauge(series, by: amount) : aggregator.add(series, amount) }
        func decrement(by amount: Double) { aggregator.adjustGauge(series, by: -amount) }
        func reset() {}
        func record(_ value: Int64) { record(Double(value)) }
        func record(_ value: Double) { kind == .samples ? aggregator.sample(series, value) : aggregator.setGauge(series, value) }
        func set(_ value: Int64) { aggregator.setGauge(series, Double(value)) }
        func set(_ value: Double) { aggregator.setGauge(series, value) }
        func recordNanoseconds(_ duration: Int64) { aggregator.sample(series, Double(duration) / 1e9) }
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        Handler(self, Self.series(label, dimensions), .counter)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        Handler(self, Self.series(label, dimensions), .counter)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        Handler(self, Self.series(label, dimensions), aggregate ? .samples : .gauge)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        Handler(self, Self.series(label, dimensions), .gauge)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        Handler(self, Self.series(label, dimensions), .samples)
    }

    public func destroyCounter(_ handler: any CounterHandler) {}
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    public func destroyTimer(_ handler: any TimerHandler) {}

    public func destroyRecorder(_ handler: any RecorderHandler) {
        if let handler = handler as? Handler { remove(handler.series) }
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        if let handler = handler as? Handler { remove(handler.series) }
    }
}

/// Sends DogStatsD lines over UDP to a Datadog agent (a sidecar on 127.0.0.1:8125 in ECS), on a
/// NIO datagram channel. Fire and forget: a missing agent never slows the controller.
public final class DogStatsDSender: Sendable {
    private let channel: any Channel
    private let target: SocketAddress
    /// Tags on every metric and event: Datadog's unified service tags and `DD_TAGS`, so that an
    /// agent that does not add them (a team's own) still gets them.
    let constantTags: [String]

    private init(channel: any Channel, target: SocketAddress, constantTags: [String]) {
        self.channel = channel
        self.target = target
        self.constantTags = constantTags
    }

    /// `service:`, `env:`, `version:` from `DD_SERVICE` (default `redash-autoscaler`), `DD_ENV`
    /// and `DD_VERSION`, then each `key:value` of `DD_TAGS` (separated by spaces or commas, as
    /// Datadog's libraries read it). Tags are cleaned of the characters DogStatsD reserves.
    public static func constantTags(environment: [String: String]) -> [String] {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        var tags = ["service:\(value("DD_SERVICE") ?? "redash-autoscaler")"]
        if let env = value("DD_ENV") { tags.append("env:\(env)") }
        if let version = value("DD_VERSION") { tags.append("version:\(version)") }
        for tag in (value("DD_TAGS") ?? "").split(whereSeparator: { $0 == " " || $0 == "," }) where !tag.isEmpty {
            tags.append(String(tag))
        }
        return tags.map { $0.replacingOccurrences(of: "|", with: "_").replacingOccurrences(of: "#", with: "_") }
    }

    /// A sender to `target`, `host:port` with an IPv4 host, adding `constantTags` to every line.
    public static func make(target: String, constantTags: [String] = []) async throws -> DogStatsDSender {
        guard let colon = target.lastIndex(of: ":"), let port = UInt16(target[target.index(after: colon)...]) else {
            throw SetupFailure("DogStatsD target must be host:port, such as 127.0.0.1:8125")
        }
        let host = String(target[..<colon])
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: host == "localhost" ? "127.0.0.1" : host, port: Int(port))
        } catch {
            throw SetupFailure("DogStatsD host must be an IPv4 address: \(host)")
        }
        guard case .v4 = address else { throw SetupFailure("DogStatsD host must be an IPv4 address: \(host)") }
        do {
            let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "0.0.0.0", port: 0).get()
            return DogStatsDSender(channel: channel, target: address, constantTags: constantTags)
        } catch {
            throw SetupFailure("cannot open a UDP socket for DogStatsD: \(error)")
        }
    }

    deinit { channel.close(promise: nil) }

    /// Sends what the registry collected since the last flush, packed into datagrams of at most
    /// 1,400 bytes. Nothing is sent for a registry made without DogStatsD.
    public func flush(_ metrics: MetricsRegistry) {
        guard let aggregator = metrics.dogStatsD else { return }
        var packet = ""
        for line in aggregator.drain().map(tagged) {
            if packet.utf8.count + line.utf8.count + 1 > 1400 {
                send(packet)
                packet = ""
            }
            packet += packet.isEmpty ? line : "\n" + line
        }
        send(packet)
    }

    /// Sends a Datadog event (one datagram): an applied scaling decision on the event stream,
    /// where it can be overlaid on any dashboard.
    public func event(_ event: DogStatsDEvent) {
        send(tagged(event.datagram))
    }

    /// `line` with the constant tags after its own.
    func tagged(_ line: String) -> String {
        guard !constantTags.isEmpty else { return line }
        return line + (line.contains("|#") ? "," : "|#") + constantTags.joined(separator: ",")
    }

    private func send(_ packet: String) {
        guard !packet.isEmpty else { return }
        let envelope = AddressedEnvelope(remoteAddress: target, data: ByteBuffer(string: packet))
        channel.writeAndFlush(envelope, promise: nil)
    }
}

/// A DogStatsD event: `_e{title length,text length}:title|text|d:time|k:key|t:type|s:source|#tags`,
/// lengths in UTF-8 bytes, line breaks in the text written as `\n`.
public struct DogStatsDEvent: Sendable, Equatable {
    public var title: String
    public var text: String
    public var at: Instant
    public var aggregationKey: String?
    /// `info`, `success`, `warning` or `error`.
    public var alertType: String
    public var tags: [String]

    public init(title: String, text: String, at: Instant, aggregationKey: String? = nil, alertType: String = "info", tags: [String] = []) {
        self.title = title
        self.text = text
        self.at = at
        self.aggregationKey = aggregationKey
        self.alertType = alertType
        self.tags = tags
    }

    /// The event of an applied decision: which service, from and to, and why.
    public static func applied(_ report: ServiceReport) -> DogStatsDEvent {
        let decision = report.decision
        let from = decision.current.map(String.init) ?? "?"
        let to = decision.desired.map(String.init) ?? "?"
        return DogStatsDEvent(
            title: "redash-autoscaler scaled \(report.name) \(from) → \(to)", text: decision.reason, at: decision.at,
            aggregationKey: "redash-autoscaler-\(report.name)", alertType: "info",
            tags: ["\(DogStatsDAggregator.tagKey("service")):\(report.name)", "direction:\(decision.direction.rawValue)", "reason_code:\(decision.code.rawValue)"])
    }

    public var datagram: String {
        func clean(_ text: String) -> String { text.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "|", with: "/") }
        let title = clean(self.title), text = clean(self.text)
        var line = "_e{\(title.utf8.count),\(text.utf8.count)}:\(title)|\(text)|d:\(Int(at.secondsSinceEpoch))"
        if let aggregationKey { line += "|k:\(clean(aggregationKey))" }
        line += "|t:\(alertType)|s:redash-autoscaler"
        let tags = self.tags.map { $0.replacingOccurrences(of: ",", with: "_").replacingOccurrences(of: "|", with: "_") }
        if !tags.isEmpty { line += "|#" + tags.joined(separator: ",") }
        return line
    }
}

/// A setting that keeps the controller from starting.
public struct SetupFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
