// swift-tools-version: 6.1
import PackageDescription

/// Pygmy: a replicated bookstore and the RPC framework it runs on.
///
/// Layers (arrows point down only):
///   pygmy (executable: argument parsing and printing)
///     → PygmyCluster (local clusters, chaos runner, workloads, cluster bench; builds the OpenSSL security)
///       → PygmyNodes (production shell: no OpenSSL) → PygmyReplica → PygmyBookstore; PygmyRPC → PygmyWire
///       → PygmyTLS (the only module linking OpenSSL) → PygmyRPC
///       → PygmyInvariants → PygmyBookstore
///     → PygmySimulation (simulator shell) → PygmyReplica, PygmyInvariants → PygmyBookstore
let strictSwift6: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

/// The simulation and the state machines it drives are optimised even in debug builds, so `swift test`
/// can sweep thousands of seeds in a couple of minutes.
let optimisedSwift6 = strictSwift6 + [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "Pygmy",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PygmyWire", targets: ["PygmyWire"]),
        .library(name: "PygmyRPC", targets: ["PygmyRPC"]),
        .library(name: "PygmyTLS", targets: ["PygmyTLS"]),
        .library(name: "PygmyBookstore", targets: ["PygmyBookstore"]),
        .library(name: "PygmyReplica", targets: ["PygmyReplica"]),
        .library(name: "PygmyNodes", targets: ["PygmyNodes"]),
        .library(name: "PygmySimulation", targets: ["PygmySimulation"]),
        .library(name: "PygmyInvariants", targets: ["PygmyInvariants"]),
        .library(name: "PygmyCluster", targets: ["PygmyCluster"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // Binary Codable coder, frame format and handshake. NIOCore only: no sockets.
        .target(
            name: "PygmyWire",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSwift6
        ),
        // Multiplexed RPC client and server over NIOPosix.
        .target(
            name: "PygmyRPC",
            dependencies: [
                "PygmyWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift6
        ),
        // The system OpenSSL (libssl), found through pkg-config.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // The OpenSSL channel handler and TLS configuration: the only module that links OpenSSL.
        .target(
            name: "PygmyTLS",
            dependencies: [
                "COpenSSL",
                "PygmyRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift6
        ),
        // Bookstore domain: values, messages and the pure state machines (no NIO, injected clock).
        .target(
            name: "PygmyBookstore",
            dependencies: [],
            swiftSettings: optimisedSwift6
        ),
        // The node cores: one pure state machine per role (catalog, order, frontend), inputs in and
        // effects out, run by both the production shell (PygmyNodes) and the simulator.
        .target(
            name: "PygmyReplica",
            dependencies: ["PygmyBookstore"],
            swiftSettings: optimisedSwift6
        ),
        // The store's invariants as pure functions over plain values, shared by the simulator's checker and
        // the chaos runner's.
        .target(
            name: "PygmyInvariants",
            dependencies: ["PygmyBookstore"],
            swiftSettings: optimisedSwift6
        ),
        // Deterministic simulation of the whole store: the simulator shell over the node cores.
        .target(
            name: "PygmySimulation",
            dependencies: ["PygmyBookstore", "PygmyInvariants", "PygmyReplica"],
            swiftSettings: optimisedSwift6
        ),
        // The production shell: runs the node cores over RPC and SQLite.
        .target(
            name: "PygmyNodes",
            dependencies: [
                "PygmyBookstore",
                "PygmyReplica",
                "PygmyRPC",
                "PygmyWire",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift6
        ),
        // Local clusters of `pygmy node` processes, the chaos runner and its checker, the demo's workload and
        // consistency check, and the cluster bench with its charts; also the composition root's TLS: the
        // OpenSSL transport security a node's topology asks for. Used by the command and the tests.
        .target(
            name: "PygmyCluster",
            dependencies: [
                "PygmyNodes",
                "PygmyReplica",
                "PygmyBookstore",
                "PygmyRPC",
                "PygmyTLS",
                "PygmyInvariants",
                "PygmyWire",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift6
        ),
        // The `pygmy` command: argument parsing and printing over PygmyCluster, PygmyNodes and the simulation.
        .executableTarget(
            name: "pygmy",
            dependencies: [
                "PygmyCluster",
                "PygmyNodes",
                "PygmyBookstore",
                "PygmyRPC",
                "PygmyTLS",
                "PygmySimulation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "PygmyCLITests",
            dependencies: [
                "PygmyNodes",
                "PygmyBookstore",
                "PygmyRPC",
                "PygmyWire",
                "PygmyTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "PygmyFuzzTests",
            dependencies: [
                "PygmyWire",
                "PygmyRPC",
                "PygmyBookstore",
                "PygmyNodes",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "PygmyBookstoreTests",
            dependencies: ["PygmyBookstore"],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "PygmyReplicaTests",
            dependencies: ["PygmyReplica", "PygmyBookstore"],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "PygmyInvariantsTests",
            dependencies: ["PygmyInvariants", "PygmyBookstore"],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "PygmySimulationTests",
            dependencies: ["PygmySimulation", "PygmyBookstore"],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "PygmyNodesTests",
            dependencies: [
                "PygmyNodes",
                "PygmyReplica",
                "PygmyBookstore",
                "PygmyRPC",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "PygmyWireTests",
            dependencies: [
                "PygmyWire",
                "PygmyBookstore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "PygmyRPCTests",
            dependencies: [
                "PygmyRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "PygmyTLSTests",
            dependencies: [
                "PygmyTLS",
                "PygmyRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSwift6
        ),
    ]
)
