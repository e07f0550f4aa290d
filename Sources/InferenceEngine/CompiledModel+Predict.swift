/// Reusable result of `CompiledModel.predict`: keep one per thread next to the execution context; its arrays keep
/// their capacity, so repeated calls do not allocate.
public final class PredictionResult {
    /// Rows scored by the last call.
    public internal(set) var rows = 0
    /// Classifiers: per row the label value (int64 labels) or the index into the string class labels.
    public internal(set) var labels: [Int64] = []
    /// Classifiers: per row the index of the label in `signature.classLabels` (−1 if it is not one of them).
    public internal(set) var labelIndices: [Int32] = []
    /// Classifiers: rows × `scoreColumns` class scores in class-label order. Regressors: rows × targets values.
    public internal(set) var scores: [Float] = []
    /// Classifiers: per row the highest score. Regressors: empty.
    public internal(set) var confidences: [Float] = []
    /// Columns per row in `scores`.
    public internal(set) var scoreColumns = 0

    /// An empty result; its arrays grow on the first call and keep their capacity afterwards.
    public init() {}

    /// Regressors: the values (rows × targets), the same storage as `scores`.
    public var values: [Float] { scores }
}

/// The serving fast path: dense rows in, labels and scores out.
extension CompiledModel {
    /// Fast path for serving. `numeric` holds rows × `signature.numericFeatureCount` floats, row-major, in the
    /// dense feature order; `strings[k]` holds the `rows` values of the k-th string feature. Results go into
    /// `result`; with a reused `context` and `result` nothing is allocated per call.
    ///
    /// Runs on the caller's thread. NaN values are passed through to the model; whether it handles them is
    /// `signature.acceptsNaN`.
    ///
    /// - Throws: ``EngineError`` with `.unsupported` when the model cannot be served by rows (see
    ///   `PredictBinding.unusableReason`), `.invalidInput` for counts that do not match the signature, a context of
    ///   another model or a non-integer value for an integer input, and `.evaluation` when a kernel fails.
    public func predict(
        rows: Int, numeric: UnsafeBufferPointer<Float>, strings: [[String]] = [], context: ExecutionContext,
        into result: PredictionResult
    ) throws(EngineError) {
        let b = binding
        if let reason = b.unusableReason {
            throw EngineError(.unsupported, "this model cannot be served by rows: \(reason)")
        }
        try checkContext(context)
        guard rows >= 0 else { throw EngineError.input("negative row count") }
        guard numeric.count == rows * b.numericCount else {
            throw EngineError.input("expected \(rows) × \(b.numericCount) numeric values, got \(numeric.count)")
        }
        guard strings.count == b.stringCount else {
            throw EngineError.input("expected \(b.stringCount) string columns, got \(strings.count)")
        }
        for (k, column) in strings.enumerated() where column.count != rows {
            throw EngineError.input("string column \(k) has \(column.count) values for \(rows) rows")
        }
        result.rows = rows
        result.scoreColumns = b.scoreColumns
        result.labels.removeAll(keepingCapacity: true)
        result.labelIndices.removeAll(keepingCapacity: true)
        result.scores.removeAll(keepingCapacity: true)
        result.confidences.removeAll(keepingCapacity: true)
        if rows == 0 { return }
        let nf = b.numericCount
        if let fused = b.fusedLinear {
            fused.run(rows: rows, numeric: numeric, stride: nf, result: result)
            return
        }
        if let fused = b.fusedTree {
            fused.run(
                rows: rows, numeric: numeric, stride: nf, context: context, labelsString: !b.labelsString.isEmpty,
                result: result)
            return
        }
        for feed in b.feeds {
            let slot = context.slots[feed.slot]
            if feed.rank1 { slot.setShape(rows) } else { slot.setShape(rows, feed.columns) }
            let k = feed.columns
            switch feed.kind {
            case .string:
                slot.s.removeAll(keepingCapacity: true)
                if k == 1 {
                    slot.s.append(contentsOf: strings[feed.offset])
                } else {
                    for r in 0..<rows { for j in 0..<k { slot.s.append(strings[feed.offset + j][r]) } }
                }
            case .float:
                slot.resizeF(rows * k)
                slot.f.withUnsafeMutableBufferPointer { dst in
                    if k == nf {
                        dst.baseAddress!.update(from: numeric.baseAddress!, count: rows * k)
                    } else {
                        for r in 0..<rows {
                            let src = numeric.baseAddress! + r * nf + feed.offset
                            for j in 0..<k { dst[r * k + j] = src[j] }
                        }
                    }
                }
            case .double:
                slot.d.removeAll(keepingCapacity: true)
                for r in 0..<rows { for j in 0..<k { slot.d.append(Double(numeric[r * nf + feed.offset + j])) } }
            default:
                slot.i.removeAll(keepingCapacity: true)
                for r in 0..<rows {
                    for j in 0..<k {
                        let v = numeric[r * nf + feed.offset + j]
                        guard v.isFinite, v == v.rounded(.towardZero) else {
                            throw EngineError.input(
                                "feature \(signature.features.first { $0.kind == .numeric && $0.position == feed.offset + j }?.name ?? "?") is an integer input; \(v) is not an integer"
                            )
                        }
                        slot.i.append(Int64(v))
                    }
                }
            }
        }
        for kernel in predictPlan { try kernel.run(context) }
        // Scores / values.
        if let s = b.scoreSlot {
            let slot = context.slots[s]
            let n = rows * b.scoreColumns
            guard slot.count == n || (b.scoreColumns == 0) else {
                throw EngineError(
                    .evaluation, "score output has \(slot.count) values for \(rows) rows × \(b.scoreColumns) columns")
            }
            switch slot.kind {
            case .double:
                let d = slot.d
                for v in d { result.scores.append(Float(v)) }
            default: result.scores.append(contentsOf: slot.f)
            }
        }
        guard b.task == .classifier, let ls = b.labelSlot else { return }
        let labelSlot = context.slots[ls]
        guard labelSlot.count == rows else {
            throw EngineError(.evaluation, "label output has \(labelSlot.count) values for \(rows) rows")
        }
        result.labels.append(contentsOf: repeatElement(0, count: rows))
        result.labelIndices.append(contentsOf: repeatElement(-1, count: rows))
        result.confidences.append(contentsOf: repeatElement(1, count: rows))
        let c = b.scoreColumns
        let scores = result.scores
        result.labels.withUnsafeMutableBufferPointer { labels in
            result.labelIndices.withUnsafeMutableBufferPointer { indices in
                if labelSlot.kind == .string {
                    let useIndex =
                        labelSlot.hasLabelIndex && labelSlot.labelIndex.count == rows && !b.labelsString.isEmpty
                    let li = labelSlot.labelIndex, ls = labelSlot.s
                    for r in 0..<rows {
                        let idx = useIndex ? Int(li[r]) : (b.stringIndex[ls[r]] ?? -1)
                        labels[r] = Int64(idx)
                        indices[r] = Int32(idx)
                    }
                } else {
                    let li = labelSlot.i
                    let classes = b.labelsInt
                    for r in 0..<rows {
                        let v = li[r]
                        labels[r] = v
                        var idx: Int32 = -1
                        for k in 0..<classes.count where classes[k] == v {
                            idx = Int32(k)
                            break
                        }
                        indices[r] = idx
                    }
                }
            }
        }
        if c > 0 {
            result.confidences.withUnsafeMutableBufferPointer { conf in
                for r in 0..<rows {
                    var m = scores[r * c]
                    for k in 1..<max(c, 1) where scores[r * c + k] > m { m = scores[r * c + k] }
                    conf[r] = m
                }
            }
        }
    }

    /// Convenience over `predict(rows:numeric:strings:context:into:)` taking an array.
    public func predict(
        rows: Int, numeric: [Float], strings: [[String]] = [], context: ExecutionContext, into result: PredictionResult
    ) throws(EngineError) {
        try numeric.withUnsafeBufferPointer { (p) throws(EngineError) in
            try predict(rows: rows, numeric: p, strings: strings, context: context, into: result)
        }
    }
}
