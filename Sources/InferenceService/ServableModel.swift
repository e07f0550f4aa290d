public import ServerMetrics
import SluiceProto
import Synchronization

/// Class labels of a classifier, in the order of its score columns.
public enum ClassLabels: Sendable, Equatable {
    case none
    case int([Int64])
    case string([String])

    public var count: Int {
        switch self {
        case .none: return 0
        case .int(let labels): return labels.count
        case .string(let labels): return labels.count
        }
    }
}

/// One loaded model version as the service serves it: its feature table, labels, signature, and a
/// `run` function that evaluates rows from a ``PredictionScratch``. Immutable; safe from any thread.
public final class ServableModel: Sendable {
    public let features: FeatureTable
    public let classLabels: ClassLabels
    public let isRegressor: Bool
    /// Index of the positive class for binary classifiers (label 1 or "1"/"true"/"yes"), for rollout statistics.
    public let positiveClass: Int?
    /// What GetModelVersion reports.
    public let signature: SignatureInfo
    /// Evaluates `rows` rows: reads `scratch.numeric`/`scratch.strings`, fills the outputs.
    let run: @Sendable (_ rows: Int, _ scratch: PredictionScratch) throws -> Void
    /// Queues concurrent Predict calls into batches, when the model opted in.
    let batcher: DynamicBatcher?
    /// Metric series for successful calls outside rollouts, resolved at load (nil in tests).
    let okSeries: OKSeries?
    /// How the model's tensors appear in the Open Inference Protocol.
    public let openInference: OpenInference.Signature
    /// Counters of this version's Open Inference calls (ModelStatistics).
    public let openInferenceCounters = OpenInference.Counters()
    /// Drift monitoring of this version (nil when monitoring is off).
    public let monitoring: VersionMonitoring?
    /// The OK series under the first rollout variant this version served as, resolved on its first call: a
    /// version serves under one arm name for the life of a rollout. Other names use the labelled lookup.
    let variantOKSeries = AtomicLazyReference<VariantOKSeries>()

    /// OK series of one version serving as one rollout variant.
    final class VariantOKSeries: Sendable {
        let variant: String
        let series: OKSeries

        init(variant: String, series: OKSeries) {
            self.variant = variant
            self.series = series
        }
    }

    /// `sluice_requests_total{code="OK"}` and the latency histogram of Predict and BatchPredict for one version.
    public struct OKSeries: Sendable {
        public var predict: (requests: Counter, latency: Histogram)
        public var batch: (requests: Counter, latency: Histogram)
        /// Open Inference Protocol ModelInfer (gRPC and REST).
        public var modelInfer: (requests: Counter, latency: Histogram)
    }

    /// Dynamic batching settings: (model name, version, max batch size, max queue delay in µs).
    public struct Batching: Sendable {
        public var model: String
        public var version: Int64
        public var maxBatchSize: Int
        public var maxQueueDelayMicros: Int

        public init(model: String, version: Int64, maxBatchSize: Int, maxQueueDelayMicros: Int) {
            self.model = model
            self.version = version
            self.maxBatchSize = maxBatchSize
            self.maxQueueDelayMicros = maxQueueDelayMicros
        }
    }

    public init(
        features: FeatureTable, classLabels: ClassLabels, isRegressor: Bool, signature: SignatureInfo,
        batching: Batching? = nil, okSeries: OKSeries? = nil, monitoring: VersionMonitoring? = nil,
        openInference: OpenInference.Signature? = nil,
        run: @escaping @Sendable (_ rows: Int, _ scratch: PredictionScratch) throws -> Void
    ) {
        self.okSeries = okSeries
        self.monitoring = monitoring
        let reference = ServableModelRef()
        if let batching, batching.maxBatchSize > 1 {
            batcher = DynamicBatcher(
                model: batching.model, version: batching.version, maxBatchSize: batching.maxBatchSize,
                maxQueueDelayMicros: batching.maxQueueDelayMicros, servable: reference)
        } else {
            batcher = nil
        }
        // Only a batching model is referenced weakly: a weak reference gives an object a side table, and every
        // retain and release of it (one per call) then takes the runtime's slow path.
        defer { if batcher != nil { reference.model = self } }
        self.features = features
        self.classLabels = classLabels
        self.isRegressor = isRegressor
        self.signature = signature
        self.openInference =
            openInference ?? OpenInference.Signature(table: features, classLabels: classLabels, isRegressor: isRegressor)
        self.run = run
        switch classLabels {
        case .int(let labels) where labels.count == 2: positiveClass = labels.firstIndex(of: 1) ?? 1
        case .string(let labels) where labels.count == 2:
            positiveClass = labels.firstIndex { ["1", "true", "yes", "positive"].contains($0.lowercased()) } ?? 1
        default: positiveClass = nil
        }
    }
}
