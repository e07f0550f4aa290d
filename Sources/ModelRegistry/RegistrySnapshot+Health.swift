/// What a snapshot says about serving health: which versions failed to load and which models have nothing
/// to serve for their Production stage. Read by `/readyz`, the `sluice_model_version_failed` metric and logs.
extension RegistrySnapshot {
    /// One version that failed to load.
    public struct FailedVersion: Sendable, Equatable {
        /// The registered model name.
        public var model: String
        /// The registry version number that failed.
        public var version: Int64
        /// Its registry stage (`Production`, `Staging`, ...).
        public var stage: String
        /// Aliases pointing at it (without `@`).
        public var aliases: [String]
        /// The load error.
        public var reason: String
    }

    /// Every FAILED version, sorted by model and version.
    public var failedVersions: [FailedVersion] {
        var out: [FailedVersion] = []
        for (name, entry) in models {
            for (version, state) in entry.states {
                guard case .failed(let reason) = state else { continue }
                out.append(
                    FailedVersion(
                        model: name, version: version, stage: entry.metadata.version(version)?.stage.rawValue ?? "None",
                        aliases: entry.metadata.aliases(of: version), reason: reason))
            }
        }
        return out.sorted { ($0.model, $0.version) < ($1.model, $1.version) }
    }

    /// Models whose Production version failed to load while neither an earlier version nor the model's fallback
    /// serves in its place: routed and `production` calls to them can only fail, so the server is not ready.
    public var modelsWithFailedProduction: [String] {
        models.values.compactMap { entry in
            guard entry.production == nil, entry.productionFallback == nil, let target = entry.metadata.latest(in: .production),
                case .failed? = entry.states[target.version]
            else { return nil }
            return entry.name
        }.sorted()
    }

    /// Lines for a health or readiness body: one per failed version (model, version, stage, aliases, reason),
    /// then one per model whose fallback serves in place of its failed Production version.
    public var failureReport: [String] {
        failedVersions.map { failed in
            let aliases = failed.aliases.isEmpty ? "" : ", " + failed.aliases.map { "@" + $0 }.joined(separator: " ")
            return "failed: \(failed.model) version \(failed.version) (\(failed.stage)\(aliases)): \(failed.reason)"
        } + fallbackReport
    }

    /// `fallback: MODEL version N serves in place of failed Production version M`, one per such model.
    public var fallbackReport: [String] {
        models.values.compactMap { entry -> String? in
            guard let fallback = entry.productionFallback, let target = entry.metadata.latest(in: .production)
            else { return nil }
            return "fallback: \(entry.name) version \(fallback.version) serves in place of failed Production version \(target.version)"
        }.sorted()
    }
}
