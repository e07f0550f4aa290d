import BackgroundThreads
import DurableFiles
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A model source backed by an MLflow tracking server's model registry (REST API 2.0).
///
/// State (registered models, versions, stages, aliases, the runs' metrics) is read from MLflow on every
/// ``changeToken()`` call, which the registry thread makes every poll interval; the token is a digest of that
/// state, so an alias move (which changes no timestamp in MLflow) changes it too. ONNX files are downloaded
/// through MLflow's artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/…`) and kept in the cache directory.
///
/// MLflow being unreachable never stops serving: the last synced state stays in effect (after a restart, the
/// state in `<cache>/index.json`), reads are retried with exponential backoff (0.5 s doubling to 8 s), and
/// ``health()`` reports the outage. All HTTP happens on the caller's thread: the registry's background thread or
/// the CLI, never an event loop.
public final class MLflowSource: WritableModelSource {
    /// The tracking server and the credentials sent to it.
    public let endpoint: MLflowEndpoint
    /// Where the index and ONNX files are kept; nil keeps nothing (the CLI).
    public let cacheDirectory: String?
    /// Upper bound of the cached ONNX files' total size.
    public let cacheMaxBytes: Int
    private let client: MLflowClient
    let log: @Sendable (String) -> Void
    let state: Mutex<State>

    /// Mutable state, only touched under `state`'s lock (never held across HTTP).
    struct State {
        /// Model name → metadata as last synced; nil before the first sync (and with an empty cache).
        var models: [String: ModelMetadata]?
        /// Digest of `models` (what ``changeToken()`` reports).
        var token = "unsynced"
        /// The last sync succeeded.
        var up = false
        /// `models` came from the cache index and no sync has succeeded since.
        var fromCache = false
        /// When `models` was last read from MLflow (milliseconds since the Unix epoch; 0 = never).
        var lastSyncUnixMs: Int64 = 0
        /// Consecutive failed syncs (the backoff exponent).
        var failures = 0
        /// The monotonic time before which no sync is attempted (backoff).
        var nextAttemptNanos: UInt64 = 0
        /// Why the last sync failed (health details).
        var lastError = ""
        /// Run id → metrics (read once per run).
        var runMetrics: [String: [String: Double]] = [:]
        /// `model/version` → cached file.
        var artifacts: [String: MLflowCacheEntry] = [:]
        /// Bumped after a download failed for a transient reason, so that the registry rescans and retries.
        var retryGeneration = 0
        var retryPending = false
        /// Names already reported as unusable (logged once).
        var reportedNames: Set<String> = []
    }

    /// - Parameters:
    ///   - cacheDirectory: keeps the synced state and ONNX files; the cached state is used until MLflow answers.
    ///   - cacheMaxBytes: bound of the ONNX files' total size (default 1 GiB).
    public init(
        endpoint: MLflowEndpoint, cacheDirectory: String?, cacheMaxBytes: Int = 1 << 30,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.endpoint = endpoint
        self.cacheDirectory = cacheDirectory
        self.cacheMaxBytes = cacheMaxBytes
        self.client = MLflowClient(endpoint: endpoint)
        self.log = log
        var initial = State()
        var cached: MLflowCacheIndex? = nil
        if let cacheDirectory {
            do { cached = try MLflowCache.load(directory: cacheDirectory) } catch {
                log("mlflow: ignoring the cache index (starting with an empty cache): \(error.message)")
            }
        }
        if let index = cached, index.location == endpoint.baseURL {
            initial.models = Dictionary(index.models.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            initial.fromCache = true
            initial.lastSyncUnixMs = index.syncedUnixMs
            initial.token = Self.digest(index.models)
            for entry in index.artifacts { initial.artifacts[MLflowCache.key(entry.model, entry.version)] = entry }
            for model in index.models {
                for version in model.versions where !version.runId.isNilOrEmpty {
                    initial.runMetrics[version.runId!] = version.metrics
                }
            }
        }
        self.state = Mutex(initial)
    }

    /// `mlflow+http(s)://HOST:PORT`, as given to `--models` (logs, metric labels).
    public var location: String { "mlflow+" + endpoint.baseURL }

    // MARK: - ModelSource

    /// The registered models of the current state (synced or cached). Throws `.unavailable` when there is none yet.
    public func listModels() throws(RegistryError) -> [String] {
        try current().keys.sorted()
    }

    /// One model of the current state: READY versions, stages, aliases, run metrics, `sluice.` tag settings.
    public func metadata(of model: String) throws(RegistryError) -> ModelMetadata {
        guard let metadata = try current()[model] else {
            throw RegistryError(.notFound, "model \"\(model)\" is not registered in MLflow at \(endpoint.baseURL)")
        }
        return metadata
    }

    /// Syncs with MLflow (unless backing off) and returns a digest of the state, plus a generation that moves when
    /// a download failed transiently (so that the registry retries it). An unreachable MLflow leaves it unchanged.
    public func changeToken() -> String {
        let due = state.withLock { monotonicNanos() >= $0.nextAttemptNanos }
        if due {
            do { try sync() } catch { recordFailure(error) }
        }
        return state.withLock { "\($0.token)#\($0.retryGeneration)" }
    }

    /// Whether MLflow answered the last sync, whether a state (synced or cached) is served, and a line for the
    /// admin listener's `/healthz` and `/readyz`.
    public func health() -> ModelSourceHealth {
        state.withLock { state in
            let since = state.lastSyncUnixMs > 0 ? Double(state.lastSyncUnixMs) / 1000 : nil
            let detail: String
            if state.up {
                detail = "model source \(location): up"
            } else if state.models == nil {
                detail = "model source \(location): UNREACHABLE and no cached state (\(state.lastError)); retrying"
            } else {
                detail =
                    "model source \(location): UNREACHABLE (\(state.lastError)); serving the state cached at \(Self.iso(state.lastSyncUnixMs))"
            }
            return ModelSourceHealth(
                up: state.up, hasState: state.models != nil, lastSyncUnixSeconds: since, detail: detail)
        }
    }

    /// The ONNX bytes of a version: from the cache when its file is there, belongs to the same MLflow source and
    /// matches its SHA-256; else downloaded (and cached). A download that fails because MLflow is unreachable is
    /// `.unavailable` and retried after the next successful sync; a version without an ONNX flavor is
    /// `.failedPrecondition` with what to log instead.
    public func modelBytes(model: String, version: Int64) throws(RegistryError) -> [UInt8] {
        guard let metadata = try current()[model], let info = metadata.version(version) else {
            throw RegistryError(.notFound, "model \"\(model)\" has no version \(version) in MLflow")
        }
        let key = MLflowCache.key(model, version)
        if let cacheDirectory, let entry = state.withLock({ $0.artifacts[key] }), entry.source == info.source,
            let bytes = try? AtomicFile.read("\(cacheDirectory)/\(entry.file)"),
            SHA256Digest.hex(of: bytes) == entry.sha256
        {
            return bytes
        }
        let bytes: [UInt8]
        do { bytes = try download(model: model, version: version, source: info.source) } catch {
            if error.code == .unavailable { state.withLock { $0.retryPending = true } }
            throw error
        }
        store(bytes, model: model, version: version, source: info.source)
        return bytes
    }

    // MARK: - Sync

    /// Reads the whole registry state from MLflow and makes it current. Throws when MLflow cannot be read.
    public func sync() throws(RegistryError) {
        var registered: [MLflowRegisteredModel] = []
        var pageToken: String? = nil
        repeat {
            var query = [("max_results", "1000")]
            if let pageToken { query.append(("page_token", pageToken)) }
            let page = try client.json(
                MLflowRegisteredModelsPage.self,
                endpoint.request("GET", "/api/2.0/mlflow/registered-models/search", query: query))
            registered += page.registeredModels
            pageToken = page.nextPageToken.flatMap { $0.isEmpty ? nil : $0 }
        } while pageToken != nil

        var models: [String: ModelMetadata] = [:]
        for model in registered {
            do { try VersionSelector.validateModelName(model.name) } catch {
                reportOnce(model.name, "mlflow: skipping registered model \"\(model.name)\": \(error.message)")
                continue
            }
            var versions: [MLflowModelVersion] = []
            pageToken = nil
            repeat {
                var query = [("filter", "name='\(model.name)'"), ("max_results", "1000")]
                if let pageToken { query.append(("page_token", pageToken)) }
                let page = try client.json(
                    MLflowModelVersionsPage.self,
                    endpoint.request("GET", "/api/2.0/mlflow/model-versions/search", query: query))
                versions += page.modelVersions
                pageToken = page.nextPageToken.flatMap { $0.isEmpty ? nil : $0 }
            } while pageToken != nil
            var metrics: [String: [String: Double]] = [:]
            for runId in Set(versions.map(\.runId)) where !runId.isEmpty {
                metrics[runId] = try runMetrics(runId)
            }
            let (metadata, problems) = Self.metadata(model, versions: versions, runMetrics: metrics)
            for problem in problems {
                reportOnce("\(model.name):\(problem)", "mlflow: model \(model.name): \(problem)")
            }
            models[model.name] = metadata
        }
        commit(models)
    }

    /// Builds the registry's view of one MLflow model: READY versions with their stage, run metrics and tags;
    /// aliases; per-model serving settings from `sluice.`-prefixed registered-model tags. Also returns the
    /// problems found (unusable aliases or tags), which do not stop the rest from being served.
    static func metadata(
        _ model: MLflowRegisteredModel, versions: [MLflowModelVersion], runMetrics: [String: [String: Double]]
    ) -> (ModelMetadata, [String]) {
        var problems: [String] = []
        var metadata = ModelMetadata(name: model.name, description: model.description)
        for version in versions where version.status == "READY" {
            guard let number = Int64(version.version) else { continue }
            metadata.versions.append(
                VersionMetadata(
                    version: number, stage: Stage(parsing: version.currentStage) ?? .none,
                    description: version.description,
                    tags: Dictionary(version.tags.map { ($0.key, $0.value) }, uniquingKeysWith: { _, b in b }),
                    metrics: runMetrics[version.runId] ?? [:], source: version.source,
                    createdUnixMs: version.creationTimestamp, runId: version.runId.isEmpty ? nil : version.runId))
        }
        metadata.versions.sort { $0.version < $1.version }
        for alias in model.aliases {
            guard let number = Int64(alias.version) else { continue }
            do {
                try VersionSelector.validateAlias(alias.alias)
                metadata.aliases[alias.alias] = number
            } catch { problems.append("alias \"\(alias.alias)\" ignored: \(error.message)") }
        }
        let tags = Dictionary(model.tags.map { ($0.key, $0.value) }, uniquingKeysWith: { _, b in b })
        if let names = tags[MLflowTags.featureNames] {
            if let parsed = MLflowTags.parseList(names) {
                metadata.featureNames = parsed
            } else {
                problems.append(
                    "tag \(MLflowTags.featureNames) ignored: expected a JSON list of strings or comma-separated names")
            }
        }
        if let size = tags[MLflowTags.maxBatchSize] {
            let delay = tags[MLflowTags.maxQueueDelayMicros] ?? "500"
            if let size = Int(size), size >= 2, let delay = Int(delay), (0...1_000_000).contains(delay) {
                metadata.batching = BatchingOptions(maxBatchSize: size, maxQueueDelayMicros: delay)
            } else {
                problems.append(
                    "batching tags ignored: \(MLflowTags.maxBatchSize) must be an integer ≥ 2 and \(MLflowTags.maxQueueDelayMicros) 0…1000000"
                )
            }
        }
        if let fallback = tags[MLflowTags.fallback] {
            if let number = Int64(fallback.trimmedSpaces), number > 0 {
                metadata.fallback = number
            } else {
                problems.append("tag \(MLflowTags.fallback) ignored: expected a version number, got \"\(fallback)\"")
            }
        }
        return (metadata, problems)
    }

    /// The run's metrics (latest value per key), read once per run.
    private func runMetrics(_ runId: String) throws(RegistryError) -> [String: Double] {
        if let known = state.withLock({ $0.runMetrics[runId] }) { return known }
        var metrics: [String: Double] = [:]
        do {
            let response = try client.json(
                MLflowRunResponse.self, endpoint.request("GET", "/api/2.0/mlflow/runs/get", query: [("run_id", runId)]))
            for metric in response.run.data?.metrics ?? [] { metrics[metric.key] = metric.value ?? .nan }
        } catch  where error.code == .notFound {
            // The run was deleted: the version still serves, without metrics.
        }
        state.withLock { $0.runMetrics[runId] = metrics }
        return metrics
    }

    /// Makes `models` current (with cached SHA-256s filled in), persists the index when it changed.
    private func commit(_ synced: [String: ModelMetadata]) {
        let now = Int64((WallClock.now() * 1000).rounded())
        let (index, changed, recovered) = state.withLock { state -> (MLflowCacheIndex?, Bool, Bool) in
            var models = synced
            for (name, var metadata) in models {
                for index in metadata.versions.indices {
                    let version = metadata.versions[index]
                    if let entry = state.artifacts[MLflowCache.key(name, version.version)],
                        entry.source == version.source
                    {
                        metadata.versions[index].sha256 = entry.sha256
                    }
                }
                models[name] = metadata
            }
            let recovered = !state.up && state.failures > 0
            let changed = state.models != models || state.fromCache
            state.models = models
            state.fromCache = false
            state.up = true
            state.failures = 0
            state.nextAttemptNanos = 0
            state.lastError = ""
            state.lastSyncUnixMs = now
            if state.retryPending {
                state.retryPending = false
                state.retryGeneration += 1
            }
            let sorted = models.values.sorted { $0.name < $1.name }
            if changed { state.token = Self.digest(sorted) }
            return (
                MLflowCacheIndex(
                    location: endpoint.baseURL, syncedUnixMs: now, models: sorted,
                    artifacts: state.artifacts.values.sorted { ($0.model, $0.version) < ($1.model, $1.version) }),
                changed, recovered
            )
        }
        if recovered { log("mlflow: \(endpoint.baseURL) answers again; caught up with its registry") }
        if changed, let index { persist(index) }
    }

    /// Notes a failed sync: the state stays, the next attempt waits 0.5 s doubling to 8 s.
    private func recordFailure(_ error: RegistryError) {
        let (first, hasState, syncedMs) = state.withLock { state -> (Bool, Bool, Int64) in
            let first = state.up || state.failures == 0
            state.failures += 1
            state.up = false
            state.lastError = error.message
            let backoff = min(UInt64(500_000_000) << UInt64(min(state.failures - 1, 4)), 8_000_000_000)
            state.nextAttemptNanos = monotonicNanos() + backoff
            return (first, state.models != nil, state.lastSyncUnixMs)
        }
        guard first else { return }
        if hasState {
            log(
                "mlflow: \(error.message); serving the state synced at \(Self.iso(syncedMs)) (from the cache) and retrying with backoff"
            )
        } else {
            log(
                "mlflow: \(error.message); nothing cached yet, so nothing is served (NOT_SERVING) until MLflow answers; retrying with backoff"
            )
        }
    }

    /// The current state, or `.unavailable` when MLflow has not answered yet and nothing was cached.
    func current() throws(RegistryError) -> [String: ModelMetadata] {
        let (models, error) = state.withLock { ($0.models, $0.lastError) }
        guard let models else {
            throw RegistryError(
                .unavailable,
                "MLflow at \(endpoint.baseURL) has not answered yet and the cache is empty\(error.isEmpty ? "" : ": \(error)")"
            )
        }
        return models
    }

    /// Logs `message` the first time `key` is seen (problems found at every sync are reported once).
    private func reportOnce(_ key: String, _ message: String) {
        let first = state.withLock { $0.reportedNames.insert(key).inserted }
        if first { log(message) }
    }

    // MARK: - Artifacts

    /// Downloads the ONNX file of a version: resolves where its MLmodel directory is, reads the MLmodel file's
    /// flavors, and fetches the `onnx` flavor's data file through the artifact proxy.
    private func download(model: String, version: Int64, source: String) throws(RegistryError) -> [UInt8] {
        let root = try artifactRoot(model: model, version: version, source: source)
        if root.hasSuffix(".onnx") { return try fetchArtifact(root, large: true) }
        let mlmodel: [UInt8]
        do { mlmodel = try fetchArtifact(root + "/MLmodel", large: false) } catch  where error.code == .notFound {
            throw RegistryError(
                .failedPrecondition,
                "version \(version) of \"\(model)\" has no MLmodel file at \(source); log the model with mlflow.onnx.log_model"
            )
        }
        let file = MLmodelFile(parsing: String(decoding: mlmodel, as: UTF8.self))
        guard let data = file.onnxDataPath else {
            let flavors = file.flavors.keys.sorted().joined(separator: ", ")
            throw RegistryError(
                .failedPrecondition,
                "version \(version) of \"\(model)\" is not an ONNX model (MLmodel flavors: \(flavors.isEmpty ? "none" : flavors)); Sluice serves ONNX only: convert it (e.g. with onnxmltools) and log it with mlflow.onnx.log_model"
            )
        }
        guard !data.hasPrefix("/"), !data.split(separator: "/").contains("..") else {
            throw RegistryError(
                .failedPrecondition, "version \(version) of \"\(model)\": MLmodel names an unsafe ONNX path \(data)")
        }
        return try fetchArtifact(root + "/" + data, large: true)
    }

    /// The artifact-proxy path (relative to `/api/2.0/mlflow-artifacts/artifacts/`) of a version's files.
    func artifactRoot(model: String, version: Int64, source: String) throws(RegistryError) -> String {
        var uri = source
        // MLflow resolves `models:/…` and `runs:/…` sources (MLflow 3 logged models included) itself.
        if !source.hasPrefix("mlflow-artifacts:") {
            let response = try client.json(
                MLflowDownloadURIResponse.self,
                endpoint.request(
                    "GET", "/api/2.0/mlflow/model-versions/get-download-uri",
                    query: [("name", model), ("version", String(version))]))
            if let resolved = response.artifactUri, !resolved.isEmpty { uri = resolved }
        }
        if uri.hasPrefix("runs:/") {
            let parts = uri.dropFirst("runs:/".count).split(separator: "/", maxSplits: 1)
            guard let runId = parts.first else {
                throw RegistryError(
                    .failedPrecondition, "version \(version) of \"\(model)\" has an invalid source \(source)")
            }
            let run = try client.json(
                MLflowRunResponse.self,
                endpoint.request("GET", "/api/2.0/mlflow/runs/get", query: [("run_id", String(runId))]))
            uri = (run.run.info.artifactUri ?? "") + (parts.count > 1 ? "/" + parts[1] : "")
        } else if uri.hasPrefix("models:/m-") {
            let id = uri.dropFirst("models:/".count).prefix { $0 != "/" }
            let logged = try client.json(
                MLflowLoggedModelResponse.self,
                endpoint.request("GET", "/api/2.0/mlflow/logged-models/\(MLflowEndpoint.percentEncode(String(id)))"))
            uri = logged.model.info.artifactUri ?? ""
        }
        guard let path = Self.proxyPath(of: uri) else {
            throw RegistryError(
                .failedPrecondition,
                "version \(version) of \"\(model)\" is stored at \(uri.isEmpty ? source : uri), which MLflow's artifact proxy does not serve; run `mlflow server` with --artifacts-destination (proxied artifacts) and log the model again"
            )
        }
        return path
    }

    /// `mlflow-artifacts:/p` and `mlflow-artifacts://host:port/p` → `p`; other schemes are not reachable.
    static func proxyPath(of uri: String) -> String? {
        guard uri.hasPrefix("mlflow-artifacts:") else { return nil }
        var rest = uri.dropFirst("mlflow-artifacts:".count)
        if rest.hasPrefix("//") {
            rest = rest.dropFirst(2)
            guard let slash = rest.firstIndex(of: "/") else { return nil }
            rest = rest[slash...]
        }
        while rest.hasPrefix("/") { rest = rest.dropFirst() }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        return rest.isEmpty ? nil : String(rest)
    }

    /// GETs one file through the artifact proxy. `large` files (the ONNX model) get 300 s and 2 GiB; metadata files
    /// 10 s and 1 MiB.
    func fetchArtifact(_ path: String, large: Bool, maxBytes: Int? = nil) throws(RegistryError) -> [UInt8] {
        let request = endpoint.request(
            "GET", "/api/2.0/mlflow-artifacts/artifacts/" + MLflowEndpoint.percentEncode(path, keepSlash: true),
            timeoutMillis: large ? 300_000 : 10_000, maxResponseBytes: maxBytes ?? (large ? 2 << 30 : 1 << 20))
        return try client.send(request)
    }

    /// Keeps `bytes` in the cache (atomically) and evicts what no longer fits. A failed write is logged; the
    /// version still serves from memory.
    private func store(_ bytes: [UInt8], model: String, version: Int64, source: String) {
        guard let cacheDirectory else { return }
        let key = MLflowCache.key(model, version)
        let entry = MLflowCacheEntry(
            model: model, version: version, source: source, sha256: SHA256Digest.hex(of: bytes), bytes: bytes.count,
            file: "artifacts/\(model)/\(version).onnx", cachedUnixMs: Int64((WallClock.now() * 1000).rounded()))
        // A profile cached for what was there before (another source) must not outlive it.
        unlink(Self.profileCachePath(cacheDirectory, model: model, version: version))
        do {
            try AtomicFile.makeDirectory("\(cacheDirectory)/artifacts/\(model)")
            try AtomicFile.write(bytes, to: "\(cacheDirectory)/\(entry.file)")
        } catch {
            log("mlflow: cannot cache \(model) version \(version): \(error.description)")
            return
        }
        let (index, evicted) = state.withLock { state -> (MLflowCacheIndex, [MLflowCacheEntry]) in
            state.artifacts[key] = entry
            var selected = Set<String>()
            for metadata in (state.models ?? [:]).values {
                for version in metadata.versions where version.stage == .production || version.stage == .staging {
                    selected.insert(MLflowCache.key(metadata.name, version.version))
                }
                for version in metadata.aliases.values { selected.insert(MLflowCache.key(metadata.name, version)) }
                if let index = metadata.versions.firstIndex(where: { $0.version == version }), metadata.name == model {
                    state.models?[model]?.versions[index].sha256 = entry.sha256
                }
            }
            let evicted = MLflowCache.evictions(
                Array(state.artifacts.values), maxBytes: cacheMaxBytes, selected: selected, keep: key)
            for gone in evicted { state.artifacts[MLflowCache.key(gone.model, gone.version)] = nil }
            let models = (state.models ?? [:]).values.sorted { $0.name < $1.name }
            return (
                MLflowCacheIndex(
                    location: endpoint.baseURL, syncedUnixMs: state.lastSyncUnixMs, models: models,
                    artifacts: state.artifacts.values.sorted { ($0.model, $0.version) < ($1.model, $1.version) }),
                evicted
            )
        }
        persist(index)
        for gone in evicted {
            unlink("\(cacheDirectory)/\(gone.file)")
            unlink(Self.profileCachePath(cacheDirectory, model: gone.model, version: gone.version))
            log(
                "mlflow: cache: evicted \(gone.model) version \(gone.version) (\(gone.bytes) bytes; limit \(cacheMaxBytes))"
            )
        }
    }

    /// Writes the cache index atomically; a failure is logged (serving goes on from memory).
    private func persist(_ index: MLflowCacheIndex) {
        guard let cacheDirectory else { return }
        do { try MLflowCache.save(index, directory: cacheDirectory) } catch {
            log(
                "mlflow: cannot write the cache index in \(cacheDirectory) (a restart while MLflow is down would not find this state): \(error.message)"
            )
        }
    }

    /// SHA-256 of the models' canonical JSON (sorted keys): equal states have equal digests.
    static func digest(_ models: [ModelMetadata]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = (try? encoder.encode(models.sorted { $0.name < $1.name })).map { Array($0) } ?? []
        return SHA256Digest.hex(of: bytes)
    }

    /// `2026-12-04T08:03:17Z` (UTC), or `never` for 0.
    static func iso(_ unixMs: Int64) -> String {
        guard unixMs > 0 else { return "never" }
        var seconds = time_t(unixMs / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Registered-model tags that carry Sluice's per-model settings (the local registry keeps them in model.json).
public enum MLflowTags {
    /// Names of the numeric feature columns in order: a JSON list (`["age","income"]`) or comma-separated.
    public static let featureNames = "sluice.feature_names"
    /// Dynamic batching: rows per batch (≥ 2); batching is off without it.
    public static let maxBatchSize = "sluice.batching.max_batch_size"
    /// Dynamic batching: longest wait for a batch to fill, microseconds (default 500).
    public static let maxQueueDelayMicros = "sluice.batching.max_queue_delay_us"
    /// The fallback version (a version number); no fallback without it.
    public static let fallback = "sluice.fallback"

    /// A JSON list of strings or comma-separated names; nil when neither (or a name is empty).
    static func parseList(_ text: String) -> [String]? {
        let trimmed = text.trimmedSpaces
        if trimmed.hasPrefix("[") {
            return try? JSONDecoder().decode([String].self, from: Data(trimmed.utf8))
        }
        let names = trimmed.split(separator: ",").map { $0.trimmedSpaces }
        return names.isEmpty || names.contains(where: \.isEmpty) ? nil : names
    }
}

extension Optional where Wrapped == String {
    /// True for nil and for "".
    var isNilOrEmpty: Bool { self?.isEmpty ?? true }
}

// MARK: - Writes (the CLI and the rollout controller)

extension MLflowSource {
    /// Refused: MLflow creates versions itself (`mlflow.onnx.log_model(..., registered_model_name=...)`).
    public func register(
        model: String, bytes: [UInt8], source: String, stage: Stage, aliases: [String], tags: [String: String],
        metrics: [String: Double], description: String, featureNames: [String]?
    ) throws(RegistryError) -> Int64 {
        throw RegistryError(
            .failedPrecondition,
            "MLflow registers versions itself: log the model with mlflow.onnx.log_model(onnx_model, name=\"model\", registered_model_name=\"\(model)\")"
        )
    }

    /// Reads the model fresh from MLflow, applies `change`, and writes the difference back through MLflow's
    /// API: stage transitions (`transition-stage`), aliases (`registered-models/alias`), and feature names,
    /// batching and the fallback version as `sluice.` registered-model tags. Descriptions, tags and metrics of versions are MLflow's.
    public func updateMetadata(
        of model: String, _ change: (inout ModelMetadata) throws(RegistryError) -> Void
    ) throws(RegistryError) -> ModelMetadata {
        try sync()
        let before = try metadata(of: model)
        var after = before
        try change(&after)
        try apply(from: before, to: after)
        try sync()
        return try metadata(of: model)
    }

    private func apply(from before: ModelMetadata, to after: ModelMetadata) throws(RegistryError) {
        let name = before.name
        // Stages: a version entering Production first (archiving the others in the same call when that is what
        // changed), so that there is always a Production version to serve; then every other transition.
        var transitions: [(Int64, Stage)] = []
        for version in after.versions where before.version(version.version)?.stage != version.stage {
            transitions.append((version.version, version.stage))
        }
        var archivedTogether = Set<Int64>()
        var archiveExisting = false
        if let promoted = transitions.first(where: { $0.1 == .production })?.0,
            transitions.filter({ $0.1 == .production }).count == 1
        {
            let leaving = Set(
                before.versions.filter { $0.stage == .production && $0.version != promoted }.map(\.version))
            let archived = Set(transitions.filter { $0.1 == .archived }.map(\.0))
            if !leaving.isEmpty && leaving.isSubset(of: archived) {
                archiveExisting = true
                archivedTogether = leaving
            }
            transitions.sort { a, _ in a.0 == promoted }
        }
        for (version, stage) in transitions where !archivedTogether.contains(version) {
            _ = try client.send(
                endpoint.request(
                    "POST", "/api/2.0/mlflow/model-versions/transition-stage",
                    json: [
                        "name": .string(name), "version": .string(String(version)), "stage": .string(stage.rawValue),
                        "archive_existing_versions": .bool(stage == .production && archiveExisting),
                    ]))
        }
        for (alias, version) in after.aliases where before.aliases[alias] != version {
            _ = try client.send(
                endpoint.request(
                    "POST", "/api/2.0/mlflow/registered-models/alias",
                    json: ["name": .string(name), "alias": .string(alias), "version": .string(String(version))]))
        }
        for alias in before.aliases.keys where after.aliases[alias] == nil {
            _ = try client.send(
                endpoint.request(
                    "DELETE", "/api/2.0/mlflow/registered-models/alias",
                    json: ["name": .string(name), "alias": .string(alias)]))
        }
        var tags: [(String, String?)] = []
        if before.featureNames != after.featureNames {
            let encoded = after.featureNames.map { names in
                "[" + names.map { MLflowEndpoint.quoted($0) }.joined(separator: ",") + "]"
            }
            tags.append((MLflowTags.featureNames, encoded))
        }
        if before.batching != after.batching {
            tags.append((MLflowTags.maxBatchSize, after.batching.map { String($0.maxBatchSize) }))
            tags.append((MLflowTags.maxQueueDelayMicros, after.batching.map { String($0.maxQueueDelayMicros) }))
        }
        if before.fallback != after.fallback {
            tags.append((MLflowTags.fallback, after.fallback.map { String($0) }))
        }
        for (key, value) in tags {
            if let value {
                _ = try client.send(
                    endpoint.request(
                        "POST", "/api/2.0/mlflow/registered-models/set-tag",
                        json: ["name": .string(name), "key": .string(key), "value": .string(value)]))
            } else {
                do {
                    _ = try client.send(
                        endpoint.request(
                            "DELETE", "/api/2.0/mlflow/registered-models/delete-tag",
                            json: ["name": .string(name), "key": .string(key)]))
                } catch  where error.code == .notFound {}
            }
        }
    }
}
