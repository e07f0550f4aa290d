#if canImport(Glibc)
import Glibc
#endif
public import InferenceService
public import ModelRegistry
import BackgroundThreads
import ServerMetrics
import TrafficRouting
import Monitoring
public import Auth
public import GRPCCore

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

    /// Opens the registry in `directory` and restores rollouts. Nothing is loaded until ``start(health:log:)``.
    public init(
        directory: String, auth: AuthService, monitoring configuration: MonitoringConfiguration = MonitoringConfiguration(),
        log: @escaping @Sendable (String) -> Void
    ) throws(ConfigurationError) {
        var isDirectory = stat()
        guard stat(directory, &isDirectory) == 0, (isDirectory.st_mode & S_IFMT) == S_IFDIR else {
            throw ConfigurationError("--models '\(directory)' is not a directory (create it, or register a model with 'sluice models register --registry \(directory) ...')")
        }
        let source = LocalDirectorySource(root: directory)
        stateSource = source
        let metrics = ServiceMetrics()
        self.metrics = metrics
        let monitoring = MonitoringHub(configuration: configuration, metrics: metrics)
        self.monitoring = monitoring
        registry = ModelRegistry<ServableModel>(source: source, log: log) { bytes, model, version in
            let batching = model.batching.map {
                ServableModel.Batching(
                    model: model.name, version: version.version, maxBatchSize: $0.maxBatchSize,
                    maxQueueDelayMicros: $0.maxQueueDelayMicros)
            }
            let setup = monitoring.setup(
                model: model, version: version.version,
                profile: { try source.profileBytes(model: model.name, version: version.version) }, log: log)
            return try ServableModel.load(
                bytes: bytes, featureNames: model.featureNames, batching: batching,
                okSeries: metrics.okSeries(model: model.name, version: version.version), monitoring: setup)
        }
        rollouts = RolloutManager(directory: directory, registry: RegistryRolloutBridge(registry: registry, source: source))
        self.auth = auth
        // With authentication off and no audit log there is nothing to check or record per call.
        let gate = auth.isInsecure && auth.audit == nil ? nil : CallGate(auth: auth)
        api = InferenceAPI(registry: registry, metrics: metrics, rollouts: rollouts, gate: gate)
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

    /// Starts loading models and the rollout ticker; health turns SERVING once the first load completes.
    public func start(health: HealthStatusTable, log: @escaping @Sendable (String) -> Void) {
        health.set("", .notServing)
        health.set(api.serviceName, .notServing)
        let registry = self.registry
        registry.onChange { snapshot in
            guard registry.initialLoadComplete else { return }
            health.set("", .serving)
            health.set("sluice.v1.Inference", .serving)
        }
        // Versions that restored rollouts route to must stay loaded.
        for model in registry.source.listModelsOrEmpty() {
            let status = rollouts.status(model: model)
            if status.state == .running || status.state == .paused {
                registry.pin(model: model, versions: Set(status.variants.map(\.version)))
            }
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

    /// Serves `/metrics`, `/healthz` and `/readyz` on `host:port`; returns the bound port.
    public func startAdmin(listen: String, health: HealthStatusTable) throws(ConfigurationError) -> UInt16 {
        let parts = listen.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = UInt16(parts[1]) else {
            throw ConfigurationError("--admin-listen '\(listen)': expected HOST:PORT, e.g. 127.0.0.1:9090")
        }
        let registry = self.registry
        let metrics = self.metrics
        let mode = auth.modeDescription
        let server = AdminServer(handlers: .init(
            metrics: { metrics.registry.render() },
            ready: { registry.initialLoadComplete && health.status(of: "") == .serving },
            details: mode))
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
        // Flushes the audit log: no record of a call that was answered is lost.
        auth.shutdown()
    }

    /// Authenticates health checks when the policy closes them (they are open by default).
    public var healthGate: @Sendable (CallContext) -> RPCError? {
        let auth = self.auth
        return { context in
            let request = AuthRequest(
                rpc: .health, model: "", authorization: context.metadata.first("authorization"),
                apiKey: context.metadata.first("x-api-key"), mtlsSubject: context.clientCertificateSubject,
                peer: context.peer)
            guard case .denied(let denial) = auth.authorize(request) else { return nil }
            return CallGate.error(for: denial).rpcError
        }
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
