import GRPCCore

/// Placeholder for `sluice.v1.Inference` until the engine and registry are wired in: each of the four RPCs
/// answers UNIMPLEMENTED saying so. `sluice serve --models` replaces it by passing the real service to
/// ``SluiceApplication`` (a service named `sluice.v1.Inference` in `services` disables this one).
public struct InferenceUnavailableService: GRPCService {
    public let serviceName = "sluice.v1.Inference"

    public init() {}

    public var methods: [UnaryMethod] {
        ["Predict", "BatchPredict", "GetModelVersion", "Rollout"].map { name in
            UnaryMethod(name) { _, _, _ in
                .failure(
                    RPCError(
                        .unimplemented,
                        "sluice.v1.Inference/\(name) is not available yet: the inference engine is not wired into "
                            + "this build"))
            }
        }
    }
}
