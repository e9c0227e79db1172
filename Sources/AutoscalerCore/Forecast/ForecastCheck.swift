/// What the forecast expects Redash's next refresh to find due, to compare with the
/// `outdated_queries_count` Redash then records.
public struct RefreshPrediction: Hashable, Sendable {
    /// When the refresh is expected.
    public var at: Instant
    /// Scheduled queries it should find due (deduplicated as Redash does; those whose job still
    /// waits behind its lock included, since Redash counts them too).
    public var dueQueries: Int
    /// Jobs it should enqueue: the due queries less those held back by their lock, as the
    /// forecast sees them (waiting, or blocked by a job that will not run).
    public var enqueues: Int

    public init(at: Instant, dueQueries: Int, enqueues: Int? = nil) {
        self.at = at
        self.dueQueries = dueQueries
        self.enqueues = enqueues ?? dueQueries
    }
}

/// Checks the forecast against Redash itself: every refresh Redash records (`redash:status`:
/// when, and `outdated_queries_count`) is compared with what the forecast said for that refresh,
/// in jobs enqueued: Redash's due count less the due queries whose lock Redash itself held just
/// before the refresh. A forecast that projects runs for lock-blocked queries disagrees with it,
/// where a comparison of due counts would not (Redash counts a blocked query as due every time).
public struct ForecastCheck: Hashable, Sendable {
    /// One refresh compared.
    public struct Comparison: Hashable, Sendable {
        public var refreshAt: Instant
        public var predicted: Int
        public var observed: Int

        /// Observed minus predicted.
        public var error: Int { observed - predicted }
    }

    /// Predictions for refreshes not seen yet, latest per refresh.
    public private(set) var predictions: [RefreshPrediction] = []
    /// The last comparisons, oldest first.
    public private(set) var recent: [Comparison] = []
    /// Every comparison since start.
    public private(set) var compared = 0
    /// Sum of absolute errors since start.
    public private(set) var absoluteErrors = 0
    private var lastRefreshSeen: Instant?

    /// How far a recorded refresh may be from the predicted one and still be the same refresh.
    public static let matchWindow: Duration = .seconds(12)
    /// Comparisons kept for `/status`.
    public static let kept = 20

    public init() {}

    /// Remembers what the forecast expects of an upcoming refresh (a later prediction for the
    /// same refresh replaces an earlier one: it knows more).
    public mutating func predict(_ prediction: RefreshPrediction) {
        predictions.removeAll { abs(($0.at - prediction.at).inSeconds) <= Self.matchWindow.inSeconds }
        predictions.append(prediction)
        // Predictions for refreshes long past that never showed (a dead scheduler) are dropped.
        predictions.removeAll { prediction.at - $0.at > .seconds(120) }
    }

    /// Takes a refresh Redash recorded; returns the comparison when one was predicted.
    /// `heldBefore`: due queries whose lock Redash held just before the refresh (read at the tick
    /// before); they were counted due but not enqueued.
    public mutating func observe(refreshAt: Instant, outdatedQueries: Int, heldBefore: Int = 0) -> Comparison? {
        guard lastRefreshSeen.map({ refreshAt > $0 }) ?? true else { return nil }
        lastRefreshSeen = refreshAt
        guard let index = predictions.firstIndex(where: { abs(($0.at - refreshAt).inSeconds) <= Self.matchWindow.inSeconds }) else {
            return nil
        }
        let prediction = predictions.remove(at: index)
        predictions.removeAll { $0.at < refreshAt }
        let comparison = Comparison(refreshAt: refreshAt, predicted: prediction.enqueues, observed: max(0, outdatedQueries - heldBefore))
        recent.append(comparison)
        if recent.count > Self.kept { recent.removeFirst(recent.count - Self.kept) }
        compared += 1
        absoluteErrors += abs(comparison.error)
        return comparison
    }

    /// Mean absolute error over every comparison, queries per refresh.
    public var meanAbsoluteError: Double? {
        compared == 0 ? nil : Double(absoluteErrors) / Double(compared)
    }
}
