// swift-tools-version: 6.1
import PackageDescription

// Layers (dependencies point downward only):
//   ferryd, ferryctl → FerryProxy → FerryPolicy / FerryMesh / FerryIdentity / FerryTelemetry → FerryBPF → CLibBPF
//   FerryKubernetes → FerryMesh, FerryIdentity (the Kubernetes source and TokenReview; ferryd wires them in)
let package = Package(
    name: "Ferry",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ferryd", targets: ["ferryd"]),
        .executable(name: "ferryctl", targets: ["ferryctl"]),
        .executable(name: "ferry-bench", targets: ["ferry-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // OTLP/HTTP span export only: the gRPC exporter's dependencies would add
        // minutes to every clean build.
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
    ],
    targets: [
        // libbpf through pkg-config, plus BPF/include/ferry_abi.h: the one ABI header
        // shared by the BPF programs and Swift (imported, never copied).
        .systemLibrary(
            name: "CLibBPF",
            pkgConfig: "libbpf",
            providers: [.apt(["libbpf-dev", "libelf-dev", "zlib1g-dev"])]
        ),
        .target(
            name: "FerryBPF",
            dependencies: [
                "CLibBPF",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A small HTTP/1.1 server for control endpoints (admin, metrics, readiness, CA).
        .target(
            name: "FerryHTTP",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "FerryMesh",
            dependencies: [
                "Yams",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The Kubernetes source: list+watch of the API server into MeshState, and
        // TokenReview for the CA's token callers. HTTP lives here so FerryMesh stays
        // a pure model and FerryIdentity knows nothing of Kubernetes.
        .target(
            name: "FerryKubernetes",
            dependencies: [
                "FerryMesh", "FerryIdentity", "Yams",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "FerryIdentity",
            dependencies: [
                "FerryMesh", "FerryHTTP",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "FerryPolicy",
            dependencies: ["FerryMesh"]
        ),
        .target(
            name: "FerryTelemetry",
            dependencies: [
                "FerryBPF",
                "FerryMesh",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "FerryProxy",
            dependencies: [
                "FerryBPF", "FerryMesh", "FerryIdentity", "FerryPolicy", "FerryTelemetry", "FerryHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "ferryd",
            dependencies: [
                "FerryProxy", "FerryKubernetes",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "ferryctl",
            dependencies: [
                "FerryBPF", "FerryMesh", "FerryIdentity", "FerryPolicy", "FerryTelemetry", "FerryProxy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                "Yams",
            ]
        ),
        // Decision-cost benchmarks: `swift build -c release --product ferry-bench && .build/release/ferry-bench policy`.
        .executableTarget(
            name: "ferry-bench",
            dependencies: ["FerryPolicy", "FerryMesh"]
        ),
        .testTarget(name: "FerryMeshTests", dependencies: ["FerryMesh"]),
        .testTarget(
            name: "FerryHTTPTests",
            dependencies: [
                "FerryHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "FerryBPFTests", dependencies: ["FerryBPF"]),
        .testTarget(
            name: "FerryKubernetesTests",
            dependencies: [
                "FerryKubernetes", "FerryMesh", "FerryIdentity",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["Tools"]
        ),
        .testTarget(name: "FerryPolicyTests", dependencies: ["FerryPolicy", "FerryMesh"]),
        .testTarget(
            name: "FerryProxyTests",
            dependencies: [
                "FerryProxy", "FerryMesh", "FerryTelemetry", "FerryHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(
            name: "FerryIdentityTests",
            dependencies: [
                "FerryIdentity", "FerryMesh", "FerryHTTP",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["FerryBPF", "FerryMesh", "FerryProxy", "FerryTelemetry"],
            exclude: ["Tools"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
