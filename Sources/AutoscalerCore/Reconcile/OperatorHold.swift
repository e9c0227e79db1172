/// An operator's "hold this service at N until T": set with `redash-autoscaler hold` (kept in
/// the controller's database), it overrides the rule until it expires or is cleared. Busy-task
/// protection and the rule that a missing signal never scales in still apply.
public struct OperatorHold: Hashable, Sendable {
    public var service: String
    public var tasks: Int
    public var until: Instant
    /// Who set it and why, for the decision's reason.
    public var setBy: String
    public var reason: String
    public var setAt: Instant

    public init(service: String, tasks: Int, until: Instant, setBy: String, reason: String = "", setAt: Instant) {
        self.service = service
        self.tasks = tasks
        self.until = until
        self.setBy = setBy
        self.reason = reason
        self.setAt = setAt
    }

    public func isActive(at now: Instant) -> Bool { now < until }

    /// Characters kept of a reason: `hold` refuses longer ones, and one written to the database
    /// by other means is clipped wherever it is shown.
    public static let reasonLimit = 500

    /// The decision's reason while the hold applies.
    public var explanation: String {
        "held at \(tasks) by \(setBy.clipped(to: 200)) until \(until)" + (reason.isEmpty ? "" : ": \(reason.clipped(to: Self.reasonLimit))")
    }
}
