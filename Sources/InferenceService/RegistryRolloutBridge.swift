public import ModelRegistry
public import TrafficRouting

/// Lets the rollout controller resolve selectors and change stages in the model registry.
public struct RegistryRolloutBridge: RolloutRegistry {
    /// The live registry: pinned versions stay loaded, and `refresh`/`scanNow` make stage changes visible to serving.
    let registry: ModelRegistry<ServableModel>
    /// Where metadata is read and stage transitions are written; changes reach serving only after the registry rescans.
    let source: any WritableModelSource

    public init(registry: ModelRegistry<ServableModel>, source: any WritableModelSource) {
        self.registry = registry
        self.source = source
    }

    /// Turns a selector (version number, stage, `@alias` or a version URI) into a version number using the source's
    /// current metadata, not the serving snapshot, so a version that is not loaded yet still resolves. Throws
    /// `RolloutError` `.notFound` for an unknown model or selector target and `.invalidArgument` for a malformed
    /// selector or a URI that names another model.
    public func resolve(model: String, selector: String) throws -> Int64 {
        let metadata: ModelMetadata
        do { metadata = try source.metadata(of: model) } catch {
            throw RolloutError(.notFound, error.message)
        }
        let parsed: VersionSelector.Parsed
        do { parsed = try VersionSelector.parse(selector) } catch { throw RolloutError(.invalidArgument, error.message) }
        if let other = parsed.model, other != model {
            throw RolloutError(.invalidArgument, "selector \"\(selector)\" names model \"\(other)\", not \"\(model)\"")
        }
        switch parsed.selector {
        case .routed, .stage(.production):
            if let version = metadata.latest(in: .production) { return version.version }
            throw RolloutError(.notFound, "model \"\(model)\" has no Production version")
        case .stage(let stage):
            if let version = metadata.latest(in: stage) { return version.version }
            throw RolloutError(.notFound, "model \"\(model)\" has no \(stage.rawValue) version")
        case .alias(let alias):
            if let version = metadata.aliases[alias] { return version }
            throw RolloutError(.notFound, "model \"\(model)\" has no alias \"@\(alias)\"")
        case .version(let number):
            if metadata.version(number) != nil { return number }
            throw RolloutError(.notFound, "model \"\(model)\" has no version \(number)")
        }
    }

    /// The latest Production version in the source metadata, or nil when there is none or the metadata cannot be read.
    public func productionVersion(model: String) -> Int64? {
        (try? source.metadata(of: model))?.latest(in: .production)?.version
    }

    /// Makes `candidate` the only Production version in one metadata update, archiving every other Production version
    /// and `baseline`, then triggers a rescan. Throws `RolloutError(.failedPrecondition)` if the candidate is gone or
    /// the write fails.
    public func promote(model: String, candidate: Int64, archiving baseline: Int64?) throws {
        do {
            try source.updateMetadata(of: model) { (metadata: inout ModelMetadata) throws(RegistryError) in
                guard metadata.version(candidate) != nil else {
                    throw RegistryError(.notFound, "model \"\(model)\" has no version \(candidate)")
                }
                for index in metadata.versions.indices {
                    let version = metadata.versions[index].version
                    if version == candidate {
                        metadata.versions[index].stage = .production
                    } else if metadata.versions[index].stage == .production || version == baseline {
                        metadata.versions[index].stage = .archived
                    }
                }
            }
        } catch { throw RolloutError(.failedPrecondition, error.message) }
        // Load-before-switch: the registry keeps the candidate loaded (it is pinned) so the switch is immediate.
        registry.scanNow()
    }

    /// Pins `versions` and waits (up to 5 s) until each is loaded or has failed to load.
    public func keepLoaded(model: String, versions: Set<Int64>) {
        registry.pin(model: model, versions: versions)
        guard !versions.isEmpty else { return }
        for _ in 0..<500 {
            let entry = registry.snapshot.models[model]
            let settled = versions.allSatisfy { version in
                if entry?.workers[version] != nil { return true }
                if case .failed? = entry?.states[version] { return true }
                return false
            }
            if settled { return }
            usleepMillis(10)
        }
    }

    /// Rescans now and waits (up to 5 s) until the serving snapshot's Production of `model` is `version`.
    public func awaitServingProduction(model: String, version: Int64) {
        guard registry.snapshot.models[model]?.production?.version != version else { return }
        registry.refresh()
        for _ in 0..<500 {
            if registry.snapshot.models[model]?.production?.version == version { return }
            usleepMillis(10)
        }
    }

    /// Moves one version to Archived (leaving other versions alone) and refreshes the registry; used to roll back a
    /// candidate. Throws `RolloutError(.failedPrecondition)` when the source refuses the transition.
    public func archive(model: String, version: Int64) throws {
        do { try source.transition(model: model, version: version, to: .archived, archiveExisting: false) } catch {
            throw RolloutError(.failedPrecondition, error.message)
        }
        registry.refresh()
    }
}
