// swift-tools-version: 6.1
import PackageDescription

/// Benchmarks for Pygmy RPC, kept in their own package so the product never depends on benchmark tooling.
///
/// `swift run -c release --package-path Benchmarks pygmy-rpc-bench` measures Pygmy RPC against gRPC
/// (grpc-swift-2 over HTTP/2) and a bare SwiftNIO echo, plus the binary coder against JSON.
let package = Package(
    name: "PygmyBenchmarks",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pygmy-rpc-bench", targets: ["PygmyRPCBench"])
    ],
    dependencies: [
        .package(name: "Pygmy", path: ".."),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "PygmyRPCBench",
            dependencies: [
                .product(name: "PygmyRPC", package: "Pygmy"),
                .product(name: "PygmyTLS", package: "Pygmy"),
                .product(name: "PygmyWire", package: "Pygmy"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [
                .swiftLanguageMode(.v6),
                .enableUpcomingFeature("ExistentialAny"),
            ]
        )
    ]
)
