import BackgroundThreads
public import InferenceEngine
import ModelRegistry
import SluiceProto
import Synchronization

extension ServableModel {
    /// Compiles ONNX bytes with the engine and wraps the result for serving; the bytes are released once parsed. The registry's feature names
    /// (metadata `feature_names`) rename the numeric columns of multi-column inputs.
    public static func load(
        bytes: consuming [UInt8], featureNames: [String]?, batching: Batching? = nil, okSeries: OKSeries? = nil,
        monitoring: VersionMonitoring.Setup? = nil
    ) throws -> ServableModel {
        let compiled = try CompiledModel(consuming: bytes, featureNames: featureNames)
        return ServableModel(compiled: compiled, batching: batching, okSeries: okSeries, monitoring: monitoring)
    }

    /// Wraps an already-compiled model: derives the feature table and class labels from its signature and installs the
    /// prediction closure, which borrows a context from an `EngineContextPool` and copies results into the caller's
    /// scratch (first target only for regressors unless `keepAllTargets`). Compilation is not repeated here.
    convenience init(
        compiled: CompiledModel, batching: Batching? = nil, okSeries: OKSeries? = nil,
        monitoring setup: VersionMonitoring.Setup? = nil
    ) {
        let signature = compiled.signature
        let table = FeatureTable(
            features: signature.features.map { feature in
                (feature.name, feature.kind == .string ? .string : .numeric, signature.acceptsNaN)
            })
        let labels: ClassLabels
        switch signature.classLabels {
        case .none: labels = .none
        case .int64(let values): labels = .int(values)
        case .string(let values): labels = .string(values)
        }
        let isRegressor = signature.task == .regressor
        let pool = EngineContextPool(compiled)
        let monitoring = setup.map {
            VersionMonitoring($0, features: table, labels: labels, isRegressor: isRegressor, now: monotonicNanos())
        }
        self.init(
            features: table, classLabels: labels, isRegressor: isRegressor,
            signature: Self.describe(signature), batching: batching, okSeries: okSeries, monitoring: monitoring,
            openInference: OpenInference.Signature(signature, table: table, classLabels: labels)
        ) { rows, scratch in
            try pool.withContext { context, result in
                try scratch.numeric.withUnsafeBufferPointer { numeric in
                    try compiled.predict(
                        rows: rows, numeric: numeric, strings: scratch.strings, context: context, into: result)
                }
                if isRegressor {
                    scratch.values.removeAll(keepingCapacity: true)
                    // One value per row: the first target (multi-target regressors report the first).
                    let columns = max(1, result.scoreColumns)
                    for row in 0..<rows { scratch.values.append(Double(result.scores[row * columns])) }
                    if scratch.keepAllTargets {  // Open Inference returns every target
                        scratch.targets.removeAll(keepingCapacity: true)
                        scratch.targets.append(contentsOf: result.scores.prefix(rows * columns))
                    }
                } else {
                    switch labels {
                    case .string: scratch.labelIndices.append(contentsOf: result.labelIndices)
                    default: scratch.labelsInt.append(contentsOf: result.labels)
                    }
                    scratch.scores.append(contentsOf: result.scores)
                    scratch.confidence.append(contentsOf: result.confidences)
                }
            }
        }
    }

    /// The engine's signature as GetModelVersion reports it.
    static func describe(_ signature: ModelSignature) -> SignatureInfo {
        var info = SignatureInfo()
        func tensor(_ value: ModelSignature.Value) -> TensorInfo {
            let shape = (value.shape ?? []).map { $0.map(Int64.init) ?? -1 }
            return TensorInfo(name: value.name, elementType: value.type, shape: shape)
        }
        info.inputs = signature.inputs.map(tensor)
        info.outputs = signature.outputs.map(tensor)
        switch signature.classLabels {
        case .int64(let values): info.classLabelsInt = values
        case .string(let values): info.classLabelsString = values
        case .none: break
        }
        info.features = signature.features.map { ($0.name, $0.kind == .string ? "string" : "float32") }
        info.task = signature.task.rawValue
        return info
    }
}

/// Engine execution contexts for one compiled model, reused across calls (one per concurrent caller).
final class EngineContextPool: Sendable {
    /// The model that creates new contexts when the pool is empty.
    private let model: CompiledModel
    /// Idle context/result pairs; at most 32 are kept, extras are dropped when returned.
    private let free = Mutex<[(ExecutionContext, PredictionResult)]>([])

    /// Starts empty; contexts are created lazily on first use, so an idle model holds none.
    init(_ model: CompiledModel) { self.model = model }

    /// Runs `body` with a context and result buffer that no other caller holds, taking an idle pair or allocating a new
    /// one, and returns the pair to the pool afterwards (also on throw). Safe from any thread; the lock is held only to
    /// pop and push.
    @inline(__always)
    func withContext<R>(_ body: (ExecutionContext, PredictionResult) throws -> R) rethrows -> R {
        let pair = free.withLock { $0.popLast() } ?? (model.makeContext(), PredictionResult())
        defer { free.withLock { if $0.count < 32 { $0.append(pair) } } }
        return try body(pair.0, pair.1)
    }
}

// Contexts move between threads only through the pool, one user at a time.
extension ExecutionContext: @unchecked Sendable {}
extension PredictionResult: @unchecked Sendable {}
