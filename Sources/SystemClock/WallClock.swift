import AutoscalerCore
import Foundation

/// The system's wall clock, as an `Instant`. The core takes time as a parameter; the adapters
/// that talk to the world read it here, and tests pass their own.
public enum WallClock {
    @Sendable public static func now() -> Instant {
        Instant(secondsSinceEpoch: Date().timeIntervalSince1970)
    }
}
