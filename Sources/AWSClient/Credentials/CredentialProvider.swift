import AWSSigning
import AutoscalerCore
import Foundation
import SystemClock
import Logging

/// Credentials for every request: resolved once through the chain, kept, and renewed before
/// temporary ones expire. A renewal that fails while the old credentials are still valid keeps
/// the old ones and logs; only credentials past their expiry are an error. Concurrent callers
/// share one renewal.
public actor CredentialProvider {
    let chain: CredentialChain
    let now: @Sendable () -> Instant
    let logger: Logger
    /// Renew this long before expiry (the SDKs use five minutes; the ECS agent offers new
    /// credentials well before that).
    public let refreshAhead: Duration

    private var cached: (credentials: AWSCredentials, source: String)?
    private var renewal: Task<(credentials: AWSCredentials, source: String), any Error>?

    public init(
        chain: CredentialChain, refreshAhead: Duration = .seconds(300), logger: Logger = Logger(label: "aws.credentials"),
        now: @escaping @Sendable () -> Instant = WallClock.now
    ) {
        self.chain = chain
        self.refreshAhead = refreshAhead
        self.logger = logger
        self.now = now
    }

    /// The source the current credentials came from, once resolved.
    public var source: String? { cached?.source }

    public func credentials() async throws -> AWSCredentials {
        let time = now()
        if let cached, !needsRenewal(cached.credentials, at: time) { return cached.credentials }
        do {
            let fresh = try await renew()
            return fresh.credentials
        } catch {
            if let cached, let expiration = cached.credentials.expiration, expiration > time {
                logger.warning("credential renewal failed; the current ones stay valid until expiry", metadata: [
                    "source": "\(cached.source)", "expires": "\(expiration)", "error": "\(error)",
                ])
                return cached.credentials
            }
            throw error
        }
    }

    /// Forgets the cached credentials (the service said they expired), so the next call renews.
    public func invalidate() {
        cached = nil
    }

    func needsRenewal(_ credentials: AWSCredentials, at time: Instant) -> Bool {
        guard let expiration = credentials.expiration else { return false }
        return time >= expiration - refreshAhead
    }

    private func renew() async throws -> (credentials: AWSCredentials, source: String) {
        if let renewal { return try await renewal.value }
        let chain = self.chain
        let task = Task { try await chain.resolve() }
        renewal = task
        defer { renewal = nil }
        let fresh = try await task.value
        if cached?.source != fresh.source || cached == nil {
            logger.info("AWS credentials resolved", metadata: [
                "source": "\(fresh.source)", "accessKeyID": "\(fresh.credentials.accessKeyID)",
                "expires": "\(fresh.credentials.expiration.map { "\($0)" } ?? "never")",
            ])
        }
        cached = fresh
        return fresh
    }
}
