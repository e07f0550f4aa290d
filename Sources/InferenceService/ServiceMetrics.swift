import ModelRegistry
public import ServerMetrics
import Synchronization

/// The metrics the Inference service exports (Prometheus names and conventions).
public final class ServiceMetrics: Sendable {
    public let registry: MetricsRegistry
    let requests: MetricFamily<Counter>
    let latency: MetricFamily<Histogram>
    let batchRows: MetricFamily<Histogram>
    /// Inference RPCs being handled (exported as the `sluice_inflight_requests` gauge).
    let inFlight = Atomic<Int>(0)
    /// Refused calls by reason (`sluice_auth_denied_total`).
    let denials = DenialCounters()
    /// Calls answered by a model's fallback version (`sluice_fallback_total`), and its series by key.
    let fallbacks: MetricFamily<Counter>
    let fallbackSeries = Mutex<[FallbackKey: Counter]>([:])
    /// Hot-path cache of series objects so a call does not build label arrays.
    private let requestSeries = Mutex<[RequestKey: (Counter, Histogram)]>([:])

    struct RequestKey: Hashable {
        let rpc: RPCKind
        let model: String
        let version: Int64
        let variant: String
        let code: UInt8
    }

    /// The RPCs metrics are kept for.
    public enum RPCKind: String, Sendable {
        case predict = "Predict"
        case batchPredict = "BatchPredict"
        case getModelVersion = "GetModelVersion"
        case rollout = "Rollout"
        /// Open Inference Protocol inference (gRPC ModelInfer, REST infer).
        case modelInfer = "ModelInfer"
        /// Open Inference Protocol metadata, readiness, config and statistics calls.
        case modelMetadata = "ModelMetadata"
    }

    public init(registry: MetricsRegistry = MetricsRegistry()) {
        self.registry = registry
        requests = registry.counter(
            "sluice_requests_total", help: "Inference RPCs by RPC, model, version, rollout variant and gRPC status.",
            labels: ["rpc", "model", "version", "variant", "code"])
        latency = registry.histogram(
            "sluice_request_duration_seconds", help: "Server-side handling time of Inference RPCs.",
            labels: ["rpc", "model", "version"])
        batchRows = registry.histogram(
            "sluice_batch_rows", help: "Rows per BatchPredict call.", labels: ["model"],
            bounds: [1, 8, 32, 128, 512, 1024, 4096, 16384, 65536], unitScale: 1)
        fallbacks = registry.counter(
            "sluice_fallback_total",
            help: "Calls answered by the model's fallback version in place of a version that failed (to load, or at run time).",
            labels: ["model", "version", "fallback_version", "reason"])
        registerAuthMetrics()
    }

    /// Refusals by reason.
    final class DenialCounters: Sendable {
        let unauthenticated = Atomic<UInt64>(0)
        let permissionDenied = Atomic<UInt64>(0)
        let rateLimited = Atomic<UInt64>(0)
        /// Calls refused because their connection had no signature checks left this second.
        let signatureBudget = Atomic<UInt64>(0)
    }

    /// The OK series of one version's Predict and BatchPredict calls outside rollouts (or as one rollout
    /// `variant`), looked up once (at load, or on a variant's first call) so the hot path records without a
    /// lock or a hash.
    public func okSeries(model: String, version: Int64, variant: String = "") -> ServableModel.OKSeries {
        ServableModel.OKSeries(
            predict: (
                requests.labels(["Predict", model, String(version), variant, "OK"]),
                latency.labels(["Predict", model, String(version)])
            ),
            batch: (
                requests.labels(["BatchPredict", model, String(version), variant, "OK"]),
                latency.labels(["BatchPredict", model, String(version)])
            ),
            modelInfer: (
                requests.labels(["ModelInfer", model, String(version), variant, "OK"]),
                latency.labels(["ModelInfer", model, String(version)])
            ))
    }

    /// The calls in flight right now.
    @inline(__always)
    func enter() { inFlight.wrappingAdd(1, ordering: .relaxed) }

    @inline(__always)
    func leave() { inFlight.wrappingSubtract(1, ordering: .relaxed) }

    @inline(__always)
    func record(_ rpc: RPCKind, model: String, version: Int64, variant: String, code: UInt8, nanos: UInt64) {
        let key = RequestKey(rpc: rpc, model: model, version: version, variant: variant, code: code)
        let (counter, histogram) = requestSeries.withLock { cache in
            if let series = cache[key] { return series }
            let versionText = version > 0 ? String(version) : ""
            let codeText = StatusName.name(code)
            let series = (
                requests.labels([rpc.rawValue, model, versionText, variant, codeText]),
                latency.labels([rpc.rawValue, model, versionText])
            )
            if cache.count < 10_000 { cache[key] = series }
            return series
        }
        counter.increment()
        histogram.record(nanos)
    }

    /// Exposes model load state and load time, read from the registry at scrape time.
    func watch(_ modelRegistry: ModelRegistry<ServableModel>) {
        watchFailedVersions(modelRegistry)
        registry.collector("sluice_inflight_requests", help: "Inference RPCs being handled.", kind: .gauge) {
            [([:], Double(self.inFlight.load(ordering: .relaxed)))]
        }
        registry.collector(
            "sluice_model_state", help: "1 for the state each registered model version is in.", kind: .gauge
        ) {
            var out: [([String: String], Double)] = []
            for (name, entry) in modelRegistry.snapshot.models {
                for (version, state) in entry.states {
                    out.append((["model": name, "version": String(version), "state": StatusName.state(state)], 1))
                }
            }
            return out
        }
        registry.collector(
            "sluice_dynamic_batches_total", help: "Batches run by dynamic batching.", kind: .counter
        ) {
            modelRegistry.snapshot.models.flatMap { name, entry in
                entry.workers.compactMap { version, worker in
                    worker.compiled.batcher.map {
                        (["model": name, "version": String(version)], Double($0.batches.load(ordering: .relaxed)))
                    }
                }
            }
        }
        registry.collector(
            "sluice_dynamic_batched_rows_total", help: "Predict calls evaluated through dynamic batching.",
            kind: .counter
        ) {
            modelRegistry.snapshot.models.flatMap { name, entry in
                entry.workers.compactMap { version, worker in
                    worker.compiled.batcher.map {
                        (["model": name, "version": String(version)], Double($0.rows.load(ordering: .relaxed)))
                    }
                }
            }
        }
        registry.collector(
            "sluice_model_mean_confidence", help: "Mean confidence (largest class score) of a version's answers.",
            kind: .gauge
        ) {
            modelRegistry.snapshot.models.flatMap { name, entry in
                entry.workers.compactMap { version, worker in
                    worker.compiled.isRegressor
                        ? nil : (["model": name, "version": String(version)], worker.stats.meanConfidence)
                }
            }
        }
        registry.collector(
            "sluice_model_load_seconds", help: "How long loading and compiling each ready version took.", kind: .gauge
        ) {
            modelRegistry.snapshot.models.flatMap { name, entry in
                entry.workers.map { version, worker in
                    (["model": name, "version": String(version)], worker.loadSeconds)
                }
            }
        }
    }
}

/// Status and state names for labels.
enum StatusName {
    static let codes = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]

    static func name(_ code: UInt8) -> String { Int(code) < codes.count ? codes[Int(code)] : String(code) }

    static func state(_ state: VersionState) -> String {
        switch state {
        case .notLoaded: return "NOT_LOADED"
        case .loading: return "LOADING"
        case .ready: return "READY"
        case .failed: return "FAILED"
        case .retired: return "RETIRED"
        }
    }
}
