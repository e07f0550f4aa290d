import ModelRegistry
import ServerMetrics

extension ServiceMetrics {
    /// `sluice_model_version_failed{model,version}`: 1 for each version that failed to load (its reason is in
    /// `/readyz`, GetModelVersion and the log). Absent for versions that are fine, so
    /// `count(sluice_model_version_failed) > 0` is an alert rule.
    func watchFailedVersions(_ modelRegistry: ModelRegistry<ServableModel>) {
        registry.collector(
            "sluice_model_version_failed", help: "1 for each model version that failed to load.", kind: .gauge
        ) {
            modelRegistry.snapshot.failedVersions.map { (["model": $0.model, "version": String($0.version)], 1) }
        }
    }
}
