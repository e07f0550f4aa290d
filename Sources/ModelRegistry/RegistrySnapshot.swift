/// An immutable view of the registry at one moment: metadata plus the loaded workers.
/// The registry publishes a new snapshot atomically after every change.
public final class RegistrySnapshot<Model: AnyObject & Sendable>: Sendable {
    public let models: [String: ModelEntry<Model>]
    /// Model names as UTF-8, for allocation-free lookups from request bytes, and their entries.
    /// (`@usableFromInline` for `entry(named:)`, inlined and specialized in serving code.)
    @usableFromInline let names: [[UInt8]]
    @usableFromInline let entries: [ModelEntry<Model>]

    init(models: [String: ModelEntry<Model>]) {
        self.models = models
        let sorted = models.sorted { $0.key < $1.key }
        self.names = sorted.map { Array($0.key.utf8) }
        self.entries = sorted.map(\.value)
    }

    static var empty: RegistrySnapshot { RegistrySnapshot(models: [:]) }

    /// The entry whose name equals these UTF-8 bytes.
    @inlinable
    public func entry(named bytes: UnsafeRawBufferPointer) -> ModelEntry<Model>? {
        for (k, name) in names.enumerated() where name.count == bytes.count {
            if name.withUnsafeBytes({ $0.elementsEqual(bytes) }) { return entries[k] }
        }
        return nil
    }
}

/// One model in a snapshot.
public final class ModelEntry<Model: AnyObject & Sendable>: Sendable {
    public let name: String
    public let metadata: ModelMetadata
    /// Ready workers by version.
    public let workers: [Int64: ModelWorker<Model>]
    /// Lifecycle state of every registered version.
    public let states: [Int64: VersionState]
    /// What `""`/`production` serves: the Production version once it is ready; until then the one before it.
    public let production: ModelWorker<Model>?
    /// What `staging` serves, with the same hand-over rule.
    public let staging: ModelWorker<Model>?
    /// What each alias serves, with the same hand-over rule.
    public let aliasWorkers: [String: ModelWorker<Model>]
    /// The model's fallback version (metadata `fallback`), once it is ready.
    public let fallback: ModelWorker<Model>?
    /// The fallback when it answers routed and `production` calls in place of a Production version that failed
    /// to load (it wins over the hand-over to the version before: the operator named it); nil otherwise.
    public let productionFallback: ModelWorker<Model>?

    init(
        name: String, metadata: ModelMetadata, workers: [Int64: ModelWorker<Model>], states: [Int64: VersionState],
        production: ModelWorker<Model>?, staging: ModelWorker<Model>?, aliasWorkers: [String: ModelWorker<Model>],
        fallback: ModelWorker<Model>? = nil
    ) {
        self.fallback = fallback
        if let fallback, let target = metadata.latest(in: .production), target.version != fallback.version,
            case .failed? = states[target.version]
        {
            productionFallback = fallback
        } else {
            productionFallback = nil
        }
        self.name = name
        self.metadata = metadata
        self.workers = workers
        self.states = states
        self.production = production
        self.staging = staging
        self.aliasWorkers = aliasWorkers
    }

    /// The worker a selector names right now.
    public func resolve(_ selector: VersionSelector) throws(RegistryError) -> ModelWorker<Model> {
        switch selector {
        case .routed, .stage(.production):
            if let production { return production }
            if let target = metadata.latest(in: .production) {
                throw notServing("its Production version", target.version)
            }
            throw RegistryError(
                .failedPrecondition,
                "model \"\(name)\" has no Production version; promote one (sluice models promote \(name) VERSION --stage Production) or name a version"
            )
        case .stage(.staging):
            if let staging { return staging }
            if let target = metadata.latest(in: .staging) { throw notServing("its Staging version", target.version) }
            throw RegistryError(.notFound, "model \"\(name)\" has no Staging version")
        case .stage(let stage):
            throw RegistryError(.invalidArgument, "stage \(stage.rawValue) cannot be served; use production or staging")
        case .alias(let alias):
            if let worker = aliasWorkers[alias] { return worker }
            if let target = metadata.aliases[alias] { throw notServing("alias @\(alias)", target) }
            throw RegistryError(.notFound, "model \"\(name)\" has no alias \"@\(alias)\"")
        case .version(let number):
            if let worker = workers[number] { return worker }
            guard let version = metadata.version(number) else {
                throw RegistryError(.notFound, "model \"\(name)\" has no version \(number)")
            }
            switch states[number] ?? .notLoaded {
            case .failed(let reason):
                throw RegistryError(.failedPrecondition, "version \(number) of \"\(name)\" failed to load: \(reason)")
            case .loading:
                throw RegistryError(.unavailable, "version \(number) of \"\(name)\" is still loading; retry shortly")
            default:
                throw RegistryError(
                    .failedPrecondition,
                    "version \(number) of \"\(name)\" is not loaded (stage \(version.stage.rawValue)); move it to Staging or Production or give it an alias to serve it"
                )
            }
        }
    }

    /// Why a stage or alias that names `version` has no worker: FAILED_PRECONDITION with the load error when
    /// the version failed (retrying cannot help until its file changes), UNAVAILABLE only while it is loading.
    private func notServing(_ what: String, _ version: Int64) -> RegistryError {
        if case .failed(let reason)? = states[version] {
            return RegistryError(
                .failedPrecondition,
                "model \"\(name)\": \(what) (version \(version)) failed to load: \(reason)")
        }
        return RegistryError(.unavailable, "model \"\(name)\": \(what) (version \(version)) is still loading; retry shortly")
    }

    /// Share of routed traffic each version receives when no rollout is active.
    public func defaultTrafficShare(of version: Int64) -> Double {
        (productionFallback ?? production)?.version == version ? 1 : 0
    }
}
