import ONNXFormat

/// ai.onnx.ml TreeEnsembleClassifier with onnxruntime's scoring: float32 sums in tree order, base values,
/// its binary-case rules for labels and the second probability column, and the post-transforms.
struct TreeEnsembleClassifierKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the input rows, of the label output and of the scores output (-1 when the node omits it).
    let x: Int, labelOut: Int, scoresOut: Int
    /// The flattened forest; its columns are the classes.
    let ensemble: TreeEnsemble
    /// `classlabels_int64s` (empty when the labels are strings).
    let labelsInt: [Int64]
    /// `classlabels_strings` (empty when the labels are integers).
    let labelsString: [String]
    /// `base_values`, added to the raw sums before the post-transform (see ``finalize(_:_:_:)``).
    let baseValues: [Float]
    /// Applied to each row's class scores in ``finalize(_:_:_:)``, following onnxruntime's binary-case rules.
    let post: PostTransform
    /// Two classes and all leaf weights on one column: onnxruntime's binary case, where the label comes from the
    /// positive score against 0.5 (non-negative weights) or 0 and the other column is derived from it.
    let binaryCase: Bool

    /// Builds the kernel from the node's attributes; outputs are the labels `[N]` (int64 or string) and the scores `[N,
    /// classes]`.
    ///
    /// - Throws: ``EngineError`` when both or neither label lists are set, there are fewer than two classes, the
    ///   ensemble is malformed (see ``TreeEnsemble``) or the input has fewer columns than the trees read.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...1)
        try nb.requireOutputs(1)
        _ = try nb.inputKind(0, allowed: [.float, .double, .int64])
        let labelsS = try nb.strings("classlabels_strings") ?? []
        let labelsI = try nb.ints("classlabels_int64s") ?? []
        guard labelsS.isEmpty != labelsI.isEmpty else {
            throw nb.fail("exactly one of classlabels_strings and classlabels_int64s must be set")
        }
        let classes = max(labelsS.count, labelsI.count)
        guard classes >= 2 else { throw nb.fail("needs at least two class labels, has \(classes)") }
        let ensemble = try TreeEnsemble(nb, prefix: "class", columns: classes)
        var base = try nb.floats("base_values") ?? []
        if base.isEmpty { base = try nb.floats("base_values_as_tensor") ?? [] }
        if let d = try nb.input(0).lastDim, d < ensemble.featureCount {
            throw nb.fail("input has \(d) columns but the trees read feature \(ensemble.featureCount - 1)")
        }
        let rows = try nb.input(0).shape?.first ?? nil
        nb.setOutput(
            0,
            ValueType(labelsS.isEmpty ? .int64 : .string, shape: [rows], onnxType: labelsS.isEmpty ? .int64 : .string))
        nb.setOutput(1, ValueType(.float, shape: [rows, classes], onnxType: .float))
        return TreeEnsembleClassifierKernel(
            name: nb.node.name, x: nb.inputs[0], labelOut: nb.outputs[0],
            scoresOut: nb.outputs.count > 1 ? nb.outputs[1] : -1, ensemble: ensemble, labelsInt: labelsI,
            labelsString: labelsS, baseValues: base, post: try PostTransform.parse(nb),
            binaryCase: classes == 2 && ensemble.distinctWeightColumns == 1)
    }

    /// Number of classes (score columns).
    var classCount: Int { ensemble.columns }

    /// Scores every row: sums the leaf weights per class, then finalises each row into probabilities and a label.
    /// String labels also record each row's class index in the label slot (`Slot.labelIndex`).
    ///
    /// - Throws: ``EngineError`` when the input's shape or type does not fit the ensemble (see
    ///   `TreeEnsemble.prepareRows`).
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let xs = ctx.slots[x]
        let n = try ensemble.prepareRows(xs, &ctx.treeRows, name: name)
        let c = classCount
        // Raw per-class sums.
        ctx.scratch.removeAll(keepingCapacity: true)
        ctx.scratch.append(contentsOf: repeatElement(0, count: n * c))
        ctx.scratchI.removeAll(keepingCapacity: true)
        let useStrings = !labelsString.isEmpty
        let (so, lo) = ctx.classifierOutputs(
            scores: scoresOut, labels: labelOut, rows: n, columns: c, stringLabels: useStrings)
        if ctx.scratch2.count < n * c {
            ctx.scratch2.append(contentsOf: repeatElement(0, count: n * c - ctx.scratch2.count))
        }
        var has = ctx.takeFlags(ensemble.singleColumn == nil ? n * c : 0)
        defer { ctx.flags = has }
        ctx.treeRows.withUnsafeBufferPointer { rowsP in
            ctx.scratch.withUnsafeMutableBufferPointer { sp in
                if let col = ensemble.singleColumn {
                    // Sum straight into a per-row accumulator (reuse scratch2), then spread to the column.
                    ctx.scratch2.withUnsafeMutableBufferPointer { acc in
                        for r in 0..<n { acc[r] = 0 }
                        ensemble.sumSingleColumn(rowsP.baseAddress!, n, acc.baseAddress!)
                        for r in 0..<n { sp[r * c + col] = acc[r] }
                    }
                } else if ensemble.sumColumns(rowsP.baseAddress!, n, sp.baseAddress!, columns: c) {
                    ensemble.markColumns(&has, rows: n, columns: c)
                } else {
                    has.withUnsafeMutableBufferPointer { hp in
                        ensemble.accumulate(rowsP.baseAddress!, n, .sum, sp.baseAddress!, hp.baseAddress!)
                    }
                }
            }
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: c) { hasRow in
            ctx.scratch.withUnsafeMutableBufferPointer { sp in
                so.f.withUnsafeMutableBufferPointer { op in
                    for r in 0..<n {
                        if let col = ensemble.singleColumn {
                            for k in 0..<c { hasRow[k] = (k == col && ensemble.treeCount > 0) ? 1 : 0 }
                        } else {
                            for k in 0..<c { hasRow[k] = has[r * c + k] }
                        }
                        let label = finalize(sp.baseAddress! + r * c, hasRow.baseAddress!, op.baseAddress! + r * c)
                        if useStrings {
                            let idx = min(max(label.value, 0), labelsString.count - 1)
                            lo.s[r] = labelsString[idx]
                            lo.labelIndex.append(Int32(idx))
                        } else {
                            lo.i[r] =
                                label.literal
                                ? Int64(label.value) : labelsInt[min(max(label.value, 0), labelsInt.count - 1)]
                        }
                    }
                }
            }
        }
    }

    /// A row's label as ``finalize(_:_:_:)`` decides it: a class index, or a literal value in onnxruntime's binary
    /// case.
    struct Label: Comparable {
        /// Class index, or the literal label 0/1 when `literal` is set.
        var value: Int
        /// True when onnxruntime returns the literal 0/1 instead of a class label (binary, mixed columns).
        var literal: Bool
        static func < (a: Label, b: Label) -> Bool { a.value < b.value }
    }

    /// onnxruntime's TreeAggregatorClassifier::FinalizeScores for one row: `s` raw sums (c entries), `h` which
    /// classes received a weight; writes c probabilities to `out` and returns the label.
    @inline(__always)
    func finalize(
        _ s: UnsafeMutablePointer<Float>, _ h: UnsafeMutablePointer<UInt8>, _ out: UnsafeMutablePointer<Float>
    ) -> Label {
        let c = classCount
        if c > 2 {
            for k in 0..<min(baseValues.count, c) {
                if h[k] == 0 {
                    h[k] = 1
                    s[k] = baseValues[k]
                } else {
                    s[k] += baseValues[k]
                }
            }
            var best = -1
            var bestW: Float = 0
            for k in 0..<c where h[k] != 0 && (best == -1 || s[k] > bestW) {
                best = k
                bestW = s[k]
            }
            for k in 0..<c { out[k] = h[k] != 0 ? s[k] : 0 }
            post.apply(out, c)
            return Label(value: max(best, 0), literal: false)
        }
        // Binary.
        var size = 2
        var add = -1
        if baseValues.count == 2 {
            if h[1] != 0 {
                s[1] = baseValues[1] + s[0]
                s[0] = -s[1]
            } else {
                s[1] += baseValues[1]
                s[0] += baseValues[0]
            }
        } else if baseValues.count == 1 {
            s[0] += baseValues[0]
            if h[1] == 0 { size = 1 }
        } else if baseValues.isEmpty {
            add = 3
            if h[1] == 0 { size = 1 }
        }
        // _set_score_binary
        let pos: Float
        if size == 2 && h[1] != 0 { pos = s[1] } else { pos = h[0] != 0 ? s[0] : 0 }
        var label: Label
        if binaryCase {
            if ensemble.allWeightsNonNegative {
                if pos > 0.5 {
                    add = 0; label = Label(value: 1, literal: false)
                } else {
                    add = 1; label = Label(value: 0, literal: false)
                }
            } else {
                if pos > 0 {
                    add = 2; label = Label(value: 1, literal: false)
                } else {
                    add = 3; label = Label(value: 0, literal: false)
                }
            }
        } else {
            label = Label(value: pos > 0 ? 1 : 0, literal: true)
        }
        // write_scores
        if size == 2 {
            out[0] = h[0] != 0 ? s[0] : 0
            out[1] = h[1] != 0 ? s[1] : 0
            post.apply(out, 2)
        } else {
            let v = s[0]
            if post == .probit {
                out[0] = PostTransform.probit(v)
                out[1] = 0
            } else {
                switch add {
                case 0, 1:
                    out[0] = 1 - v
                    out[1] = v
                case 2, 3:
                    if post == .logistic {
                        out[0] = PostTransform.logistic(-v)
                        out[1] = PostTransform.logistic(v)
                    } else {
                        out[0] = -v
                        out[1] = v
                    }
                default:
                    out[0] = v
                    out[1] = 0
                }
            }
        }
        return label
    }
}

/// ai.onnx.ml TreeEnsembleRegressor (SUM, AVERAGE, MIN, MAX; base values; post-transforms).
struct TreeEnsembleRegressorKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the input rows and of the `[N, targets]` output.
    let x: Int, out: Int
    /// The flattened forest; its columns are the regression targets.
    let ensemble: TreeEnsemble
    /// `base_values`, one per target (a single value for one target), added after aggregation.
    let baseValues: [Float]
    /// How the leaf weights of the trees combine per target (`aggregate_function`).
    let aggregate: TreeAggregate
    /// Applied to each row's targets after the base values (only PROBIT changes a single target).
    let post: PostTransform

    /// Builds the kernel from the node's attributes; the output is `[N, n_targets]` floats.
    ///
    /// - Throws: ``EngineError`` for `n_targets` outside 1...65535, an unknown `aggregate_function`, a malformed
    ///   ensemble or an input with fewer columns than the trees read.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...1)
        try nb.requireOutputs(1)
        _ = try nb.inputKind(0, allowed: [.float, .double, .int64])
        let targets = Int(try nb.int("n_targets", default: 1))
        guard targets >= 1, targets < 1 << 16 else { throw nb.fail("n_targets must be between 1 and 65535") }
        let ensemble = try TreeEnsemble(nb, prefix: "target", columns: targets)
        var base = try nb.floats("base_values") ?? []
        if base.isEmpty { base = try nb.floats("base_values_as_tensor") ?? [] }
        let agg: TreeAggregate
        switch try nb.string("aggregate_function", default: "SUM") {
        case "SUM": agg = .sum
        case "AVERAGE": agg = .average
        case "MIN": agg = .min
        case "MAX": agg = .max
        case let other: throw nb.fail("aggregate_function \(other) is not supported")
        }
        if let d = try nb.input(0).lastDim, d < ensemble.featureCount {
            throw nb.fail("input has \(d) columns but the trees read feature \(ensemble.featureCount - 1)")
        }
        nb.setOutput(0, ValueType(.float, shape: [try nb.input(0).shape?.first ?? nil, targets], onnxType: .float))
        return TreeEnsembleRegressorKernel(
            name: nb.node.name, x: nb.inputs[0], out: nb.outputs[0], ensemble: ensemble, baseValues: base,
            aggregate: agg, post: try PostTransform.parse(nb))
    }

    /// Aggregates the leaf weights per row and target, adds the base values and applies the post-transform. AVERAGE
    /// divides by the number of trees; MIN and MAX use the base value alone for a target no leaf reached.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let xs = ctx.slots[x], o = ctx.slots[out]
        let n = try ensemble.prepareRows(xs, &ctx.treeRows, name: name)
        let c = ensemble.columns
        o.kind = .float
        o.setShape(n, c)
        o.f.removeAll(keepingCapacity: true)
        o.f.append(contentsOf: repeatElement(0, count: n * c))
        let fast = ensemble.singleColumn != nil && c == 1 && (aggregate == .sum || aggregate == .average)
        var has = ctx.takeFlags(fast ? 0 : n * c)
        defer { ctx.flags = has }
        ctx.treeRows.withUnsafeBufferPointer { rowsP in
            o.f.withUnsafeMutableBufferPointer { op in
                if fast {
                    ensemble.sumSingleColumn(rowsP.baseAddress!, n, op.baseAddress!)
                } else if aggregate == .sum || aggregate == .average,
                    ensemble.sumColumns(rowsP.baseAddress!, n, op.baseAddress!, columns: c)
                {
                    ensemble.markColumns(&has, rows: n, columns: c)
                } else {
                    has.withUnsafeMutableBufferPointer { hp in
                        ensemble.accumulate(rowsP.baseAddress!, n, aggregate, op.baseAddress!, hp.baseAddress!)
                    }
                }
                let trees = Float(ensemble.treeCount)
                for r in 0..<n {
                    let s = op.baseAddress! + r * c
                    if c == 1 {
                        let origin: Float = baseValues.count == 1 ? baseValues[0] : 0
                        var v = s[0]
                        switch aggregate {
                        case .sum: v += origin
                        case .average: v = v / trees + origin
                        case .min, .max: v = (fast || has[r] != 0) ? v + origin : origin
                        }
                        s[0] = post == .probit ? PostTransform.probit(v) : v
                    } else {
                        let useBase = baseValues.count == c
                        for k in 0..<c {
                            switch aggregate {
                            case .sum: if useBase { s[k] += baseValues[k] }
                            case .average: s[k] = s[k] / trees + (useBase ? baseValues[k] : 0)
                            case .min, .max: s[k] = (useBase ? baseValues[k] : 0) + (has[r * c + k] != 0 ? s[k] : 0)
                            }
                        }
                        post.apply(s, c)
                    }
                }
            }
        }
    }
}
