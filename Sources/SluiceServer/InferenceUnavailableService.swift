import GRPCCore

/// `sluice.v1.Inference` for a server started without a model source (`sluice serve` without `--models`).
///
/// Every RPC answers FAILED_PRECONDITION: the server is up, but it was not given a registry, so no request can
/// succeed until an operator restarts it with one. (Not UNAVAILABLE, which tells clients to retry; not
/// UNIMPLEMENTED, which would claim the build lacks the feature.) A service named `sluice.v1.Inference` passed to
/// ``SluiceApplication`` replaces this one.
public struct InferenceUnavailableService: GRPCService {
    public let serviceName = "sluice.v1.Inference"

    /// What the RPCs, the startup log and the admin health bodies say.
    public static let reason = "no model registry configured: start with --models DIR"

    public init() {}

    public var methods: [UnaryMethod] {
        ["Predict", "BatchPredict", "GetModelVersion", "Rollout"].map { name in
            UnaryMethod(name) { _, _, _ in
                .failure(RPCError(.failedPrecondition, "sluice.v1.Inference/\(name): \(Self.reason)"))
            }
        }
    }
}
