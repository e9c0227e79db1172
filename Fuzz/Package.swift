// swift-tools-version: 6.1
import Foundation
import PackageDescription

// The libFuzzer executables, one per fuzz target of the main package's FuzzHarness. A package of
// its own, so that the main package's builds never see -sanitize=fuzzer: scripts/fuzz.sh builds
// it with `swift build --package-path Fuzz --scratch-path .build-fuzz --sanitize=fuzzer`.

/// The targets' names: executable `fuzz-<name>`, sources `Targets/<name>/`, corpus `Corpus/<name>/`.
let fuzzTargets = ["resp-decoding", "probe-replies", "policy-text", "aws-answers"]

// A path dependency's identity is its directory's name, which is the checkout's (a worktree, a
// CI workspace), not "redash-autoscaler".
let mainPackage = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "redash-autoscaler-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: fuzzTargets.map { name in
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: [.product(name: "FuzzHarness", package: mainPackage)],
            path: "Targets/\(name)",
            swiftSettings: [.swiftLanguageMode(.v6), .enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        )
    }
)
