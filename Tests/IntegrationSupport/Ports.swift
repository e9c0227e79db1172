import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Loopback ports for test servers.
public enum Ports {
    /// A TCP port on 127.0.0.1 that nothing is bound to right now, never the same twice in a
    /// run, and outside the kernel's ephemeral range.
    ///
    /// Why not the kernel's choice (bind to port 0): it comes from the range every outgoing
    /// connection takes its local port from. In the parallel pass thousands of connections
    /// are opened (200 hung libpq connects, HTTP floods, every Redis client), and one of them
    /// could take the port between this call and the test server's bind: the server failed to
    /// start, and the test talked to whatever else answered there.
    public static func free() throws -> Int {
        for _ in 0..<candidates.count {
            let port = next.withLock { next in
                defer { next = (next + 1) % candidates.count }
                return candidates.lowerBound + next
            }
            if canBind(port) { return port }
        }
        throw HarnessError("no free port in \(candidates)")
    }

    /// Below the ephemeral range (32768–60999 by default), or above it when it starts low.
    static let candidates: Range<Int> = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? "32768 60999"
        let bounds = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
        let low = bounds.first ?? 32768, high = bounds.last ?? 60999
        return low >= 15_000 ? 10_000..<low : (high + 1)..<65_536
    }()

    /// Where the next search starts: a random offset, so that runs after one another (whose
    /// servers may linger in TIME_WAIT) start elsewhere.
    private static let next = Mutex(Int.random(in: 0..<candidates.count))

    private static func canBind(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// True when something accepts TCP connections on 127.0.0.1:`port`.
    public static func isOpen(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}

/// A TCP listener on 127.0.0.1 that never accepts: the kernel completes each handshake into its
/// backlog, so a client connects and then waits for an answer that never comes. In the test's
/// own process, on a port the kernel gives it at bind, so nothing has to start or be waited for.
public final class SilentListener: Sendable {
    public let port: Int
    private let descriptor: Int32

    public init(backlog: Int32 = 1024) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        } && listen(descriptor, backlog) == 0
        guard listening else {
            close(descriptor)
            throw HarnessError("cannot listen on 127.0.0.1")
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}
