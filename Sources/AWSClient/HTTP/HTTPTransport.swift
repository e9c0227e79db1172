import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A response, read whole: AWS answers these calls with small bodies.
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Why a request got no HTTP response at all.
public struct TransportError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// No answer within the deadline (connect or response).
        case timeout
        /// The host name did not resolve: usually a wrong region or endpoint.
        case unknownHost
        /// Refused, reset, TLS failure and the like.
        case connection
    }

    public var kind: Kind
    /// `METHOD host/path`, never the query or headers (they can hold secrets).
    public var target: String
    public var detail: String

    package init(kind: Kind, target: String, detail: String) {
        self.kind = kind
        self.target = target
        self.detail = detail
    }

    public var description: String {
        switch kind {
        case .timeout: "\(target): no response within the deadline"
        case .unknownHost: "\(target): the host name does not resolve (check the region and any AWS_ENDPOINT_URL* setting)"
        case .connection: "\(target): \(detail)"
        }
    }
}

/// Sends one HTTP request. The production transport is AsyncHTTPClient; the type exists so the
/// credential sources and the JSON protocol share one way of sending, deadline and error mapping.
public protocol HTTPTransport: Sendable {
    func send(
        method: String, url: String, headers: [(name: String, value: String)], body: [UInt8], timeout: Duration
    ) async throws -> HTTPReply
}

/// AsyncHTTPClient on NIO's shared event loops; clients live for the life of the process.
///
/// A request's `timeout` is enforced twice. The deadline given to AsyncHTTPClient bounds the whole
/// exchange, but it is delivered through a Swift task, so on a busy cooperative pool it can arrive
/// late, after a slow answer has already been accepted. The client's read timeout (no byte for
/// that long once the request is sent) is a timer on the connection's own event loop and does not
/// wait for the pool. AsyncHTTPClient sets the read timeout per client, so there is one client
/// per distinct timeout; a program uses a handful (ECS calls, metadata probes, the health check).
public struct AsyncHTTPTransport: HTTPTransport {
    /// Larger bodies are refused: no AWS answer this program reads comes near it.
    static let maximumBody = 8 * 1024 * 1024

    /// A client chosen by the caller (its own read timeout then applies), or nil for the shared ones.
    let fixedClient: HTTPClient?

    public init() {
        fixedClient = nil
    }

    public init(client: HTTPClient) {
        fixedClient = client
    }

    private static let clients = Mutex<[Int64: HTTPClient]>([:])

    /// The shared client whose read timeout is `timeout` (rounded up to whole milliseconds).
    /// No redirects (an AWS endpoint never sends one; following it could leak a signed request),
    /// a short connect timeout so that an unreachable metadata address fails fast.
    static func client(readTimeout timeout: Duration) -> HTTPClient {
        let milliseconds = max(1, (timeout.nanoseconds + 999_999) / 1_000_000)
        return clients.withLock { clients in
            if let client = clients[milliseconds] { return client }
            var configuration = HTTPClient.Configuration()
            configuration.redirectConfiguration = .disallow
            configuration.timeout = .init(connect: .milliseconds(min(2_000, milliseconds)), read: .milliseconds(milliseconds))
            configuration.decompression = .disabled
            // A refused connection fails the request at once. AsyncHTTPClient would otherwise
            // keep retrying to connect, with its own backoff, for the whole connect timeout of
            // each attempt: a dead endpoint held one read for about 9 s (four attempts), and once
            // it returned the read waited for the pool's next try. Our retry policy retries.
            configuration.connectionPool.retryConnectionEstablishment = false
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            clients[milliseconds] = client
            return client
        }
    }

    public func send(
        method: String, url: String, headers: [(name: String, value: String)], body: [UInt8], timeout: Duration
    ) async throws -> HTTPReply {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        for header in headers { request.headers.add(name: header.name, value: header.value) }
        if !body.isEmpty || method == "POST" || method == "PUT" {
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let target = Self.describe(method: method, url: url)
        do {
            let client = fixedClient ?? Self.client(readTimeout: timeout)
            let response = try await client.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
            let buffer = try await response.body.collect(upTo: Self.maximumBody)
            return HTTPReply(
                status: Int(response.status.code),
                headers: response.headers.map { (name: $0.name, value: $0.value) },
                body: Array(buffer.readableBytesView))
        } catch let error as HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout:
                throw TransportError(kind: .timeout, target: target, detail: "\(error)")
            default:
                throw TransportError(kind: .connection, target: target, detail: "\(error)")
            }
        } catch let error as NIOConnectionError {
            let unresolved = error.dnsAAAAError != nil && error.dnsAError != nil && error.connectionErrors.isEmpty
            throw TransportError(kind: unresolved ? .unknownHost : .connection, target: target, detail: "cannot connect: \(Self.summary(error))")
        } catch let error as TransportError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            let text = "\(error)"
            if text.contains("NXDOMAIN") || text.contains("resolve") || text.contains("nodename nor servname") {
                throw TransportError(kind: .unknownHost, target: target, detail: text)
            }
            throw TransportError(kind: .connection, target: target, detail: text)
        }
    }

    /// `POST ecs.eu-west-1.amazonaws.com/`: what is shown of a request in errors.
    static func describe(method: String, url: String) -> String {
        guard let components = URLComponents(string: url) else { return method }
        let port = components.port.map { ":\($0)" } ?? ""
        return "\(method) \(components.host ?? "?")\(port)\(components.path.isEmpty ? "/" : components.path)"
    }

    static func summary(_ error: NIOConnectionError) -> String {
        if let first = error.connectionErrors.first { return "\(first.error)" }
        return "host \(error.host) did not resolve"
    }
}

extension Duration {
    /// The whole duration in nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product + attoseconds / 1_000_000_000
    }
}
