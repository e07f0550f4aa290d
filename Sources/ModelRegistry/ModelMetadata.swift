/// Durable metadata of one registered model: `<registry>/<model>/model.json`.
public struct ModelMetadata: Codable, Sendable, Equatable {
    /// The model name; the same as its directory under the registry root.
    public var name: String
    /// Free-text description; "" when absent from `model.json`.
    public var description: String
    /// alias → version.
    public var aliases: [String: Int64]
    /// Every registered version, in file order (not necessarily sorted by number).
    public var versions: [VersionMetadata]
    /// Names for the model's numeric feature columns, in dense order (optional; e.g. for a single `X` input).
    public var featureNames: [String]?
    /// Opt-in dynamic batching of concurrent Predict calls.
    public var batching: BatchingOptions?
    /// Drift-monitoring settings (window, PSI bands); nil takes the server's defaults.
    public var monitoring: MonitoringOptions?
    /// The version that answers routed and Production calls when the chosen version fails at run time (for a
    /// reason that is not the client's) or the Production version failed to load; kept loaded. Nil: none.
    public var fallback: Int64?

    /// Metadata built in code. Monitoring settings and the fallback version start nil and are set afterwards.
    public init(
        name: String, description: String = "", aliases: [String: Int64] = [:], versions: [VersionMetadata] = [],
        featureNames: [String]? = nil, batching: BatchingOptions? = nil
    ) {
        self.name = name
        self.description = description
        self.aliases = aliases
        self.versions = versions
        self.featureNames = featureNames
        self.batching = batching
    }

    /// The version numbered `number`, or nil; a linear scan of `versions`.
    public func version(_ number: Int64) -> VersionMetadata? { versions.first { $0.version == number } }

    /// The newest version in `stage`, if any.
    public func latest(in stage: Stage) -> VersionMetadata? {
        versions.filter { $0.stage == stage }.max { $0.version < $1.version }
    }

    /// Aliases pointing at `version`, sorted.
    public func aliases(of version: Int64) -> [String] { aliases.filter { $0.value == version }.map(\.key).sorted() }

    enum CodingKeys: String, CodingKey {
        case name, description, aliases, versions
        case featureNames = "feature_names"
        case batching
        case monitoring
        case fallback
    }

    /// Decodes `model.json`. Only `name` is required; older files without the newer keys still load.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        description = try container.decodeIfPresent(String.self, forKey: .description) ?? ""
        aliases = try container.decodeIfPresent([String: Int64].self, forKey: .aliases) ?? [:]
        versions = try container.decodeIfPresent([VersionMetadata].self, forKey: .versions) ?? []
        featureNames = try container.decodeIfPresent([String].self, forKey: .featureNames)
        batching = try container.decodeIfPresent(BatchingOptions.self, forKey: .batching)
        monitoring = try container.decodeIfPresent(MonitoringOptions.self, forKey: .monitoring)
        fallback = try container.decodeIfPresent(Int64.self, forKey: .fallback)
    }
}

/// Durable metadata of one version.
public struct VersionMetadata: Codable, Sendable, Equatable {
    /// The version number: positive and unique within the model.
    public var version: Int64
    /// The registry stage; `.none` when absent.
    public var stage: Stage
    /// Free-text description; "" when absent.
    public var description: String
    /// Free-form key/value tags from the registry.
    public var tags: [String: String]
    /// Training metrics (e.g. `auc`).
    public var metrics: [String: Double]
    /// Where the model came from: a file path or a run URI.
    public var source: String
    /// SHA-256 of `model.onnx`, hex.
    public var sha256: String
    /// When the version was registered, in milliseconds since the Unix epoch (0 when unknown).
    public var createdUnixMs: Int64
    /// The MLflow run that produced the version (MLflow sources; absent in local registries).
    public var runId: String?

    /// Version metadata built in code; every field but the number has an empty default.
    public init(
        version: Int64, stage: Stage = .none, description: String = "", tags: [String: String] = [:],
        metrics: [String: Double] = [:], source: String = "", sha256: String = "", createdUnixMs: Int64 = 0,
        runId: String? = nil
    ) {
        self.version = version
        self.stage = stage
        self.description = description
        self.tags = tags
        self.metrics = metrics
        self.source = source
        self.sha256 = sha256
        self.createdUnixMs = createdUnixMs
        self.runId = runId
    }

    enum CodingKeys: String, CodingKey {
        case version, stage, description, tags, metrics, source, sha256
        case createdUnixMs = "created_unix_ms"
        case runId = "run_id"
    }

    /// Decodes one entry of `versions`; only `version` is required.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(Int64.self, forKey: .version)
        stage = try container.decodeIfPresent(Stage.self, forKey: .stage) ?? .none
        description = try container.decodeIfPresent(String.self, forKey: .description) ?? ""
        tags = try container.decodeIfPresent([String: String].self, forKey: .tags) ?? [:]
        metrics = try container.decodeIfPresent([String: Double].self, forKey: .metrics) ?? [:]
        source = try container.decodeIfPresent(String.self, forKey: .source) ?? ""
        sha256 = try container.decodeIfPresent(String.self, forKey: .sha256) ?? ""
        createdUnixMs = try container.decodeIfPresent(Int64.self, forKey: .createdUnixMs) ?? 0
        runId = try container.decodeIfPresent(String.self, forKey: .runId)
    }
}

/// Dynamic batching settings for a model.
public struct BatchingOptions: Codable, Sendable, Equatable {
    /// The most rows one batched model run may combine (JSON `max_batch_size`).
    public var maxBatchSize: Int
    /// How long, in microseconds, a call may wait for others to join its batch (JSON `max_queue_delay_us`).
    public var maxQueueDelayMicros: Int

    public init(maxBatchSize: Int, maxQueueDelayMicros: Int) {
        self.maxBatchSize = maxBatchSize
        self.maxQueueDelayMicros = maxQueueDelayMicros
    }

    enum CodingKeys: String, CodingKey {
        case maxBatchSize = "max_batch_size"
        case maxQueueDelayMicros = "max_queue_delay_us"
    }
}
