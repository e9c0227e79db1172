import AutoscalerCore
import Synchronization

/// Says when a line that would repeat every tick may be logged: the first time at once, then at
/// most once per `every`, with the number held back since; and which lines stopped (a condition
/// that cleared), so that the recovery is logged too. Keys name the condition, not the tick.
final class LogThrottle: Sendable {
    struct Entry {
        var since: Instant
        var lastLogged: Instant
        var heldBack = 0
        var occurrences = 1
    }

    /// What `admit` allows.
    struct Admission: Equatable {
        /// Lines not logged since the last one.
        var heldBack: Int
        /// When the condition was first seen.
        var since: Instant
        var occurrences: Int
    }

    let every: Duration
    private let entries = Mutex<[String: Entry]>([:])

    init(every: Duration = .seconds(60)) {
        self.every = every
    }

    /// The line for `key` happened at `now`: whether to log it (and what was held back), or `nil`.
    func admit(_ key: String, now: Instant) -> Admission? {
        entries.withLock { entries in
            guard var entry = entries[key] else {
                entries[key] = Entry(since: now, lastLogged: now)
                return Admission(heldBack: 0, since: now, occurrences: 1)
            }
            entry.occurrences += 1
            defer { entries[key] = entry }
            guard now - entry.lastLogged >= every else {
                entry.heldBack += 1
                return nil
            }
            let admission = Admission(heldBack: entry.heldBack, since: entry.since, occurrences: entry.occurrences)
            entry.lastLogged = now
            entry.heldBack = 0
            return admission
        }
    }

    /// Forgets the keys with `prefix` that are not in `seen`: their conditions cleared. Returns
    /// them with when each began and how often it happened.
    func cleared(prefix: String, seen: Set<String>) -> [(key: String, since: Instant, occurrences: Int)] {
        entries.withLock { entries in
            let gone = entries.filter { $0.key.hasPrefix(prefix) && !seen.contains($0.key) }
            for key in gone.keys { entries[key] = nil }
            return gone.map { ($0.key, $0.value.since, $0.value.occurrences) }.sorted { $0.key < $1.key }
        }
    }
}
