/// The version `redash-autoscaler --version` prints: the release this source tree is, and the git
/// revision it was built from.
enum BuildVersion {
    /// The release this tree is (CHANGELOG.md). scripts/release.sh refuses to run when the two
    /// disagree.
    static let version = "0.1.0"

    /// The git revision, written here by scripts/release.sh for the build it makes and restored
    /// after it; a plain `swift build` has none.
    static let revision: String? = nil

    /// `0.1.0 (3f2c9a1d4e5b)`, or `0.1.0 (unknown revision)` for a plain `swift build`.
    static var description: String { "\(version) (\(revision ?? "unknown revision"))" }
}
