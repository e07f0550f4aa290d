#if canImport(Glibc)
import Glibc
#endif
public import InferenceService
public import ModelRegistry
import BackgroundThreads
import ServerMetrics
import TrafficRouting
import DurableFiles
import Monitoring
public import Auth
public import GRPCCore
import FoundationEssentials
import Synchronization
import NetCore

/// The model side of a running server, wired together: registry (with background loading), rollouts,
/// the Inference service and its metrics, and the admin listener. Built from the configuration by `serve`.
public final class InferenceStack: @unchecked Sendable {
    public let registry: ModelRegistry<ServableModel>
    public let rollouts: RolloutManager
    public let api: InferenceAPI
    public let metrics: ServiceMetrics
    public let auth: AuthService
    /// Drift monitoring: per-version setup at load, the statistics timer, the drift metrics.
    public let monitoring: MonitoringHub
    /// Where drift reports are written for `sluice models drift` (`<registry>/.monitoring/`).
    private let stateSource: LocalDirectorySource
    private var admin: AdminServer?
    private var ticker: BackgroundThread.Handle?
    private let stopping = StopFlag()

    /// Opens the registry `models` names (a directory, or `mlflow+http(s)://HOST:PORT`) and restores rollouts.
    /// Nothing is loaded until ``start(health:log:)``. `offload` moves large calls off the event loops
    /// (see docs/architecture.md). `replicaID` names this server among the replicas sharing the model source
    /// (its rollout statistics file).
    public init(
        models: String, options: ModelSourceOptions = ModelSourceOptions(), auth: AuthService,
        offload: CallOffload? = nil, replicaID: String,
        monitoring configuration: MonitoringConfiguration = MonitoringConfiguration(),
        log: @escaping @Sendable (String) -> Void
    ) throws(ConfigurationError) {
        let source: any WritableModelSource
        let stateDirectory: String
        if MLflowEndpoint.isMLflowURL(models) {
            let endpoint: MLflowEndpoint
            do {
                endpoint = try MLflowEndpoint(
                    url: models, caFile: options.mlflowCA, environment: ProcessInfo.processInfo.environment)
            } catch { throw ConfigurationError("--models '\(models)': \(error.message)") }
            if let ca = endpoint.caFile, access(ca, R_OK) != 0 {
                throw ConfigurationError("MLflow CA file '\(ca)' cannot be read (--mlflow-ca or MLFLOW_TRACKING_SERVER_CERT_PATH)")
            }
            let cache = options.cacheDir ?? ModelSourceOptions.defaultCacheDirectory(for: endpoint)
            do { try AtomicFile.makeDirectory(cache) } catch {
                throw ConfigurationError("--cache-dir '\(cache)': \(error.description)")
            }
            let maxBytes = options.cacheMaxBytes ?? (1 << 30)
            guard maxBytes > 0 else { throw ConfigurationError("--cache-max-bytes must be positive") }
            source = MLflowSource(endpoint: endpoint, cacheDirectory: cache, cacheMaxBytes: maxBytes, log: log)
            stateDirectory = cache
            log("sluice: MLflow registry \(endpoint.baseURL); cache \(cache) (at most \(maxBytes) bytes)\(endpoint.authorization == nil ? "" : "; credentials from the environment")")
        } else {
            var isDirectory = stat()
            guard stat(models, &isDirectory) == 0, (isDirectory.st_mode & S_IFMT) == S_IFDIR else {
                throw ConfigurationError("--models '\(models)' is not a directory (create it, or register a model with 'sluice models register --registry \(models) ...')")
            }
            source = LocalDirectorySource(root: models)
            stateDirectory = models
        }
        // Drift reports for `sluice models drift` go beside the registry (or the MLflow cache).
        let state = LocalDirectorySource(root: stateDirectory)
        stateSource = state
        let metrics = ServiceMetrics()
        self.metrics = metrics
        // Live windows are saved beside the drift reports and restored when a version loads again.
        let windows = WindowStore(
            read: { model, version in try state.windowState(model: model, version: version) },
            write: { model, version, bytes in try state.writeWindowState(bytes, model: model, version: version) })
        let monitoring = MonitoringHub(configuration: configuration, metrics: metrics, windows: windows)
        self.monitoring = monitoring
        registry = ModelRegistry<ServableModel>(source: source, log: log) { bytes, model, version in
            let batching = model.batching.map {
                ServableModel.Batching(
                    model: model.name, version: version.version, maxBatchSize: $0.maxBatchSize,
                    maxQueueDelayMicros: $0.maxQueueDelayMicros)
            }
            let setup = monitoring.setup(
                model: model, version: version.version,
                profile: { try (source as? any ProfileStore)?.profileBytes(model: model.name, version: version.version) },
                missingHint: (source as? any ProfileStore)?.missingProfileHint(
                    model: model.name, version: version.version),
                log: log)
            return try ServableModel.load(
                bytes: bytes, featureNames: model.featureNames, batching: batching,
                okSeries: metrics.okSeries(model: model.name, version: version.version), monitoring: setup)
        }
        let rollouts = RolloutManager(
            directory: stateDirectory, registry: RegistryRolloutBridge(registry: registry, source: source),
            replicaID: replicaID, log: log)
        self.rollouts = rollouts
        metrics.registerRolloutMetrics(rollouts)
        ProcessMetrics.register(in: metrics.registry)
        let sourceLabel = ["source": source.location]
        metrics.registry.collector(
            "sluice_model_source_up", help: "1 when the last read of the model source succeeded, else 0.", kind: .gauge
        ) { [(sourceLabel, source.health().up ? 1 : 0)] }
        metrics.registry.collector(
            "sluice_model_source_last_sync_timestamp_seconds",
            help: "When the model source was last read successfully (Unix seconds; remote sources only).", kind: .gauge
        ) {
            guard let seconds = source.health().lastSyncUnixSeconds else { return [] }
            return [(sourceLabel, seconds)]
        }
        self.auth = auth
        // With authentication off and no audit log there is nothing to check or record per call.
        let gate = auth.isInsecure && auth.audit == nil ? nil : CallGate(auth: auth)
        api = InferenceAPI(registry: registry, metrics: metrics, rollouts: rollouts, gate: gate, offload: offload)
        if let pool = offload?.pool {
            metrics.registry.collector(
                "sluice_worker_queue_length", help: "Large calls waiting for a worker thread.", kind: .gauge
            ) { [([:], Double(pool.queued))] }
            metrics.registry.collector(
                "sluice_worker_refused_total", help: "Large calls refused because the worker queue was full.",
                kind: .counter
            ) { [([:], Double(pool.refusedCount))] }
        }
        monitoring.watch(registry, metrics: metrics)
        if let audit = auth.audit {
            metrics.registry.collector(
                "sluice_audit_dropped_records_total", help: "Audit records dropped (fail-open mode).", kind: .counter
            ) { [([:], Double(audit.droppedRecords))] }
            metrics.registry.collector(
                "sluice_audit_written_records_total", help: "Audit records written.", kind: .counter
            ) { [([:], Double(audit.writtenRecords))] }
        }
        for problem in rollouts.restore() { log("rollouts: \(problem.message)") }
    }

    /// Exports the transport's admission counters (open and refused connections, calls refused at the per-thread
    /// in-flight cap) from `app`.
    public func exportTransportCounters(of app: SluiceApplication) {
        let health = app.health
        metrics.registry.collector(
            "sluice_health_watch_streams",
            help: "Open grpc.health.v1.Health/Watch streams (a cancelled or closed stream leaves at once).", kind: .gauge
        ) { [([:], Double(health.watcherCount))] }
        metrics.registry.collector(
            "sluice_connections_open", help: "Open client connections.", kind: .gauge
        ) { [([:], Double(app.transportCounters().openConnections))] }
        metrics.registry.collector(
            "sluice_connections_refused_total", help: "Connections refused at the --max-connections cap.",
            kind: .counter
        ) { [([:], Double(app.transportCounters().refusedConnections))] }
        metrics.registry.collector(
            "sluice_calls_shed_total",
            help: "Calls answered RESOURCE_EXHAUSTED at the per-thread in-flight cap (--max-inflight-per-thread).",
            kind: .counter
        ) { [([:], Double(app.transportCounters().refusedCalls))] }
    }

    /// The server's health table, for the application to serve (health checks, drain) and ServerReady to read.
    public let health = HealthStatusTable()

    /// The gRPC services on the port: `sluice.v1.Inference` and the Open Inference Protocol's
    /// `inference.GRPCInferenceService` (whose ServerReady reads ``health``).
    public var services: [any GRPCService] {
        [api, OpenInferenceService(api: api, health: health, version: VersionReport.sluice)]
    }

    /// Starts loading models and the rollout ticker; health turns SERVING once the first load completes. With
    /// `releaseCodePages`, code and read-only data that ran once are unmapped before the first load and after each
    /// load (``ReadOnlySegments``).
    public func start(
        health: HealthStatusTable, releaseCodePages: Bool = true, log: @escaping @Sendable (String) -> Void
    ) {
        health.set("", .notServing)
        health.set(api.serviceName, .notServing)
        health.set("inference.GRPCInferenceService", .notServing)
        let registry = self.registry
        // Model names known to health, so that a model removed from the registry turns NOT_SERVING.
        let knownModels = Mutex<Set<String>>([])
        registry.onChange { snapshot in
            // Per model (the model's name as the health service name): SERVING while calls that name no version
            // have a ready Production version to go to, NOT_SERVING before it has loaded or after it is removed.
            knownModels.withLock { known in
                for (name, entry) in snapshot.models {
                    health.set(name, entry.production != nil ? .serving : .notServing)
                }
                for name in known.subtracting(snapshot.models.keys) { health.set(name, .notServing) }
                known = Set(snapshot.models.keys)
            }
            // A remote source that has never answered (and has nothing cached) has nothing to serve yet.
            guard registry.initialLoadComplete, registry.source.health().hasState else { return }
            health.set("", .serving)
            health.set("sluice.v1.Inference", .serving)
            health.set("inference.GRPCInferenceService", .serving)
        }
        // Versions that restored rollouts route to must stay loaded.
        for model in registry.source.listModelsOrEmpty() {
            let status = rollouts.status(model: model)
            if status.state == .running || status.state == .paused {
                registry.pin(model: model, versions: Set(status.variants.map(\.version)))
            }
        }
        // Code and read-only data that ran once leave the resident set (docs/architecture.md, Memory): configuration,
        // TLS and key set-up before the first load adds its transient memory (so the two do not add up in the
        // high-water mark), and the ONNX decoder and plan compiler after each load. Serving maps back its own pages
        // on first use.
        let releaseCode: @Sendable (String) -> Void = { stage in
            do { try ReadOnlySegments.release() } catch { log("sluice: code pages used \(stage) stay mapped: \(error)") }
        }
        if releaseCodePages {
            releaseCode("at start")
            registry.onLoadPassFinished { releaseCode("to load models") }
        }
        registry.start()
        let source = stateSource
        monitoring.start(registry, persist: { report in
            try source.writeMonitoringState(report.encoded(), model: report.model, version: report.version)
        }, log: log)
        let rollouts = self.rollouts
        let flag = stopping
        ticker = BackgroundThread.start(name: "sluice-rollouts") {
            while !flag.isSet {
                rollouts.tick()
                var pause = timespec(tv_sec: 0, tv_nsec: 250_000_000)
                nanosleep(&pause, nil)
            }
        }
    }

    /// Serves `/metrics`, `/healthz` and `/readyz` on `host:port`; returns the bound port. With
    /// `metricsRequireCredential`, `/metrics` needs a credential allowed GetModelVersion (401/403 otherwise).
    public func startAdmin(
        listen: String, health: HealthStatusTable, metricsRequireCredential: Bool = false
    ) throws(ConfigurationError) -> UInt16 {
        let parts = listen.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = UInt16(parts[1]) else {
            throw ConfigurationError("--admin-listen '\(listen)': expected HOST:PORT, e.g. 127.0.0.1:9090")
        }
        let registry = self.registry
        let metrics = self.metrics
        let mode = auth.modeDescription
        let auth = self.auth
        var gate: (@Sendable (String?, String?) -> (Int, String)?)?
        if metricsRequireCredential {
            gate = { authorization, apiKey in
                let decision = auth.authorize(
                    rpc: .getModelVersion, model: "", authorization: authorization, apiKey: apiKey, mtlsSubject: nil,
                    peer: "admin")
                guard case .denied(let denial) = decision else { return nil }
                return (CallGate.error(for: denial).httpStatus, "/metrics: " + denial.message)
            }
        }
        let server = AdminServer(handlers: .init(
            metrics: { metrics.registry.render() },
            ready: { registry.initialLoadComplete && health.status(of: "") == .serving && registry.servesProduction },
            details: mode,
            report: {
                let source = registry.source.health().detail
                return registry.healthReport + (source.isEmpty ? [] : [source])
            }, metricsGate: gate))
        do { try server.start(host: String(parts[0]), port: port) } catch {
            throw ConfigurationError("\(error)")
        }
        admin = server
        return server.port
    }

    /// Stops background work (after the transport has drained).
    public func stop() {
        stopping.set()
        ticker?.join()
        monitoring.stop()
        admin?.stop()
        registry.stop()
        rollouts.tick()
        rollouts.flush()
        // Flushes the audit log: no record of a call that was answered is lost.
        auth.shutdown()
    }

    /// Authenticates health checks when the policy closes them (they are open by default).
    public var healthGate: @Sendable (CallContext) -> RPCError? {
        let auth = self.auth
        let metrics = self.metrics
        return { context in
            let request = AuthRequest(
                rpc: .health, model: "", authorization: context.metadata.first("authorization"),
                apiKey: context.metadata.first("x-api-key"), mtlsSubject: context.clientCertificateSubject,
                peer: context.peer)
            guard case .denied(let denial) = auth.authorize(request) else { return nil }
            metrics.countDenial(denial)
            return CallGate.error(for: denial).rpcError
        }
    }
}

/// Settings of remote model sources (MLflow); ignored for a local directory.
public struct ModelSourceOptions: Sendable {
    /// Where the MLflow source keeps its state and ONNX files.
    public var cacheDir: String?
    /// Bound of the cached ONNX files' total size (default 1 GiB).
    public var cacheMaxBytes: Int?
    /// PEM CA for `mlflow+https` (else `MLFLOW_TRACKING_SERVER_CERT_PATH`, else the system store).
    public var mlflowCA: String?

    public init(cacheDir: String? = nil, cacheMaxBytes: Int? = nil, mlflowCA: String? = nil) {
        self.cacheDir = cacheDir
        self.cacheMaxBytes = cacheMaxBytes
        self.mlflowCA = mlflowCA
    }

    /// `$XDG_CACHE_HOME/sluice/mlflow-HOST_PORT` (or under `$HOME/.cache`, else `./.sluice-cache`).
    static func defaultCacheDirectory(for endpoint: MLflowEndpoint) -> String {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CACHE_HOME"].map { $0 + "/sluice" }
            ?? environment["HOME"].map { $0 + "/.cache/sluice" } ?? ".sluice-cache"
        let name = endpoint.baseURL.split(separator: "/").dropFirst().joined(separator: "_")
            .map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" }
        return base + "/mlflow-" + String(name)
    }
}

extension ModelSource {
    func listModelsOrEmpty() -> [String] { (try? listModels()) ?? [] }
}

/// A flag set once from any thread.
final class StopFlag: @unchecked Sendable {
    private var value = false
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(lock, nil) }
    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }
    var isSet: Bool {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return value
    }
    func set() {
        pthread_mutex_lock(lock)
        value = true
        pthread_mutex_unlock(lock)
    }
}
