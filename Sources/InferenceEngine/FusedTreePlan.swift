/// The serving plan for the common tree-model graph — float inputs, optionally concatenated and scaled, into one
/// TreeEnsembleClassifier — fused into a single pass: each dense row is gathered (and scaled) straight into the
/// tree row buffer, the forest is walked, and scores are finalised into the result, with no intermediate
/// tensors. Same float32 operations in the same order as the unfused kernels, so results are identical.
/// A class so that using it per call costs one retain, not one per array inside the tree kernel.
final class FusedTreePlan: Sendable {
    /// The tree classifier whose forest, post-transform and labels the fused pass uses.
    let classifier: TreeEnsembleClassifierKernel
    /// The one score column the forest writes (`TreeEnsemble.singleColumn`): detection requires every leaf to target
    /// it.
    let column: Int
    /// For each feature the trees read: its position in the dense numeric row.
    let source: [Int]
    /// Scaler parameters per tree feature, when a Scaler sits in front of the trees.
    let offset: [Float]?
    /// Scaler factors per tree feature (`(x - offset) * scale`), set together with ``offset``.
    let scale: [Float]?
    /// Imputer parameters per tree feature, when an Imputer over floats sits in front (before any Scaler): a value
    /// equal to `replaced` (NaN when `replaced` is NaN) becomes `imputed[j]`.
    let imputed: [Float]?
    /// The Imputer's `replaced_value_float` (only meaningful with ``imputed``).
    let replaced: Float

    /// Made by ``detect(plan:feeds:labelSlot:scoreSlot:)``; the per-feature arrays are already expanded to the trees'
    /// feature count.
    init(
        classifier: TreeEnsembleClassifierKernel, column: Int, source: [Int], offset: [Float]?, scale: [Float]?,
        imputed: [Float]? = nil, replaced: Float = 0
    ) {
        self.classifier = classifier
        self.column = column
        self.source = source
        self.offset = offset
        self.scale = scale
        self.imputed = imputed
        self.replaced = replaced
    }

    /// Recognises Concat? → Imputer? → Scaler? → TreeEnsembleClassifier over float feeds in the pruned plan.
    static func detect(plan: [any Kernel], feeds: [PredictBinding.Feed], labelSlot: Int?, scoreSlot: Int?)
        -> FusedTreePlan?
    {
        guard let tree = plan.last as? TreeEnsembleClassifierKernel, let col = tree.ensemble.singleColumn,
            tree.labelOut == labelSlot, tree.scoresOut == scoreSlot, plan.count <= 4,
            feeds.allSatisfy({ $0.kind == .float })
        else { return nil }
        var offset: [Float]? = nil, scale: [Float]? = nil
        var slot = tree.x
        var columns: [Int]? = nil
        var rest = plan.dropLast()
        if let scaler = rest.last as? ScalerKernel, scaler.out == slot {
            rest = rest.dropLast()
            slot = scaler.x
            offset = scaler.offset
            scale = scaler.scale
        }
        var imputedFloats: [Float]? = nil, replaced: Float = 0
        if let imputer = rest.last as? ImputerKernel, imputer.out == slot, !imputer.imputedFloats.isEmpty {
            rest = rest.dropLast()
            slot = imputer.x
            imputedFloats = imputer.imputedFloats
            replaced = imputer.replacedFloat
        }
        if let concat = rest.last as? ConcatKernel, concat.out == slot, concat.axis == 1 || concat.axis == -1 {
            rest = rest.dropLast()
            var cols: [Int] = []
            for s in concat.inputs {
                guard let feed = feeds.first(where: { $0.slot == s }), !feed.rank1 else { return nil }
                cols += (0..<feed.columns).map { feed.offset + $0 }
            }
            columns = cols
        } else if let feed = feeds.first(where: { $0.slot == slot }), !feed.rank1 {
            columns = (0..<feed.columns).map { feed.offset + $0 }
        }
        guard rest.isEmpty, let columns, columns.count >= tree.ensemble.featureCount else { return nil }
        let fc = tree.ensemble.featureCount
        let width = columns.count
        if let o = offset, o.count != 1 && o.count != width { return nil }
        if let s = scale, s.count != 1 && s.count != width { return nil }
        if let m = imputedFloats, m.count != 1 && m.count != width { return nil }
        return FusedTreePlan(
            classifier: tree, column: col, source: Array(columns[0..<fc]),
            offset: offset.map { o in (0..<fc).map { o.count == 1 ? o[0] : o[$0] } },
            scale: scale.map { s in (0..<fc).map { s.count == 1 ? s[0] : s[$0] } },
            imputed: imputedFloats.map { m in (0..<fc).map { m.count == 1 ? m[0] : m[$0] } }, replaced: replaced)
    }

    /// Scores `n` rows of `numeric` (row `r` starts at `r * nf`) and appends labels, label indices, scores and
    /// confidences to `result`, which the caller has emptied.
    ///
    /// Gathers each row into `ctx.treeRows` (imputing and scaling on the way, with the NaN padding column the tree
    /// kernels expect), sums the forest into `ctx.scratch2` and finalises each row with the classifier's
    /// post-transform. With `labelsString` the labels are indices into the string class labels. Grows the context's
    /// buffers on first use only.
    func run(
        rows n: Int, numeric: UnsafeBufferPointer<Float>, stride nf: Int, context ctx: ExecutionContext,
        labelsString: Bool, result: PredictionResult
    ) {
        let ensemble = classifier.ensemble
        let fc = ensemble.featureCount
        let rs = ensemble.rowStride
        let total = n * rs
        if ctx.treeRows.count < total {
            ctx.treeRows.append(contentsOf: repeatElement(0, count: total - ctx.treeRows.count))
        }
        if ctx.scratch2.count < n { ctx.scratch2.append(contentsOf: repeatElement(0, count: n - ctx.scratch2.count)) }
        let c = classifier.classCount
        result.scores.append(contentsOf: repeatElement(0, count: n * c))
        result.labels.append(contentsOf: repeatElement(0, count: n))
        result.labelIndices.append(contentsOf: repeatElement(0, count: n))
        result.confidences.append(contentsOf: repeatElement(0, count: n))
        let src = numeric.baseAddress!
        ctx.treeRows.withUnsafeMutableBufferPointer { rowsBuffer in
            let buf = rowsBuffer.baseAddress!
            source.withUnsafeBufferPointer { map in
                for r in 0..<n {
                    let row = src + r * nf
                    let out = buf + r * rs
                    if let imputed {
                        let nanMarker = replaced.isNaN
                        for j in 0..<fc {
                            let v = row[map[j]]
                            out[j] = (nanMarker ? v.isNaN : v == replaced) ? imputed[j] : v
                        }
                        if let offset, let scale { for j in 0..<fc { out[j] = (out[j] - offset[j]) * scale[j] } }
                    } else if let offset, let scale {
                        for j in 0..<fc { out[j] = (row[map[j]] - offset[j]) * scale[j] }
                    } else {
                        for j in 0..<fc { out[j] = row[map[j]] }
                    }
                    out[fc] = .nan
                }
            }
            ctx.scratch2.withUnsafeMutableBufferPointer { acc in
                for r in 0..<n { acc[r] = 0 }
                ensemble.sumSingleColumn(UnsafePointer(buf), n, acc.baseAddress!)
                withUnsafeTemporaryAllocation(of: Float.self, capacity: c) { s in
                    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: c) { h in
                        result.scores.withUnsafeMutableBufferPointer { scores in
                            result.labels.withUnsafeMutableBufferPointer { labels in
                                result.labelIndices.withUnsafeMutableBufferPointer { indices in
                                    result.confidences.withUnsafeMutableBufferPointer { conf in
                                        let hasTrees: UInt8 = ensemble.treeCount > 0 ? 1 : 0
                                        for r in 0..<n {
                                            for k in 0..<c {
                                                s[k] = 0
                                                h[k] = 0
                                            }
                                            s[column] = acc[r]
                                            h[column] = hasTrees
                                            let out = scores.baseAddress! + r * c
                                            let label = classifier.finalize(s.baseAddress!, h.baseAddress!, out)
                                            var m = out[0]
                                            for k in 1..<c where out[k] > m { m = out[k] }
                                            conf[r] = m
                                            if labelsString {
                                                let idx = min(max(label.value, 0), classifier.labelsString.count - 1)
                                                labels[r] = Int64(idx)
                                                indices[r] = Int32(idx)
                                            } else if label.literal {
                                                let v = Int64(label.value)
                                                labels[r] = v
                                                var idx: Int32 = -1
                                                for k in 0..<classifier.labelsInt.count
                                                where classifier.labelsInt[k] == v {
                                                    idx = Int32(k)
                                                    break
                                                }
                                                indices[r] = idx
                                            } else {
                                                let idx = min(max(label.value, 0), classifier.labelsInt.count - 1)
                                                labels[r] = classifier.labelsInt[idx]
                                                indices[r] = Int32(idx)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
