// swift-tools-version:6.1
import PackageDescription

// Release executables link the Swift runtime, standard library and Foundation statically on Linux
// (as `--static-swift-stdlib` does): runtime calls (retain, release, metadata, task-locals) are then
// direct calls and thread-locals initial-exec, not PLT jumps and `__tls_get_addr`. Measured: lean
// Decide 36.5–37.7 µs of server CPU per decision instead of 41.9–44.0 (BENCHMARKS.md). Our modules
// are compiled for it too, so that their imports name the static libraries' own dependencies.
let staticRuntime: [SwiftSetting] = [
  .unsafeFlags(["-static-stdlib"], .when(platforms: [.linux], configuration: .release))
]
let staticRuntimeLink: [LinkerSetting] = [
  .unsafeFlags(["-static-stdlib"], .when(platforms: [.linux], configuration: .release))
]

let strict: [SwiftSetting] =
  [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
  ] + staticRuntime

// Training and data generation are numeric loops that take minutes unoptimised; they are built
// optimised in debug builds too, so the test that regenerates the demo bundle stays fast.
let optimised: [SwiftSetting] = [.unsafeFlags(["-O"])]

// The decision path's modules drop the run-time exclusivity checks in release builds (the
// compile-time ones stay): they showed as 5% of a decision's CPU in profiles.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
  name: "Arbiter",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "arbiter", targets: ["ArbiterServerMain"]),
    .executable(name: "arbiter-tools", targets: ["ArbiterTools"]),
  ],
  dependencies: [
    .package(url: "https://github.com/grpc/grpc-swift-2", exact: "2.4.3"),
    .package(url: "https://github.com/grpc/grpc-swift-nio-transport", exact: "2.9.2"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
    .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
    .package(url: "https://github.com/apple/swift-atomics", exact: "1.3.0"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
    .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
    .package(url: "https://github.com/apple/swift-nio-http2", exact: "1.46.0"),
    .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
    .package(url: "https://github.com/apple/swift-certificates", exact: "1.21.1"),
    .package(url: "https://github.com/apple/swift-distributed-tracing", exact: "1.7.3"),
    .package(url: "https://github.com/swift-otel/swift-otel", exact: "1.6.0", traits: ["OTLPGRPC"]),
    .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", exact: "0.2.0"),
    .package(url: "https://github.com/apple/swift-crypto", exact: "4.5.2"),
    .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1", traits: []),
    .package(url: "https://github.com/vapor/jwt-kit", exact: "5.8.0"),
    .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
  ],
  targets: [
    // Pure domain: feature schema, customer vectors, offers catalogue, errors, checksums.
    .target(
      name: "ArbiterCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")],
      swiftSettings: strict + hotPath),
    // The customer feature store: in-memory vectors, lock-free reads, log and snapshots.
    .target(
      name: "ArbiterFeatureStore",
      dependencies: ["ArbiterCore", .product(name: "Atomics", package: "swift-atomics")],
      swiftSettings: strict + optimised + hotPath
    ),
    // Propensity models, their bundle format, and the offline trainer.
    .target(name: "ArbiterModels", dependencies: ["ArbiterCore"], swiftSettings: strict + optimised + hotPath),
    // The workbench's learners over warehouse exports: table reading with kind inference, the
    // histogram gradient-boosted tree trainer, metrics (pure domain, no wire).
    .target(
      name: "ArbiterLearning", dependencies: ["ArbiterCore", "ArbiterModels"],
      swiftSettings: strict + optimised + hotPath),
    // Eligibility, scoring, arbitration, reasons, the interaction log, and learning from it.
    .target(
      name: "ArbiterDecisioning",
      dependencies: [
        "ArbiterCore", "ArbiterModels", "ArbiterFeatureStore", "ArbiterLearning",
        .product(name: "Atomics", package: "swift-atomics"),
      ],
      swiftSettings: strict + hotPath
    ),
    // The synthetic demo bank: population (and seeding a store with it), catalogue, hidden ground
    // truth, offer history.
    .target(
      name: "ArbiterDemoBank", dependencies: ["ArbiterCore", "ArbiterModels", "ArbiterFeatureStore"],
      swiftSettings: strict + optimised),
    // Generated protobuf messages and gRPC stubs (committed; see tools/generate-protos.sh).
    .target(
      name: "ArbiterAPI",
      dependencies: [
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: [.swiftLanguageMode(.v6)] + staticRuntime
    ),
    // Who may call: roles, API keys and signed tokens (jwt-kit), checked before any work.
    .target(
      name: "ArbiterAccess",
      dependencies: [
        "ArbiterCore", .product(name: "JWTKit", package: "jwt-kit"), .product(name: "Crypto", package: "swift-crypto"),
      ],
      swiftSettings: strict
    ),
    // The gRPC services: protobuf <-> domain, domain errors <-> gRPC status.
    .target(
      name: "ArbiterService",
      dependencies: [
        "ArbiterCore", "ArbiterModels", "ArbiterDecisioning", "ArbiterAPI", "ArbiterFeatureStore", "ArbiterAccess",
        "ArbiterObservability",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        .product(name: "NIOHPACK", package: "swift-nio-http2"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
      ],
      swiftSettings: strict + hotPath
    ),
    // The lean protocol (docs/lean-protocol.md): frame codecs, the channel handler, the method
    // table over the gRPC services, and the service that binds its port.
    // Metrics: requests by door, method and status, on swift-metrics with a Prometheus registry.
    .target(
      name: "ArbiterObservability",
      dependencies: [
        .product(name: "CoreMetrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
      ],
      swiftSettings: strict
    ),
    .target(
      name: "ArbiterLean",
      dependencies: [
        "ArbiterCore", "ArbiterDecisioning", "ArbiterAPI", "ArbiterService", "ArbiterAccess", "ArbiterObservability",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
      ],
      swiftSettings: strict + hotPath
    ),
    // The contact centre: call distribution to agents' consoles (pure domain, no wire).
    .target(
      name: "ArbiterContactCentre", dependencies: ["ArbiterCore"], swiftSettings: strict),
    // The HTTP/JSON door (docs/http-api.md) on Hummingbird: canonical-JSON mapping of the gRPC
    // services' messages, errors as JSON, CORS and request ids, the contact centre's and the
    // dashboard's routes, and the pages (demo site, snippet, console, dashboard) as resources.
    .target(
      name: "ArbiterHTTP",
      dependencies: [
        "ArbiterCore", "ArbiterDecisioning", "ArbiterAPI", "ArbiterService", "ArbiterContactCentre", "ArbiterAccess",
        "ArbiterObservability",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdTLS", package: "hummingbird"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Atomics", package: "swift-atomics"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
      ],
      resources: [.copy("Web")],
      swiftSettings: strict
    ),
    // Server assembly: configuration, the opened parts put together, gRPC and lean listeners and
    // the background services (snapshots, log flushes, bundle watch, pacing checkpoints).
    .target(
      name: "ArbiterServer",
      dependencies: [
        "ArbiterCore", "ArbiterModels", "ArbiterDecisioning", "ArbiterFeatureStore", "ArbiterAPI", "ArbiterService",
        "ArbiterLean", "ArbiterHTTP", "ArbiterContactCentre", "ArbiterAccess", "ArbiterObservability",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "OTel", package: "swift-otel"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Yams", package: "Yams"),
      ],
      swiftSettings: strict + hotPath
    ),
    .executableTarget(
      name: "ArbiterServerMain",
      dependencies: [
        "ArbiterServer", "ArbiterDemoBank", "ArbiterFeatureStore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict,
      linkerSettings: staticRuntimeLink
    ),
    .executableTarget(
      name: "ArbiterTools",
      dependencies: [
        "ArbiterCore", "ArbiterModels", "ArbiterDemoBank", "ArbiterAPI", "ArbiterService", "ArbiterFeatureStore",
        "ArbiterLean", "ArbiterServer", "ArbiterAccess", "ArbiterLearning",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "Histogram", package: "hdrhistogram-swift"),
      ],
      swiftSettings: strict,
      linkerSettings: staticRuntimeLink
    ),
    .testTarget(
      name: "ArbiterTests",
      dependencies: [
        "ArbiterCore", "ArbiterModels", "ArbiterDecisioning", "ArbiterDemoBank", "ArbiterAPI",
        "ArbiterService", "ArbiterFeatureStore", "ArbiterLean", "ArbiterServer", "ArbiterHTTP", "ArbiterContactCentre",
        "ArbiterAccess", "ArbiterObservability", "ArbiterLearning",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "JWTKit", package: "jwt-kit"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "NIOTestUtils", package: "swift-nio"),
      ],
      // Model fixtures, read by path.
      exclude: ["Fixtures"],
      swiftSettings: strict
    ),
  ]
)
