import InferenceService
import ModelRegistry

extension ModelRegistry where Model == ServableModel {
    /// False when some model's Production version failed to load and nothing earlier serves in its place:
    /// routed calls to that model can only fail, so a load balancer should not send traffic here.
    var servesProduction: Bool { snapshot.modelsWithFailedProduction.isEmpty }

    /// The `/healthz` and `/readyz` lines about models: each failed version with its load error, and each model
    /// left without a serving Production version.
    var healthReport: [String] {
        let snapshot = self.snapshot
        return snapshot.failureReport
            + snapshot.modelsWithFailedProduction.map {
                "not ready: model \($0) has no serving Production version (its Production version failed to load)"
            }
    }
}
