import BackgroundThreads
import Auth
import GRPCCore
import ModelRegistry
import ServerMetrics
import SluiceProto
import TrafficRouting

extension InferenceAPI {
    /// `GetModelVersion`: one version (by selector) or, with `list` and no selector, all versions.
    func getModelVersion(_ request: UnsafeRawBufferPointer, _ context: CallContext, _ response: inout ResponseBuffer)
        -> UnaryOutcome
    {
        let started = monotonicNanos()
        var record = CallRecord(rpc: .getModelVersion, audited: gate != nil, started: started)
        var outcome: UnaryOutcome
        do {
            let message: GetModelVersionRequest
            do { message = try GetModelVersionRequest(decoding: request) } catch {
                throw admitMalformed(&record, context: context, error)
            }
            var modelName = message.model
            var selector = VersionSelector.routed
            if !message.version.isEmpty {
                let parsed = try VersionSelector.parse(message.version)
                selector = parsed.selector
                if let uriModel = parsed.model {
                    if !modelName.isEmpty && modelName != uriModel {
                        throw ServiceError.invalidArgument(
                            "model \"\(modelName)\" does not match the model in the version URI (\"\(uriModel)\")")
                    }
                    modelName = uriModel
                }
            }
            record.selector = message.version
            try admit(&record, model: modelName, context: context)
            guard !modelName.isEmpty else { throw ServiceError.invalidArgument("model is required") }
            guard let entry = registry.snapshot.models[modelName] else {
                throw ServiceError(.notFound, "model \"\(modelName)\" is not registered")
            }
            let rollouts = self.rollouts
            let versions: [Int64]
            if message.list && selector == .routed {
                versions = entry.metadata.versions.map(\.version)
            } else {
                versions = [try describedVersion(entry, selector)]
            }
            let infos = versions.map { version in
                describe(entry, version: version, share: rollouts?.trafficShare(model: modelName, version: version))
            }
            GetModelVersionResponse(versions: infos).encode(into: &response)
            metrics.record(.getModelVersion, model: modelName, version: 0, variant: "", code: 0,
                           nanos: monotonicNanos() - started)
            record.version = versions.count == 1 ? versions[0] : nil
            outcome = .ok
        } catch {
            let status = RPCError.from(error)
            metrics.record(.getModelVersion, model: "", version: 0, variant: "", code: status.code.rawValue,
                           nanos: monotonicNanos() - started)
            outcome = .failure(status)
        }
        if let gate {
            let code: StatusCode
            if case .failure(let error) = outcome { code = error.code } else { code = .ok }
            gate.audit(record, context: context, status: code, latencyNanos: monotonicNanos() - started)
        }
        return outcome
    }

    /// The version a selector names in the metadata (whether or not it is loaded).
    private func describedVersion(_ entry: ModelEntry<ServableModel>, _ selector: VersionSelector) throws -> Int64 {
        let metadata = entry.metadata
        switch selector {
        case .routed, .stage(.production):
            if let worker = entry.productionFallback ?? entry.production, selector == .routed { return worker.version }
            if let version = metadata.latest(in: .production) { return version.version }
            throw ServiceError(.notFound, "model \"\(entry.name)\" has no Production version")
        case .stage(let stage):
            if let version = metadata.latest(in: stage) { return version.version }
            throw ServiceError(.notFound, "model \"\(entry.name)\" has no \(stage.rawValue) version")
        case .alias(let alias):
            if let version = metadata.aliases[alias] { return version }
            throw ServiceError(.notFound, "model \"\(entry.name)\" has no alias \"@\(alias)\"")
        case .version(let number):
            if metadata.version(number) != nil { return number }
            throw ServiceError(.notFound, "model \"\(entry.name)\" has no version \(number)")
        }
    }

    /// Builds the `ModelVersionInfo` for one version from the registry metadata plus the loaded worker, if any. `share`
    /// is the live traffic share from an active rollout; nil falls back to the entry's default share. A failed
    /// Production version notes which fallback version serves in its place. Does not throw: a version missing from the
    /// metadata gets stage "None".
    func describe(_ entry: ModelEntry<ServableModel>, version: Int64, share: Double?) -> ModelVersionInfo {
        var info = ModelVersionInfo()
        let metadata = entry.metadata.version(version)
        info.model = entry.name
        info.version = version
        info.stage = metadata?.stage.rawValue ?? "None"
        info.aliases = entry.metadata.aliases(of: version)
        switch entry.states[version] ?? .notLoaded {
        case .notLoaded: info.state = .notLoaded
        case .loading: info.state = .loading
        case .ready: info.state = .ready
        case .failed(let reason):
            info.state = .failed
            info.stateReason = reason
            if let fallback = entry.productionFallback, entry.metadata.latest(in: .production)?.version == version {
                info.stateReason += "; fallback version \(fallback.version) serves in its place"
            }
        case .retired: info.state = .retired
        }
        let worker = entry.workers[version]
        info.signature = worker?.compiled.signature
        info.description = metadata?.description ?? ""
        info.tags = (metadata?.tags ?? [:]).sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
        info.metrics = (metadata?.metrics ?? [:]).sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
        info.sha256 = metadata?.sha256.isEmpty == false ? metadata!.sha256 : (worker?.sha256 ?? "")
        info.createdUnixMs = metadata?.createdUnixMs ?? 0
        info.source = metadata?.source ?? ""
        info.trafficShare = share ?? entry.defaultTrafficShare(of: version)
        info.runId = metadata?.runId ?? ""
        info.isFallback = entry.metadata.fallback == version
        info.monitoring = worker.flatMap { monitoringInfo($0.compiled) }
        return info
    }
}
