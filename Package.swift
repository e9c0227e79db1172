// swift-tools-version: 6.1
import PackageDescription

/// Every target compiles in Swift 6 language mode with strict concurrency, spells existential
/// types with `any` so that their cost is visible at the point of use, and uses a module's
/// members only where it imports that module.
let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "redash-autoscaler",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "redash-autoscaler", targets: ["redash-autoscaler"]),
        // For the libFuzzer executables of Fuzz/, which build this package as a dependency; not
        // an API.
        .library(name: "FuzzHarness", targets: ["FuzzHarness"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // Yams 5 keeps duplicate mapping keys in the node tree, so the policy loader can report
        // both positions of a duplicate instead of only the first one.
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // The HTTP endpoints. No traits: the controller reads its own configuration.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
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
        // The wall clock, for the adapters (the core takes time as a parameter).
        .target(
            name: "SystemClock",
            dependencies: ["AutoscalerCore"],
            swiftSettings: strictSettings
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
        // No pkgConfig: hiredis' .pc adds -D_FILE_OFFSET_BITS=64, which SwiftPM rejects, and
        // its header is on the standard include path (<hiredis/hiredis.h>).
        .systemLibrary(
            name: "CHiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // A Redis client: hiredis formats commands and parses replies; swift-nio carries the
        // bytes (TLS through NIOSSL, since Debian's hiredis has none). The only module that
        // touches hiredis pointers.
        .target(
            name: "RedisClient",
            dependencies: [
                "CHiredis", "AutoscalerCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Queue observations for Celery-era and RQ-era Redash, read through RedisClient.
        .target(
            name: "QueueProbes",
            dependencies: [
                "AutoscalerCore",
                "SystemClock",
                "RedisClient",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // AWS Signature Version 4 and credentials: pure, no I/O.
        .target(
            name: "AWSSigning",
            dependencies: ["AutoscalerCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
        // Talking to AWS over HTTPS: the credential chain (files, process, web identity, the ECS
        // container endpoint, IMDSv2), the JSON 1.1 protocol with retries and typed errors, and
        // the ECS and Application Auto Scaling calls the controller needs.
        .target(
            name: "AWSClient",
            dependencies: [
                "AWSSigning", "AutoscalerCore", "SystemClock",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // A PostgreSQL client over libpq: the only module that touches libpq pointers.
        .target(
            name: "PostgresClient",
            dependencies: [
                "CLibPQ", "AutoscalerCore", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Redash's metadata (queue routing, runtimes, scheduled queries and their forecast) and
        // the controller's own state (decision log, scaling history, leader lease) in PostgreSQL.
        .target(
            name: "RedashMetadata",
            dependencies: [
                "AutoscalerCore", "PostgresClient", "SystemClock",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // The long-running controller: the reconciler, policy reload, HTTP endpoints, metrics,
        // JSON logs, as services of a ServiceGroup.
        .target(
            name: "Controller",
            dependencies: [
                "AutoscalerCore", "PolicyFile", "SystemClock",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        // The subcommands; a library so that tests can drive them without a subprocess.
        .target(
            name: "AutoscalerCLI",
            dependencies: [
                "AutoscalerCore",
                "PolicyFile",
                "Simulator",
                "QueueProbes",
                "RedisClient",
                "AWSClient",
                "PostgresClient",
                "RedashMetadata",
                "SystemClock",
                "Controller",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
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
            dependencies: [
                "AutoscalerCore", "Simulator", "QueueProbes", "RedisClient", "AWSSigning", "AWSClient", "PostgresClient", "RedashMetadata", "Controller",
                "TestSupport", "AWSTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The fuzz targets' checks: the RESP codec, the probes' reading of replies, the policy
        // loader, AWS answers. Fuzz/ runs them under libFuzzer; FuzzCorpusTests replays the
        // committed corpus through them.
        .target(
            name: "FuzzHarness",
            dependencies: [
                "AutoscalerCore", "RedisClient", "QueueProbes", "PolicyFile", "AWSClient", "AWSSigning",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Fakes and builders shared by the test targets.
        .target(
            name: "TestSupport",
            dependencies: ["AutoscalerCore", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AutoscalerCoreTests",
            dependencies: [
                "AutoscalerCore",
                "TestSupport",
                "IntegrationSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        // Starts real servers (redis-server, PostgreSQL, moto) on 127.0.0.1 and runs the real
        // Python libraries, for the integration tests.
        .target(
            name: "IntegrationSupport",
            path: "Tests/IntegrationSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "QueueProbesTests",
            dependencies: [
                "QueueProbes", "RedisClient", "AutoscalerCore", "IntegrationSupport", "AutoscalerCLI", "PolicyFile", "FuzzHarness", "SystemClock",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Python"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AWSSigningTests",
            dependencies: ["AWSSigning", "AWSClient", "AutoscalerCore", "IntegrationSupport"],
            exclude: ["Python"],
            swiftSettings: strictSettings
        ),
        // moto and the AWS stand-ins, shared by the AWS client's and the controller's tests.
        .target(
            name: "AWSTestSupport",
            dependencies: ["AWSClient", "IntegrationSupport"],
            path: "Tests/AWSTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AWSClientTests",
            dependencies: [
                "AWSClient", "AWSSigning", "AutoscalerCore", "AutoscalerCLI", "IntegrationSupport", "SystemClock", "AWSTestSupport", "TestSupport",
                "FuzzHarness",
            ],
            exclude: ["Python"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ControllerTests",
            dependencies: [
                "Controller", "AWSClient", "AutoscalerCore", "AutoscalerCLI", "IntegrationSupport", "AWSTestSupport",
                "PostgresClient", "RedashMetadata", "TestSupport", "Simulator", "PolicyFile", "RedisClient", "QueueProbes", "SystemClock",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            exclude: ["Python"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "RedashMetadataTests",
            dependencies: [
                "RedashMetadata", "PostgresClient", "AutoscalerCore", "AutoscalerCLI", "IntegrationSupport", "QueueProbes", "RedisClient", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Python"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PostgresClientTests",
            dependencies: ["PostgresClient", "AutoscalerCore", "IntegrationSupport", "TestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SimulatorTests",
            dependencies: ["Simulator", "AutoscalerCore", "PolicyFile", "TestSupport", "IntegrationSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FuzzCorpusTests",
            dependencies: ["FuzzHarness", "IntegrationSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PolicyFileTests",
            dependencies: ["PolicyFile", "AutoscalerCore", "AutoscalerCLI", "IntegrationSupport"],
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
    ]
)
