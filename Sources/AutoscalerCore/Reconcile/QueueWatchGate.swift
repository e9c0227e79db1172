/// The queue watch's first step (`reactInterval`): between two reconciles it reads the queue
/// lengths alone, a command or four a queue, and reads the queues whole, to ask whether the last
/// plan has room for what they hold, only when a length has changed since its last whole
/// reading. A burst always changes a length; a queue that holds the same jobs (a quiet day, or a
/// message no task can take) costs one length read a second instead of a whole probe.
///
/// What it gives up: a change that leaves every length as it was (one job taken as another
/// arrives) and a wait that only grows older (`maxWait`) wait for the next reconcile, at most
/// `interval`, as they would without the watch. Shared by the controller and the simulator.
public struct QueueWatchGate: Sendable, Equatable {
    /// The lengths at the last whole reading; nil before the first, or after lengths that could
    /// not be read alone.
    private var lastLengths: [String: Int]?

    public init() {}

    /// Whether the queues must be read whole now, given their `lengths` (nil: they cannot be
    /// read alone, so always); remembers them as the last whole reading's when so.
    public mutating func needsWholeReading(lengths: [String: Int]?) -> Bool {
        guard let lengths else {
            lastLengths = nil
            return true
        }
        guard lengths != lastLengths else { return false }
        lastLengths = lengths
        return true
    }
}
