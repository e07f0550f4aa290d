#if canImport(Glibc)
import Glibc
#endif
import BackgroundThreads
import Synchronization

/// The server's view of a model source: which versions are loaded, which one each selector names.
///
/// A background thread (at a lower scheduling priority than the event loops) polls the source, loads
/// versions that became needed, releases those no longer needed, and publishes a new immutable
/// ``RegistrySnapshot`` after each change. Serving threads only read the current snapshot.
///
/// Loaded: versions in Staging or Production, versions with an alias, the model's fallback version, and versions
/// pinned by a rollout.
/// A newly promoted version takes traffic only once it is ready; until then (or forever, if it fails
/// to load) the previous one keeps serving.
public final class ModelRegistry<Model: AnyObject & Sendable>: Sendable {
    /// Compiles a model. Called on the registry's thread; errors become the version's FAILED reason.
    /// Compiles a version's file. The loader owns the bytes (`consuming`), so that it can release them as soon
    /// as they are parsed, before compiling: the file and the compiled model need not be in memory together.
    public typealias Loader = @Sendable (_ bytes: consuming [UInt8], _ model: ModelMetadata, _ version: VersionMetadata) throws -> Model

    public let source: any ModelSource
    private let loader: Loader
    private let pollIntervalNanos: UInt64
    private let log: @Sendable (String) -> Void
    /// (`@usableFromInline`: `snapshot` is inlined into serving code, so that it is specialized there instead of
    /// instantiating generic metadata on every call.)
    @usableFromInline let current = Mutex<RegistrySnapshot<Model>>(.empty)
    /// The loader thread's control flags; the thread sleeps on it between polls.
    private let control = ConditionLock<Control>(Control())
    /// Called after each published snapshot (health, metrics).
    private let listeners = Mutex<[@Sendable (RegistrySnapshot<Model>) -> Void]>([])
    private let loadPassListeners = Mutex<[@Sendable () -> Void]>([])

    private struct Control {
        var running = false
        var stopRequested = false
        var refreshRequested = false
        var pinned: [String: Set<Int64>] = [:]
        var initialScanDone = false
        var thread: BackgroundThread.Handle?
        /// Versions whose last load failed for a transient reason (the source was unreachable): unlike other
        /// failures, they are retried at the next scan instead of only when their SHA-256 changes.
        var retryable: Set<VersionKey> = []
    }

    public init(
        source: any ModelSource, pollInterval: Duration = .milliseconds(500),
        log: @escaping @Sendable (String) -> Void = { _ in }, loader: @escaping Loader
    ) {
        self.source = source
        self.loader = loader
        let (seconds, attoseconds) = pollInterval.components
        self.pollIntervalNanos = UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
        self.log = log
    }

    /// The current snapshot. Cheap: one uncontended lock and a retain.
    @inlinable
    public var snapshot: RegistrySnapshot<Model> { current.withLock { $0 } }

    /// True once the first scan has loaded (or failed) every version it needed.
    public var initialLoadComplete: Bool { control.withLock { $0.initialScanDone } }

    /// Registers a callback run after every published snapshot (on the registry thread).
    public func onChange(_ listener: @escaping @Sendable (RegistrySnapshot<Model>) -> Void) {
        listeners.withLock { $0.append(listener) }
    }

    /// Registers a callback run (on the registry thread) after each scan that loaded at least one version, once its
    /// snapshots are published and the loader's freed memory is returned: the point where nothing of the load is
    /// in use any more.
    public func onLoadPassFinished(_ listener: @escaping @Sendable () -> Void) {
        loadPassListeners.withLock { $0.append(listener) }
    }

    /// Keeps `versions` of `model` loaded regardless of stage (rollouts pin their arms).
    public func pin(model: String, versions: Set<Int64>) {
        control.withLock { $0.pinned[model] = versions.isEmpty ? nil : versions }
        refresh()
    }

    /// Asks the registry thread to rescan now instead of at the next poll.
    public func refresh() {
        control.withLockSignalling { $0.refreshRequested = true }
    }

    /// Rescans and loads synchronously on the calling thread (startup, tests, the CLI).
    public func scanNow() { scan(previousToken: nil) }

    /// Starts the background thread. The first scan runs on it; `initialLoadComplete` flips when done.
    public func start() {
        let alreadyRunning = control.withLock { state -> Bool in
            if state.running { return true }
            state.running = true
            return false
        }
        if alreadyRunning { return }
        guard let thread = BackgroundThread.start(name: "sluice-registry", { self.runLoop() }) else {
            log("registry: cannot start the loader thread; loading synchronously")
            scanNow()
            return
        }
        control.withLock { $0.thread = thread }
    }

    /// Stops the background thread and waits for it.
    public func stop() {
        let thread = control.withLockSignalling { state -> BackgroundThread.Handle? in
            state.stopRequested = true
            return state.thread
        }
        thread?.join()
    }

    private func runLoop() {
        // Loading competes with serving for CPU; serving wins: nice +10 relative to the loops (Linux applies nice
        // per thread). Best effort: a refusal (seccomp) leaves loading at the loops' priority, which still works.
        ThreadPriority.nicer(10).applyToCurrentThread()
        var token: String? = nil
        while !control.withLock({ $0.stopRequested }) {
            let newToken = source.changeToken()
            let forced = control.withLock { state -> Bool in
                defer { state.refreshRequested = false }
                return state.refreshRequested
            }
            if forced || newToken != token {
                scan(previousToken: token)
                token = newToken
            }
            let deadline = monotonicNanos() + pollIntervalNanos
            control.wait { $0.stopRequested || $0.refreshRequested ? .no : .until(deadline) }
        }
    }

    /// Reads the source, loads what is needed, and publishes snapshots.
    private func scan(previousToken: String?) {
        let names: [String]
        do { names = try source.listModels() } catch {
            log("registry: \(error.message)")
            // A remote source that has not answered yet (and has no cached state): the initial load is not
            // done until a scan can read it, so health stays NOT_SERVING until its versions are loaded.
            if error.code != .unavailable { markInitialScanDone() }
            return
        }
        var metadata: [String: ModelMetadata] = [:]
        for name in names {
            do { metadata[name] = try source.metadata(of: name) } catch {
                log("registry: model \(name): \(error.message)")
                // Keep serving what we had for it.
                if let existing = snapshot.models[name]?.metadata { metadata[name] = existing }
            }
        }
        let pinned = control.withLock { $0.pinned }
        // Publish metadata changes (stage, alias moves to ready workers) immediately, then load.
        var pending: [(String, VersionMetadata)] = []
        publish(metadata: metadata, pinned: pinned, loaded: [:], loading: &pending)
        for (name, version) in pending {
            guard !control.withLock({ $0.stopRequested }) else { break }
            let outcome = load(model: name, version: version, metadata: metadata[name]!)
            var ignored: [(String, VersionMetadata)] = []
            publish(metadata: metadata, pinned: pinned, loaded: [VersionKey(name, version.version): outcome],
                    loading: &ignored)
        }
        if !pending.isEmpty {
            // Parsing a model allocates many times the size of what it compiles to; give the freed memory
            // back to the system instead of keeping it in this thread's malloc arena.
            malloc_trim(0)
            for listener in loadPassListeners.withLock({ $0 }) { listener() }
        }
        markInitialScanDone()
    }

    private func markInitialScanDone() {
        let first = control.withLock { state -> Bool in
            defer { state.initialScanDone = true }
            return !state.initialScanDone
        }
        if first { notify(snapshot) }
    }

    struct VersionKey: Hashable {
        let model: String
        let version: Int64
        init(_ model: String, _ version: Int64) {
            self.model = model
            self.version = version
        }
    }

    enum LoadOutcome {
        case ready(ModelWorker<Model>)
        /// `retry`: the failure was transient (source unavailable); try again at the next scan.
        case failed(String, retry: Bool)
    }

    private func load(model: String, version: VersionMetadata, metadata: ModelMetadata) -> LoadOutcome {
        let started = monotonicNanos()
        do {
            let bytes = try source.modelBytes(model: model, version: version.version)
            let digest = try VersionIntegrity.check(bytes, recorded: version.sha256)
            let compiled = try loader(consume bytes, metadata, version)
            let seconds = Double(monotonicNanos() - started) / 1e9
            log("registry: loaded \(model) version \(version.version) in \(String(format3(seconds * 1000))) ms")
            return .ready(ModelWorker(model: model, version: version.version, compiled: compiled, sha256: digest,
                                      loadSeconds: seconds))
        } catch let error as RegistryError {
            log("registry: \(model) version \(version.version) FAILED: \(error.message)")
            return .failed(error.message, retry: error.code == .unavailable)
        } catch {
            log("registry: \(model) version \(version.version) FAILED: \(error)")
            return .failed("\(error)", retry: false)
        }
    }

    /// Builds and publishes the next snapshot from `metadata`, the previous snapshot and fresh load outcomes.
    /// Versions that are needed but neither loaded nor failed are appended to `loading`.
    private func publish(
        metadata: [String: ModelMetadata], pinned: [String: Set<Int64>], loaded: [VersionKey: LoadOutcome],
        loading: inout [(String, VersionMetadata)]
    ) {
        let previous = snapshot
        var retryable = control.withLock { $0.retryable }
        defer { control.withLock { $0.retryable = retryable } }
        var models: [String: ModelEntry<Model>] = [:]
        for (name, meta) in metadata {
            let old = previous.models[name]
            var needed = Set<Int64>()
            for version in meta.versions where version.stage == .production || version.stage == .staging {
                needed.insert(version.version)
            }
            for version in meta.aliases.values { needed.insert(version) }
            if let fallback = meta.fallback, meta.version(fallback) != nil { needed.insert(fallback) }
            needed.formUnion(pinned[name] ?? [])

            var workers: [Int64: ModelWorker<Model>] = [:]
            var states: [Int64: VersionState] = [:]
            for version in meta.versions {
                let number = version.version
                let key = VersionKey(name, number)
                if let outcome = loaded[key] {
                    switch outcome {
                    case .ready(let worker):
                        workers[number] = worker
                        retryable.remove(key)
                    case .failed(let reason, let retry):
                        states[number] = .failed(reason: reason)
                        if retry { retryable.insert(key) } else { retryable.remove(key) }
                    }
                } else if let worker = old?.workers[number], worker.sha256 == version.sha256 || version.sha256.isEmpty,
                    old?.metadata.featureNames == meta.featureNames, old?.metadata.batching == meta.batching
                {
                    // Same bytes, feature naming and batching: keep the compiled model.
                    workers[number] = worker
                } else if case .failed(let reason)? = old?.states[number],
                    old?.metadata.version(number)?.sha256 == version.sha256, !retryable.contains(key)
                {
                    // A failed version is retried only when its file changes (a new SHA-256).
                    states[number] = .failed(reason: reason)
                } else if needed.contains(number) {
                    states[number] = .loading
                    loading.append((name, version))
                }
            }
            // Hand-over pointers: the target if ready, else whatever served before.
            func pointer(_ target: Int64?, _ before: ModelWorker<Model>?) -> ModelWorker<Model>? {
                if let target, let worker = workers[target] { return worker }
                if target == nil { return nil }
                return before
            }
            let production = pointer(meta.latest(in: .production)?.version, old?.production)
            let staging = pointer(meta.latest(in: .staging)?.version, old?.staging)
            var aliasWorkers: [String: ModelWorker<Model>] = [:]
            for (alias, version) in meta.aliases {
                if let worker = pointer(version, old?.aliasWorkers[alias]) { aliasWorkers[alias] = worker }
            }
            // Keep only what is needed or still serving through a hand-over pointer.
            var serving = Set<Int64>()
            for worker in [production, staging].compactMap({ $0 }) + Array(aliasWorkers.values) {
                serving.insert(worker.version)
                workers[worker.version] = worker
            }
            for number in Array(workers.keys) where !needed.contains(number) && !serving.contains(number) {
                workers[number] = nil
                states[number] = .retired
            }
            for number in workers.keys { states[number] = .ready }
            for version in meta.versions where states[version.version] == nil {
                states[version.version] = old?.states[version.version] == .retired ? .retired : .notLoaded
            }
            models[name] = ModelEntry(
                name: name, metadata: meta, workers: workers, states: states, production: production,
                staging: staging, aliasWorkers: aliasWorkers, fallback: meta.fallback.flatMap { workers[$0] })
        }
        let next = RegistrySnapshot(models: models)
        current.withLock { $0 = next }
        notify(next)
    }

    private func notify(_ snapshot: RegistrySnapshot<Model>) {
        for listener in listeners.withLock({ $0 }) { listener(snapshot) }
    }
}

func format3(_ value: Double) -> String {
    let scaled = (value * 1000).rounded() / 1000
    return "\(scaled)"
}
