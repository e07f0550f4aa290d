/// The serving plan for a multi-class linear classifier over one block of float features — `LinearClassifier`
/// (2–8 classes, integer labels), optionally followed by an L1 `Normalizer` of its scores (what `convert_sparkml`
/// writes for a multinomial LogisticRegression) — fused into one pass per row: the dense row is read where the
/// caller left it, the class scores are accumulated in SIMD lanes, and the label, the scores and the confidence go
/// straight into the result, with no intermediate tensors.
///
/// Same float32 operations in the same order as `LinearClassifierKernel`, `NormalizerKernel` and the generic tail
/// of `predict`, so results are identical (checked by `PredictPathTests` against the general path).
final class FusedLinearPlan: Sendable {
    /// The classifier kernel whose coefficients, intercepts, labels and post-transform the fused pass uses.
    let classifier: LinearClassifierKernel
    /// Offset of the classifier's first feature in the dense numeric row.
    let offset: Int
    /// Whether the scores are divided by their L1 norm after the post-transform (the fused Normalizer).
    let normalizeL1: Bool
    /// Per class, the index reported in `labelIndices`: the first class with the same label.
    let labelIndexOf: [Int32]

    /// Made by ``detect(plan:feeds:labelSlot:scoreSlot:labels:scoreColumns:)`` once the plan's shape is checked.
    init(classifier: LinearClassifierKernel, offset: Int, normalizeL1: Bool, labelIndexOf: [Int32]) {
        self.classifier = classifier
        self.offset = offset
        self.normalizeL1 = normalizeL1
        self.labelIndexOf = labelIndexOf
    }

    /// Recognises LinearClassifier → Normalizer(L1)? over one float feed in the pruned serving plan.
    /// `labels` and `scoreColumns` are the binding's (the signature's class labels and score width): the plan is
    /// used only when they are the classifier's own.
    static func detect(
        plan: [any Kernel], feeds: [PredictBinding.Feed], labelSlot: Int?, scoreSlot: Int?, labels: [Int64],
        scoreColumns: Int
    ) -> FusedLinearPlan? {
        guard let lc = plan.first as? LinearClassifierKernel, !lc.coefficientsByFeature.isEmpty,
            labels == lc.labelsInt, scoreColumns == lc.classCount,
            lc.labelsString.isEmpty, lc.labelsInt.count == lc.classCount, !lc.addSecondClass,
            lc.labelOut == labelSlot, lc.scoresOut >= 0,
            let feed = feeds.first(where: { $0.slot == lc.x }), feed.kind == .float, !feed.rank1,
            feed.columns == lc.coefficientsByFeature.count
        else { return nil }
        var normalize = false
        switch plan.count {
        case 1:
            guard lc.scoresOut == scoreSlot else { return nil }
        case 2:
            guard let norm = plan[1] as? NormalizerKernel, norm.norm == .l1, norm.x == lc.scoresOut,
                norm.out == scoreSlot
            else { return nil }
            normalize = true
        default: return nil
        }
        let indexOf = labels.map { v in Int32(labels.firstIndex(of: v)!) }
        return FusedLinearPlan(
            classifier: lc, offset: feed.offset, normalizeL1: normalize, labelIndexOf: indexOf)
    }

    /// Scores `n` rows of `numeric` (row `r` starts at `r * nf`; the classifier's features start at ``offset``) and
    /// appends labels, label indices, scores and confidences to `result`, which the caller has emptied.
    ///
    /// Runs on the caller's thread; `result`'s arrays keep their capacity, so steady-state calls allocate nothing.
    func run(rows n: Int, numeric: UnsafeBufferPointer<Float>, stride nf: Int, result: PredictionResult) {
        let lc = classifier
        let c = lc.classCount
        let f = lc.coefficientsByFeature.count
        result.scores.append(contentsOf: repeatElement(0, count: n * c))
        result.labels.append(contentsOf: repeatElement(0, count: n))
        result.labelIndices.append(contentsOf: repeatElement(0, count: n))
        result.confidences.append(contentsOf: repeatElement(0, count: n))
        let src = numeric.baseAddress! + offset
        let intercepts = lc.interceptLanes
        lc.coefficientsByFeature.withUnsafeBufferPointer { wv in
            lc.labelsInt.withUnsafeBufferPointer { labelsInt in
                labelIndexOf.withUnsafeBufferPointer { indexOf in
                    result.scores.withUnsafeMutableBufferPointer { sp in
                        result.labels.withUnsafeMutableBufferPointer { labels in
                            result.labelIndices.withUnsafeMutableBufferPointer { indices in
                                for r in 0..<n {
                                    let row = src + r * nf
                                    var acc = SIMD8<Float>(repeating: 0)
                                    for j in 0..<f { acc += SIMD8<Float>(repeating: row[j]) * wv[j] }
                                    acc += intercepts
                                    let out = sp.baseAddress! + r * c
                                    for k in 0..<c { out[k] = acc[k] }
                                    var labelIdx = 0
                                    var best = out[0]
                                    for k in 1..<c where out[k] > best {
                                        best = out[k]
                                        labelIdx = k
                                    }
                                    labels[r] = labelsInt[labelIdx]
                                    indices[r] = indexOf[labelIdx]
                                }
                                let total = n * c
                                if lc.post == .logistic {
                                    for k in 0..<total { sp[k] = PostTransform.logistic(sp[k]) }
                                } else {
                                    for r in 0..<n { lc.post.apply(sp.baseAddress! + r * c, c) }
                                }
                            }
                        }
                    }
                }
            }
        }
        result.scores.withUnsafeMutableBufferPointer { sp in
            result.confidences.withUnsafeMutableBufferPointer { conf in
                for r in 0..<n {
                    let p = sp.baseAddress! + r * c
                    if normalizeL1 {
                        var s: Float = 0
                        for j in 0..<c { s += Swift.abs(p[j]) }
                        if s != 0 { for j in 0..<c { p[j] /= s } }
                    }
                    var m = p[0]
                    for k in 1..<c where p[k] > m { m = p[k] }
                    conf[r] = m
                }
            }
        }
    }
}
