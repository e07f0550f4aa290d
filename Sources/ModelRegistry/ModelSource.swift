/// Where a registry's models and metadata live. The local directory is the default; other sources
/// (an MLflow tracking server, object storage) implement the same interface.
public protocol ModelSource: Sendable {
    /// A human-readable location for logs (`/srv/models`, `mlflow://host`).
    var location: String { get }
    /// Names of the registered models.
    func listModels() throws(RegistryError) -> [String]
    /// The metadata of one model.
    func metadata(of model: String) throws(RegistryError) -> ModelMetadata
    /// The ONNX bytes of one version.
    func modelBytes(model: String, version: Int64) throws(RegistryError) -> [UInt8]
    /// A cheap value that changes whenever anything in the source changes (polled by the server).
    func changeToken() -> String
    /// Whether the source answers, and what serving relies on while it does not (health details, metrics).
    func health() -> ModelSourceHealth
}

extension ModelSource {
    /// A local source is always up.
    public func health() -> ModelSourceHealth {
        ModelSourceHealth(up: true, hasState: true, lastSyncUnixSeconds: nil, detail: "")
    }
}

/// How a model source is doing: reachable or not, and whether a state (synced or cached) is being served.
public struct ModelSourceHealth: Sendable, Equatable {
    /// The last read of the source succeeded.
    public var up: Bool
    /// A state is available (read from the source, or from its cache while the source is down). Without one,
    /// the server reports NOT_SERVING.
    public var hasState: Bool
    /// When the state was last read from the source (seconds since the Unix epoch); nil for local sources.
    public var lastSyncUnixSeconds: Double?
    /// One line for `/healthz` and `/readyz` (empty for local sources).
    public var detail: String

    /// A health report; sources build one after each read attempt.
    public init(up: Bool, hasState: Bool, lastSyncUnixSeconds: Double?, detail: String) {
        self.up = up
        self.hasState = hasState
        self.lastSyncUnixSeconds = lastSyncUnixSeconds
        self.detail = detail
    }
}

/// A source the CLI and the rollout controller can also write to.
public protocol WritableModelSource: ModelSource {
    /// Adds a version with the given bytes and returns its number.
    func register(
        model: String, bytes: [UInt8], source: String, stage: Stage, aliases: [String], tags: [String: String],
        metrics: [String: Double], description: String, featureNames: [String]?
    ) throws(RegistryError) -> Int64
    /// Applies `change` to a model's metadata under the registry's lock and writes it atomically.
    func updateMetadata(
        of model: String, _ change: (inout ModelMetadata) throws(RegistryError) -> Void
    ) throws(RegistryError) -> ModelMetadata
}

extension WritableModelSource {
    /// Moves `version` to `stage`. Promoting to Production archives the previous Production version unless
    /// `archiveExisting` is false (MLflow's `archive_existing_versions`).
    @discardableResult
    public func transition(
        model: String, version: Int64, to stage: Stage, archiveExisting: Bool = true
    ) throws(RegistryError) -> ModelMetadata {
        try updateMetadata(of: model) { (metadata: inout ModelMetadata) throws(RegistryError) in
            guard let index = metadata.versions.firstIndex(where: { $0.version == version }) else {
                throw RegistryError(.notFound, "model \"\(model)\" has no version \(version)")
            }
            if archiveExisting && stage == .production {
                for other in metadata.versions.indices
                where metadata.versions[other].stage == .production && metadata.versions[other].version != version {
                    metadata.versions[other].stage = .archived
                }
            }
            metadata.versions[index].stage = stage
        }
    }

    /// Points `alias` at `version` (or removes it when `version` is nil).
    @discardableResult
    public func setAlias(model: String, alias: String, version: Int64?) throws(RegistryError) -> ModelMetadata {
        try VersionSelector.validateAlias(alias)
        return try updateMetadata(of: model) { (metadata: inout ModelMetadata) throws(RegistryError) in
            if let version {
                guard metadata.version(version) != nil else {
                    throw RegistryError(.notFound, "model \"\(model)\" has no version \(version)")
                }
                metadata.aliases[alias] = version
            } else {
                guard metadata.aliases.removeValue(forKey: alias) != nil else {
                    throw RegistryError(.notFound, "model \"\(model)\" has no alias \"\(alias)\"")
                }
            }
        }
    }
}
