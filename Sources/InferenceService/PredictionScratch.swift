import Synchronization

/// Reusable per-call buffers: request features in, predictions out. Taken from a pool for each call
/// and returned afterwards, so a call allocates nothing once the pool is warm.
public final class PredictionScratch {
    /// Row-major numeric features: rows x numericCount.
    public var numeric: [Float] = []
    /// One column per string feature, `rows` values each.
    public var strings: [[String]] = []
    /// Filled by the model: one label per row (int64 labels).
    public var labelsInt: [Int64] = []
    /// Filled by the model: one index into the string class labels per row (string labels).
    public var labelIndices: [Int32] = []
    /// Filled by the model: row-major rows x classes scores, in class-label order.
    public var scores: [Float] = []
    /// Filled by the model: max class score per row.
    public var confidence: [Float] = []
    /// Filled by the model: regression outputs, one per row.
    public var values: [Double] = []
    /// Set by the Open Inference path: regressors then also fill `targets` with every target (rows x targets),
    /// which Predict, answering the first target only, does not pay for.
    public var keepAllTargets = false
    public var targets: [Float] = []
    /// Open Inference outputs that need re-encoding: BYTES labels (length-prefixed) and FP32 regression values.
    public var openInferenceBytes: [UInt8] = []
    public var openInferenceFloats: [Float] = []
    /// Model-specific execution state (the engine's context), keyed by the model it belongs to.
    public var engineState: (owner: ObjectIdentifier, state: AnyObject)?

    public init() {}

    /// Clears the outputs (keeping capacity) before another model runs on the same inputs.
    func clearOutputs() {
        labelsInt.removeAll(keepingCapacity: true)
        labelIndices.removeAll(keepingCapacity: true)
        scores.removeAll(keepingCapacity: true)
        confidence.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        targets.removeAll(keepingCapacity: true)
    }

    /// Sizes the input buffers for `rows` rows and clears the outputs, keeping capacity.
    func prepare(rows: Int, numericCount: Int, stringCount: Int) {
        let needed = rows * numericCount
        if numeric.count != needed {
            if numeric.count > needed {
                numeric.removeLast(numeric.count - needed)
            } else {
                numeric.append(contentsOf: repeatElement(Float.nan, count: needed - numeric.count))
            }
        }
        if strings.count != stringCount { strings = Array(repeating: [], count: stringCount) }
        for index in strings.indices {
            strings[index].removeAll(keepingCapacity: true)
            if rows == 1 { strings[index].append("") } else { strings[index].append(contentsOf: repeatElement("", count: rows)) }
        }
        clearOutputs()
    }
}

/// A small pool of scratch objects shared by the event-loop threads.
final class ScratchPool: Sendable {
    /// Idle scratch objects; popped and pushed under the lock, used outside it.
    private let free = Mutex<[PredictionScratch]>([])
    /// Most idle objects kept; extras returned beyond it are freed.
    private let limit: Int

    /// Starts empty; scratch objects are created on demand the first time calls overlap.
    init(limit: Int = 64) { self.limit = limit }

    /// Runs `body` with a scratch object no other caller holds, then returns it to the pool (also on throw) unless its
    /// numeric buffer has grown past 2^20 floats, so one huge batch does not pin its memory. Safe from any thread.
    @inline(__always)
    func withScratch<R>(_ body: (PredictionScratch) throws -> R) rethrows -> R {
        let scratch = free.withLock { $0.popLast() } ?? PredictionScratch()
        defer {
            // Very large batches leave big buffers behind; drop those instead of pooling them.
            if scratch.numeric.capacity <= 1 << 20 {
                free.withLock { if $0.count < limit { $0.append(scratch) } }
            }
        }
        return try body(scratch)
    }
}

// The pool hands a scratch object to one call at a time.
extension PredictionScratch: @unchecked Sendable {}
