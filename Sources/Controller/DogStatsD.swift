import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension MetricsRegistry {
    /// The registry as DogStatsD lines: gauges as `|g`, counters as `|c` with the increase since
    /// the previous call (`last` keeps the counters sent, by series), labels as tags. The
    /// reconcile-duration histogram is not sent.
    public func dogStatsDLines(previousCounters last: inout [String: Double]) -> [String] {
        let (gauges, counters) = snapshot()
        var lines = gauges.map { "\(Self.statsdName($0.0.name)):\(Self.format($0.1))|g\(Self.tags($0.0))" }
        for (key, value) in counters {
            let series = key.prometheus
            let increase = value - (last[series] ?? 0)
            last[series] = value
            if increase > 0 { lines.append("\(Self.statsdName(key.name)):\(Self.format(increase))|c\(Self.tags(key))") }
        }
        return lines
    }

    /// `redash_autoscaler_queue_pending_jobs` → `redash_autoscaler.queue_pending_jobs`.
    static func statsdName(_ name: String) -> String {
        name.hasPrefix("redash_autoscaler_") ? "redash_autoscaler." + name.dropFirst("redash_autoscaler_".count) : name
    }

    /// `|#queue:queries,service:x`, or nothing without labels.
    static func tags(_ key: Key) -> String {
        key.labels.isEmpty ? "" : "|#" + key.labels.map { "\($0.name):\($0.value)" }.joined(separator: ",")
    }
}

/// Sends DogStatsD lines over UDP to a Datadog agent (a sidecar on 127.0.0.1:8125 in ECS).
/// Fire and forget: a missing agent never slows the controller.
public final class DogStatsDSender: @unchecked Sendable {
    // The socket and address are set in init and only read; `previous` is touched by `flush`,
    // which the one reconcile loop calls.
    private let socketFD: Int32
    private var address = sockaddr_in()
    private var previous: [String: Double] = [:]

    /// `target` is `host:port` with an IPv4 host.
    public init(target: String) throws {
        guard let colon = target.lastIndex(of: ":"), let port = UInt16(target[target.index(after: colon)...]) else {
            throw SetupFailure("DogStatsD target must be host:port, such as 127.0.0.1:8125")
        }
        let host = String(target[..<colon])
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
            throw SetupFailure("DogStatsD host must be an IPv4 address: \(host)")
        }
        socketFD = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard socketFD >= 0 else { throw SetupFailure("cannot open a UDP socket for DogStatsD") }
        _ = fcntl(socketFD, F_SETFL, O_NONBLOCK)
    }

    deinit { close(socketFD) }

    /// Sends the registry's current values, packed into datagrams of at most 1,400 bytes.
    public func flush(_ metrics: MetricsRegistry) {
        var packet = ""
        func send() {
            guard !packet.isEmpty else { return }
            var target = address
            _ = packet.withCString { pointer in
                withUnsafePointer(to: &target) { raw in
                    raw.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(socketFD, pointer, strlen(pointer), 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            packet = ""
        }
        for line in metrics.dogStatsDLines(previousCounters: &previous) {
            if packet.utf8.count + line.utf8.count + 1 > 1400 { send() }
            packet += packet.isEmpty ? line : "\n" + line
        }
        send()
    }
}

/// A setting that keeps the controller from starting.
public struct SetupFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
