import DurableFiles
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Reference profiles of MLflow versions: `profile.json` logged beside the ONNX model, in the directory that holds
/// the version's `MLmodel` file (`mlflow.MlflowClient().log_model_artifact(model_id, "profile.json")`, as
/// `examples/pyspark/train_churn.py` does). A profile read from MLflow is cached with the ONNX file
/// (`<cache>/artifacts/<model>/<version>.profile.json`), so a restart while MLflow is down monitors as before.
extension MLflowSource: ProfileStore {
    /// The artifact name looked up beside a version's MLmodel file.
    public static let profileArtifact = "profile.json"
    /// Largest profile read from MLflow (a profile of 1,000 numeric features is about 4 MiB).
    static let maxProfileBytes = 64 << 20

    /// Where a version's profile is cached.
    static func profileCachePath(_ directory: String, model: String, version: Int64) -> String {
        "\(directory)/artifacts/\(model)/\(version).profile.json"
    }

    /// The profile of a version: from the cache when it was cached with the same version source; else read from
    /// MLflow (and cached). Nil when the version has no `profile.json` artifact. Throws when MLflow cannot be
    /// read (`.unavailable`) or the version is unknown.
    public func profileBytes(model: String, version: Int64) throws(RegistryError) -> [UInt8]? {
        guard let metadata = try current()[model], let info = metadata.version(version) else {
            throw RegistryError(.notFound, "model \"\(model)\" has no version \(version) in MLflow")
        }
        let key = MLflowCache.key(model, version)
        if let cacheDirectory, let entry = state.withLock({ $0.artifacts[key] }), entry.source == info.source {
            let path = Self.profileCachePath(cacheDirectory, model: model, version: version)
            do { return try AtomicFile.read(path) } catch {
                if !error.notFound {
                    log("mlflow: cannot read the cached profile \(path) (reading it from MLflow): \(error.description)")
                }
            }
        }
        let root = try artifactRoot(model: model, version: version, source: info.source)
        // A source naming the .onnx file itself: the profile is its sibling.
        let directory = root.hasSuffix(".onnx") ? String(root[..<(root.lastIndex(of: "/") ?? root.startIndex)]) : root
        let path = directory.isEmpty ? Self.profileArtifact : directory + "/" + Self.profileArtifact
        let bytes: [UInt8]
        do { bytes = try fetchArtifact(path, large: false, maxBytes: Self.maxProfileBytes) } catch {
            if error.code == .notFound { return nil }
            throw RegistryError(
                error.code, "cannot read the profile of \(model) version \(version) from MLflow: \(error.message)")
        }
        if let cacheDirectory, state.withLock({ $0.artifacts[key]?.source == info.source }) {
            do {
                try AtomicFile.makeDirectory("\(cacheDirectory)/artifacts/\(model)")
                try AtomicFile.write(bytes, to: Self.profileCachePath(cacheDirectory, model: model, version: version))
            } catch {
                log("mlflow: cannot cache the profile of \(model) version \(version): \(error.description)")
            }
        }
        return bytes
    }

    /// Refused: the profile is an MLflow artifact of the version, logged by the training job.
    public func writeProfile(_ bytes: [UInt8], model: String, version: Int64) throws(RegistryError) {
        throw RegistryError(
            .failedPrecondition,
            "MLflow keeps a version's profile as an artifact: build it with `sluice models profile --model-file model.onnx --data FILE --output profile.json` and log it beside the model with mlflow.MlflowClient().log_model_artifact(model_id, \"profile.json\") (docs/spark.md)"
        )
    }

    public func missingProfileHint(model: String, version: Int64) -> String {
        "no reference profile: version \(version) of \"\(model)\" has no \(Self.profileArtifact) artifact beside its MLmodel file in MLflow (log one: docs/mlflow.md)"
    }
}
