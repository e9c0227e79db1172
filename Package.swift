// swift-tools-version: 6.1
import PackageDescription

/// Every target compiles in Swift 6 language mode with strict concurrency, and spells
/// existential types with `any` so that their cost is visible at the point of use.
let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "redash-autoscaler",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "redash-autoscaler", targets: ["redash-autoscaler"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // Yams 5 keeps duplicate mapping keys in the node tree, so the policy loader can report
        // both positions of a duplicate instead of only the first one.
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // The pure scaling brain: observations, policy model, decision function, stabilizer.
        // Imports nothing but the standard library.
        .target(
            name: "AutoscalerCore",
            swiftSettings: strictSettings,
            // Double.rounded lowers to libm calls; importing Glibc just to link it would break
            // the rule that the core imports nothing.
            linkerSettings: [.linkedLibrary("m", .when(platforms: [.linux]))]
        ),
        // Reads policies.yaml: parse, interpolate, validate, then an immutable `Policy`.
        .target(
            name: "PolicyFile",
            dependencies: [
                "AutoscalerCore",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSettings
        ),
        // A deterministic discrete-event simulation of Redash on ECS, driving the production rule.
        .target(
            name: "Simulator",
            dependencies: ["AutoscalerCore"],
            swiftSettings: strictSettings
        ),
        // C libraries, wrapped only by the Redis and PostgreSQL client modules.
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // The subcommands; a library so that tests can drive them without a subprocess.
        .target(
            name: "AutoscalerCLI",
            dependencies: [
                "AutoscalerCore",
                "PolicyFile",
                "Simulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "redash-autoscaler",
            dependencies: [
                "AutoscalerCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        // Prints speed and memory figures; run in release mode (see docs/benchmarks.md).
        .executableTarget(
            name: "autoscaler-benchmarks",
            dependencies: ["AutoscalerCore", "Simulator"],
            swiftSettings: strictSettings
        ),
        // Fakes and builders shared by the test targets.
        .target(
            name: "TestSupport",
            dependencies: ["AutoscalerCore"],
            path: "Tests/TestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AutoscalerCoreTests",
            dependencies: [
                "AutoscalerCore",
                "TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SimulatorTests",
            dependencies: ["Simulator", "AutoscalerCore", "PolicyFile", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PolicyFileTests",
            dependencies: ["PolicyFile", "AutoscalerCore", "AutoscalerCLI"],
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
    ]
)
