/// How much of its work the controller does for a service: `active` writes, `dry-run` decides
/// and records what it would write, `paused` reads and reports only. A service's mode, the
/// policy's controller-wide mode, the kill switch and `run --dry-run` combine: the most
/// restrictive wins.
public enum ServiceMode: String, CaseIterable, Hashable, Sendable, Comparable {
    case active
    case dryRun = "dry-run"
    case paused

    private var restraint: Int {
        switch self {
        case .active: 0
        case .dryRun: 1
        case .paused: 2
        }
    }

    public static func < (lhs: ServiceMode, rhs: ServiceMode) -> Bool { lhs.restraint < rhs.restraint }

    /// The most restrictive of `modes`; `active` when there are none.
    public static func combined(_ modes: ServiceMode?...) -> ServiceMode {
        modes.compactMap { $0 }.max() ?? .active
    }
}
