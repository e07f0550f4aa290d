#if canImport(Glibc)
import Glibc
#endif
import BackgroundThreads
public import ModelRegistry
public import Monitoring
public import ServerMetrics
import Synchronization

/// Server-wide monitoring: the defaults and switches of `sluice serve --monitor-*`.
public struct MonitoringConfiguration: Sendable {
    /// False turns monitoring off everywhere (no recording, no timer).
    public var enabled = true
    /// Window limits and PSI bands for models whose `model.json` does not set them.
    public var defaults = MonitorSettings()
    /// How often the statistics are recomputed, in seconds.
    public var intervalSeconds = 10.0
    /// Most features per model exported as `sluice_feature_psi` series (the rest stay in GetModelVersion).
    public var maxMetricFeatures = 50
    /// BatchPredict records every n-th row of a batch.
    public var batchStride = 64
    /// Seconds between snapshots of the live windows (0: only when the server stops).
    public var snapshotSeconds = 60.0

    public init() {}
}

/// Where the live windows are saved between runs (`<registry or cache>/.monitoring/<model>/<version>.window.json`).
public struct WindowStore: Sendable {
    /// The saved window of a version, or nil.
    public var read: @Sendable (_ model: String, _ version: Int64) throws -> [UInt8]?
    /// Saves a version's window atomically.
    public var write: @Sendable (_ model: String, _ version: Int64, _ bytes: [UInt8]) throws -> Void

    public init(
        read: @escaping @Sendable (String, Int64) throws -> [UInt8]?,
        write: @escaping @Sendable (String, Int64, [UInt8]) throws -> Void
    ) {
        self.read = read
        self.write = write
    }
}

/// Prepares each loading version's monitoring, recomputes every monitored version's statistics on a timer
/// thread (never on the serving path), exports them as Prometheus series and hands each report to `persist`
/// (the registry's `.monitoring/` state for `sluice models drift`).
public final class MonitoringHub: Sendable {
    public let configuration: MonitoringConfiguration
    private let confidence: MetricFamily<Histogram>
    private let stopping = Atomic<Bool>(false)
    private let thread = Mutex<BackgroundThread.Handle?>(nil)
    /// The last report persisted per version (with its time cleared), to skip rewriting an unchanged one.
    private let persisted = Mutex<[String: DriftReport]>([:])
    /// Versions whose state file cannot be written right now (logged once).
    private let failing = Mutex<Set<String>>([])
    /// Where windows are saved and restored from; nil keeps them in memory only.
    private let windows: WindowStore?
    /// The registry the timer thread watches (kept for the snapshot at ``stop()``).
    private let watched = Mutex<ModelRegistry<ServableModel>?>(nil)
    private let logger = Mutex<(@Sendable (String) -> Void)?>(nil)
    /// `sluice_monitoring_snapshot_failures_total`: window snapshots that could not be written.
    private let snapshotFailures: Counter
    /// Versions whose window snapshot cannot be written right now (logged once).
    private let failingSnapshots = Mutex<Set<String>>([])

    public init(configuration: MonitoringConfiguration, metrics: ServiceMetrics, windows: WindowStore? = nil) {
        self.configuration = configuration
        self.windows = windows
        snapshotFailures = metrics.registry.counter(
            "sluice_monitoring_snapshot_failures_total",
            help: "Snapshots of drift windows that could not be written (a restart would start those windows empty).")
            .labels([])
        confidence = metrics.registry.histogram(
            "sluice_prediction_confidence",
            help: "Confidence (largest class score) of monitored classifier versions' answers (BatchPredict sampled).",
            labels: ["model", "version"], bounds: [100, 200, 300, 400, 500, 600, 700, 800, 900, 950, 990, 1000],
            unitScale: 1000)
    }

    /// The monitoring setup of a version about to load: its settings (model.json over the server defaults) and
    /// its profile. Nil when monitoring is off for it.
    public func setup(
        model: ModelMetadata, version: Int64, profile: () throws -> [UInt8]?, missingHint: String? = nil,
        log: @escaping @Sendable (String) -> Void
    ) -> VersionMonitoring.Setup? {
        guard configuration.enabled, model.monitoring?.enabled ?? true else { return nil }
        var settings = configuration.defaults
        if let options = model.monitoring {
            settings.windowRows = options.windowRequests ?? settings.windowRows
            settings.windowSeconds = options.windowSeconds ?? settings.windowSeconds
            settings.psiWarn = options.psiWarn ?? settings.psiWarn
            settings.psiDrift = options.psiDrift ?? settings.psiDrift
            settings.minRows = options.minRequests ?? settings.minRows
        }
        var note: String?
        var reference: ReferenceProfile?
        var digest = ""
        if let problem = settings.problem {
            note = "model.json monitoring: \(problem)"
            settings = configuration.defaults
        }
        do {
            if let bytes = try profile() {
                reference = try ReferenceProfile.decode(bytes)
                digest = SHA256Digest.hex(of: bytes)
            } else {
                note = missingHint
                    ?? "no reference profile (build one with: sluice models profile \(model.name) --version \(version) --data FILE)"
            }
        } catch {
            note = "\(error)"
            log("monitoring: \(model.name) version \(version): \(error); not monitored")
        }
        var setup = VersionMonitoring.Setup(
            model: model.name, version: version, profile: reference, note: note, settings: settings,
            batchStride: configuration.batchStride,
            confidence: reference == nil ? nil : confidence.labels([model.name, String(version)]))
        setup.profileDigest = digest
        if reference != nil, let windows {
            do {
                if let bytes = try windows.read(model.name, version) {
                    setup.savedWindow = try WindowSnapshot.decode(bytes)
                }
            } catch {
                log("monitoring: \(model.name) version \(version): ignoring the saved window: \(error)")
            }
        }
        setup.log = log
        return setup
    }

    /// Starts the timer thread: every 100 ms it advances the windows; every `intervalSeconds` it recomputes
    /// the reports and persists them.
    public func start(
        _ registry: ModelRegistry<ServableModel>, persist: @escaping @Sendable (DriftReport) throws -> Void,
        log: @escaping @Sendable (String) -> Void
    ) {
        guard configuration.enabled else { return }
        watched.withLock { $0 = registry }
        logger.withLock { $0 = log }
        let interval = UInt64(max(0.05, configuration.intervalSeconds) * 1e9)
        let snapshotInterval = UInt64(configuration.snapshotSeconds * 1e9)
        let handle = BackgroundThread.start(name: "sluice-monitor") { [self] in
            var last: UInt64 = 0
            var lastSnapshot = monotonicNanos()
            while !stopping.load(ordering: .relaxed) {
                let now = monotonicNanos()
                let due = now &- last >= interval
                if due { last = now }
                if snapshotInterval > 0 && now &- lastSnapshot >= snapshotInterval {
                    lastSnapshot = now
                    saveWindows(registry, log: log)
                }
                for (_, entry) in registry.snapshot.models {
                    for (_, worker) in entry.workers {
                        guard let monitor = worker.compiled.monitoring?.monitor else { continue }
                        if due {
                            let report = monitor.refresh(now: now, wallMillis: Int64(WallClock.now() * 1000))
                            persistIfChanged(report, persist: persist, log: log)
                        } else {
                            monitor.rotate(now: now)
                        }
                    }
                }
                var pause = timespec(tv_sec: 0, tv_nsec: 100_000_000)
                nanosleep(&pause, nil)
            }
        }
        thread.withLock { $0 = handle }
    }

    /// Stops the timer thread.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        let handle = thread.withLock { current -> BackgroundThread.Handle? in
            defer { current = nil }
            return current
        }
        handle?.join()
        // The windows as they are at shutdown, for the next start.
        let registry = watched.withLock { current -> ModelRegistry<ServableModel>? in
            defer { current = nil }
            return current
        }
        if let registry {
            let log = logger.withLock { $0 }
            saveWindows(registry, log: { line in log?(line) })
        }
    }

    /// Writes the window of every monitored version (timer thread, or after it stopped). A failed write is
    /// logged (once per version until one succeeds) and counted in `sluice_monitoring_snapshot_failures_total`.
    func saveWindows(_ registry: ModelRegistry<ServableModel>, log: @Sendable (String) -> Void) {
        guard let windows else { return }
        let now = monotonicNanos()
        let wall = Int64(WallClock.now() * 1000)
        for (_, entry) in registry.snapshot.models {
            for (_, worker) in entry.workers {
                guard let monitoring = worker.compiled.monitoring, let monitor = monitoring.monitor else { continue }
                let key = "\(monitor.model)/\(monitor.version)"
                do {
                    let snapshot = monitor.snapshot(layout: monitoring.layout, now: now, wallMillis: wall)
                    try windows.write(monitor.model, monitor.version, try snapshot.encoded())
                    if failingSnapshots.withLock({ $0.remove(key) != nil }) {
                        log("monitoring: the window of \(key) is saved again")
                    }
                } catch {
                    snapshotFailures.increment()
                    if failingSnapshots.withLock({ $0.insert(key).inserted }) {
                        log("monitoring: cannot save the window of \(key) (a restart would start it empty): \(error)")
                    }
                }
            }
        }
    }

    private func persistIfChanged(
        _ report: DriftReport, persist: @Sendable (DriftReport) throws -> Void, log: @Sendable (String) -> Void
    ) {
        let key = "\(report.model)/\(report.version)"
        var timeless = report
        timeless.computedUnixMs = 0
        let changed = persisted.withLock { state -> Bool in
            if state[key] == timeless { return false }
            state[key] = timeless
            return true
        }
        guard changed else { return }
        do {
            try persist(report)
            if failing.withLock({ $0.remove(key) != nil }) { log("monitoring: drift state of \(key) written again") }
        } catch {
            // Retried with the next report; logged once until a write succeeds (a read-only registry mount would
            // otherwise log every interval). GetModelVersion and /metrics do not depend on the file.
            persisted.withLock { _ = $0.removeValue(forKey: key) }
            if failing.withLock({ $0.insert(key).inserted }) {
                log("monitoring: cannot write the drift state of \(key) for `sluice models drift`: \(error)")
            }
        }
    }

    /// Exposes `sluice_feature_psi`, `sluice_prediction_psi`, `sluice_drift_verdict` and the window size,
    /// read from the latest reports at scrape time.
    public func watch(_ registry: ModelRegistry<ServableModel>, metrics: ServiceMetrics) {
        let cap = configuration.maxMetricFeatures
        let reports: @Sendable () -> [DriftReport] = {
            registry.snapshot.models.values.flatMap { entry in
                entry.workers.values.compactMap { $0.compiled.monitoring?.monitor?.report }
            }
        }
        metrics.registry.collector(
            "sluice_feature_psi",
            help: "PSI of a feature's live window against the version's reference profile (first \(cap) features per model).",
            kind: .gauge
        ) {
            reports().flatMap { report in
                report.features.prefix(cap).compactMap { feature in
                    feature.psi.map {
                        (["model": report.model, "version": String(report.version), "feature": feature.name], $0)
                    }
                }
            }
        }
        metrics.registry.collector(
            "sluice_prediction_psi", help: "PSI of a version's live prediction scores against its reference profile.",
            kind: .gauge
        ) {
            reports().compactMap { report in
                report.prediction?.psi.map { (["model": report.model, "version": String(report.version)], $0) }
            }
        }
        metrics.registry.collector(
            "sluice_drift_verdict",
            help: "Worst drift verdict of a monitored version: 0 OK, 1 WARN, 2 DRIFT (PSI bands of its model).",
            kind: .gauge
        ) {
            reports().map { report in
                let value: Double = report.verdict == .drift ? 2 : report.verdict == .warn ? 1 : 0
                return (["model": report.model, "version": String(report.version)], value)
            }
        }
        metrics.registry.collector(
            "sluice_monitoring_window_requests", help: "Requests in a monitored version's live drift window.",
            kind: .gauge
        ) {
            reports().map { (["model": $0.model, "version": String($0.version)], Double($0.windowRows)) }
        }
    }
}
