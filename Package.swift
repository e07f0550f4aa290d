// swift-tools-version: 6.0
//
// Two halves that never import each other, joined by one service layer:
//   protocol stack:  NetCore → TLS → HTTP2 → GRPCCore → GRPCServer
//   model side:      ONNXFormat → InferenceEngine → ModelRegistry
//   service layer:   InferenceService (the only place domain errors become gRPC statuses)
//   composition:     SluiceServer (config, wiring), `sluice` (CLI)
// C libraries sit behind system-library targets (C*) and are imported only by their wrapper targets.
import Foundation
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    // Dynamic exclusivity checks cost ~8% of a Predict call (a TLS lookup per class-property access).
    // Debug builds and the test suite keep them on, so violations still show up as test failures.
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

// The engine's dense kernels (MLPs, linear models) are SIMD code; with AVX2 (x86-64 Haswell, 2013, or newer) they
// run about 1.5x faster than with the baseline SSE2 target. Release builds on x86-64 use it; SLUICE_PORTABLE=1
// builds for any x86-64. (Swift does not contract multiplies and adds into FMAs, so results are unchanged.)
#if arch(x86_64)
let engineCPU: [SwiftSetting] =
    ProcessInfo.processInfo.environment["SLUICE_PORTABLE"] == nil
    ? [.unsafeFlags(["-Xfrontend", "-target-cpu", "-Xfrontend", "haswell"], .when(configuration: .release))] : []
#else
let engineCPU: [SwiftSetting] = []
#endif

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "sluice", targets: ["sluice"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // ---- C libraries and shims -------------------------------------------------------------
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c", providers: [.apt(["libprotobuf-c-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // libcurl (apt libcurl4-openssl-dev for the header) is loaded at first use, not linked: see CCurlShims.h.
        .target(name: "CCurlShims"),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        .target(name: "CSystemShims"),
        .target(name: "COpenSSLShims", dependencies: ["COpenSSL"]),
        .target(name: "CSluiceProto", dependencies: ["CProtobufC"]),
        // Triton's grpc_service.proto / model_config.proto (Open Inference Protocol), wrapped by SluiceProto.
        .target(name: "CTritonProto", dependencies: ["CProtobufC"]),
        .target(name: "CSluiceProtoSupport", dependencies: ["CProtobufC"]),

        // ---- Protocol stack ----------------------------------------------------------------------
        .target(name: "NetCore", dependencies: ["CSystemShims"], swiftSettings: swiftSettings),
        .target(name: "TLS", dependencies: ["COpenSSL", "COpenSSLShims", "NetCore"], swiftSettings: swiftSettings),
        .target(name: "HTTP2", dependencies: ["CNGHTTP2", "NetCore"], swiftSettings: swiftSettings),
        .target(name: "GRPCCore", swiftSettings: swiftSettings),
        .target(
            name: "GRPCServer",
            dependencies: ["NetCore", "TLS", "HTTP2", "GRPCCore", "CZlib", "CSystemShims", "BackgroundThreads"],
            swiftSettings: swiftSettings
        ),
        // HTTP/1.1 listener (REST and admin ports): libmicrohttpd parses, a NetCore loop drives it.
        .target(
            name: "HTTPServer", dependencies: ["CMicroHTTPD", "NetCore", "BackgroundThreads"],
            swiftSettings: swiftSettings),
        // A small blocking client (the `sluice rollout` command): HTTP/2 by libnghttp2, TLS by OpenSSL.
        .target(
            name: "GRPCClient", dependencies: ["GRPCCore", "HTTP2", "TLS", "BackgroundThreads"],
            swiftSettings: swiftSettings),

        .executableTarget(
            name: "sluice-bench-monitoring", dependencies: ["Monitoring"], path: "bench/Sources/sluice-bench-monitoring",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "sluice-bench-engine", dependencies: ["InferenceEngine"], path: "bench/Sources/sluice-bench-engine",
            swiftSettings: swiftSettings
        ),

        // ---- Messages ----------------------------------------------------------------------------
        .target(name: "SluiceProto", dependencies: ["CSluiceProto", "CTritonProto", "CSluiceProtoSupport", "CProtobufC", "GRPCCore"], swiftSettings: swiftSettings),

        // ---- Shared: counters, histograms, Prometheus text (no I/O) ---------------------------
        .target(name: "ServerMetrics", swiftSettings: swiftSettings),
        // ---- Shared: helper threads with signals blocked, the monotonic clock ---------------------
        .target(name: "BackgroundThreads", swiftSettings: swiftSettings),
        // ---- Shared: a blocking HTTP client on libcurl, for background threads (model sources) -------
        .target(name: "HTTPClient", dependencies: ["CCurlShims"], swiftSettings: swiftSettings),
        // ---- Shared: atomic, durable file writes (registry metadata, rollout state) -------------
        .target(name: "DurableFiles", swiftSettings: swiftSettings),
        // JSON text written by hand (log lines, small request bodies, CLI rows): the one string escaper.
        .target(name: "TextFormats", swiftSettings: swiftSettings),

        // ---- Model side --------------------------------------------------------------------------
        .target(name: "ONNXFormat", dependencies: ["DurableFiles"], swiftSettings: swiftSettings),
        .target(
            name: "InferenceEngine", dependencies: ["ONNXFormat", "BackgroundThreads", "TextFormats"],
            swiftSettings: swiftSettings + engineCPU
        ),
        .target(
            name: "ModelRegistry", dependencies: ["CryptoPrimitives", "TextFormats", "DurableFiles", "BackgroundThreads", "HTTPClient"], swiftSettings: swiftSettings),
        .target(name: "TrafficRouting", dependencies: ["DurableFiles"], swiftSettings: swiftSettings),
        // ---- Model side: reference profiles, live drift windows and statistics (pure; no I/O) ----------
        .target(name: "Monitoring", dependencies: ["TextFormats"], swiftSettings: swiftSettings),

        // ---- Security (pure logic: takes header strings, returns principals and decisions) -------
        .target(
            name: "CryptoPrimitives", dependencies: ["COpenSSL"], swiftSettings: swiftSettings),
        .target(name: "Auth", dependencies: ["CryptoPrimitives", "CSystemShims", "BackgroundThreads", "TextFormats"], swiftSettings: swiftSettings),

        // ---- Service layer and composition -------------------------------------------------------
        .target(
            name: "InferenceService",
            dependencies: [
                "GRPCCore", "SluiceProto", "InferenceEngine", "ModelRegistry", "ServerMetrics", "TrafficRouting", "Auth",
                "BackgroundThreads", "Monitoring", "TextFormats",
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SluiceServer",
            dependencies: [
                "GRPCServer", "GRPCCore", "HTTPServer", "InferenceService", "ModelRegistry", "InferenceEngine", "NetCore",
                "ServerMetrics", "TrafficRouting", "Auth", "BackgroundThreads", "DurableFiles", "Monitoring",
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "sluice",
            dependencies: [
                "SluiceServer", "InferenceEngine", "ModelRegistry", "Auth", "GRPCClient", "GRPCCore", "SluiceProto",
                "TLS", "TrafficRouting", "Monitoring", "TextFormats", "DurableFiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // ---- Tests (TestSupport is linked into test targets only) -------------------------------
        .target(name: "TestSupport", path: "Sources/TestSupport", swiftSettings: swiftSettings),
        // ---- Tests -------------------------------------------------------------------------------
        .testTarget(name: "GRPCCoreTests", dependencies: ["GRPCCore"], swiftSettings: swiftSettings),
        .testTarget(name: "HTTP2Tests", dependencies: ["HTTP2", "NetCore", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "GRPCServerTests",
            dependencies: ["GRPCServer", "GRPCCore", "HTTP2", "NetCore", "TLS", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer"], swiftSettings: swiftSettings),
        .testTarget(name: "GRPCClientTests", dependencies: ["GRPCClient", "GRPCCore", "HTTP2"], swiftSettings: swiftSettings),
        .testTarget(name: "SluiceProtoTests", dependencies: ["SluiceProto", "TestSupport", "GRPCCore"], swiftSettings: swiftSettings),
        .testTarget(name: "ONNXFormatTests", dependencies: ["ONNXFormat"], swiftSettings: swiftSettings),
        .testTarget(name: "InferenceEngineTests", dependencies: ["InferenceEngine", "ONNXFormat"], swiftSettings: swiftSettings),
        .testTarget(name: "ModelRegistryTests", dependencies: ["ModelRegistry", "HTTPClient"], swiftSettings: swiftSettings),
        .testTarget(name: "HTTPClientTests", dependencies: ["HTTPClient"], swiftSettings: swiftSettings),
        .testTarget(name: "ServerMetricsTests", dependencies: ["ServerMetrics"], swiftSettings: swiftSettings),
        .testTarget(name: "MonitoringTests", dependencies: ["Monitoring"], swiftSettings: swiftSettings),
        .testTarget(name: "TrafficRoutingTests", dependencies: ["TrafficRouting"], swiftSettings: swiftSettings),
        .testTarget(name: "AuthTests", dependencies: ["Auth", "CryptoPrimitives", "TextFormats"], swiftSettings: swiftSettings),
        .testTarget(name: "TextFormatsTests", dependencies: ["TextFormats"], swiftSettings: swiftSettings),
        .testTarget(name: "CryptoPrimitivesTests", dependencies: ["CryptoPrimitives"], swiftSettings: swiftSettings),
        .testTarget(
            name: "BackgroundThreadsTests", dependencies: ["BackgroundThreads"], swiftSettings: swiftSettings),
        .testTarget(
            name: "InferenceServiceTests",
            dependencies: ["InferenceService", "GRPCCore", "SluiceProto", "ModelRegistry", "InferenceEngine", "TestSupport",
                           "BackgroundThreads", "TrafficRouting", "TextFormats"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "DurableFilesTests", dependencies: ["DurableFiles"], swiftSettings: swiftSettings),
        .testTarget(name: "TLSTests", dependencies: ["TLS"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SluiceServerTests", dependencies: ["SluiceServer", "GRPCServer"], swiftSettings: swiftSettings),
        .testTarget(name: "NetCoreTests", dependencies: ["NetCore"], swiftSettings: swiftSettings),
    ]
)

// ---- Fuzz targets (libFuzzer): declared only for `scripts/fuzz` (SLUICE_FUZZ=1), so that `swift build` and
// `swift test` never build them. See docs/fuzzing.md.
if ProcessInfo.processInfo.environment["SLUICE_FUZZ"] != nil {
    let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
        ("fuzz-grpc-deframer", ["GRPCCore"]),
        ("fuzz-http2-session", ["GRPCServer", "GRPCCore", "HTTP2", "NetCore"]),
        ("fuzz-service-requests", ["InferenceService", "SluiceProto", "GRPCCore", "ModelRegistry"]),
        ("fuzz-onnx-loader", ["InferenceEngine"]),
        ("fuzz-auth", ["Auth", "CryptoPrimitives", "TextFormats"]),
    ]
    package.targets += [
        .target(name: "CLibFuzzer", path: "fuzz/Sources/CLibFuzzer"),
        .target(name: "FuzzDriver", dependencies: ["CLibFuzzer"], path: "fuzz/Sources/FuzzDriver"),
    ]
    for target in fuzzTargets {
        package.targets.append(
            .executableTarget(
                name: target.name, dependencies: ["FuzzDriver"] + target.dependencies, path: "fuzz/Sources/\(target.name)",
                swiftSettings: swiftSettings))
    }
}
