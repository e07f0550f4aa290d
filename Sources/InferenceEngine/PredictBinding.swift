import ONNXFormat

/// How the fast prediction path maps dense features onto graph inputs and outputs onto results.
///
/// A class, not a struct: every `predict` call reads it, and copying a struct of arrays would retain and release
/// each of them per call.
final class PredictBinding: Sendable {
    /// One graph input fed by `predict`: which slot it fills and where its columns sit in the caller's data.
    struct Feed: Sendable {
        /// Slot of the graph input (or of a Concat's output when the Concat was fed directly).
        var slot: Int
        /// Element kind of the graph input: string feeds come from the string columns, every other kind is converted
        /// from the float block (an integer input must receive whole numbers).
        var kind: ElementKind
        /// Columns per row this input takes from the dense block.
        var columns: Int
        /// Feed as [rows] instead of [rows, columns].
        var rank1: Bool
        /// Offset in the numeric block (numeric feeds) or index of the first string column (string feeds).
        var offset: Int
    }

    /// The inputs `predict` fills, each from its columns of the dense numeric block or from its string columns.
    let feeds: [Feed]
    /// Why the fast path cannot be used (dynamic feature width, non-tensor input), or nil.
    let unusableReason: String?
    /// Classifier when the model has a label output, regressor otherwise.
    let task: ModelSignature.Task
    /// Slot of the label output (classifiers), read into `PredictionResult.labels`.
    let labelSlot: Int?
    /// Slot of the scores: the score output, or the input of its ZipMap so that the float block is read directly.
    let scoreSlot: Int?
    /// Score columns per row (classes or regression targets); 0 when unknown at load.
    let scoreColumns: Int
    /// Integer class labels in score-column order (empty for string labels).
    let labelsInt: [Int64]
    /// String class labels in score-column order (empty for integer labels).
    let labelsString: [String]
    /// Index of each string class label, for label outputs that carry no per-row class index.
    let stringIndex: [String: Int]
    /// Numeric values per row in the dense block.
    let numericCount: Int
    /// String columns `predict` expects.
    let stringCount: Int
    /// Set when the serving plan is a single tree-ensemble classifier over float features (fused fast path).
    let fusedTree: FusedTreePlan?
    /// Set when the serving plan is a multi-class linear classifier (and L1 normalizer) over one float block.
    let fusedLinear: FusedLinearPlan?

    /// Stores the binding that `PredictBinder.bind()` worked out.
    init(
        feeds: [Feed], unusableReason: String?, task: ModelSignature.Task, labelSlot: Int?, scoreSlot: Int?,
        scoreColumns: Int, labelsInt: [Int64], labelsString: [String], stringIndex: [String: Int], numericCount: Int,
        stringCount: Int, fusedTree: FusedTreePlan?, fusedLinear: FusedLinearPlan? = nil
    ) {
        self.feeds = feeds
        self.unusableReason = unusableReason
        self.task = task
        self.labelSlot = labelSlot
        self.scoreSlot = scoreSlot
        self.scoreColumns = scoreColumns
        self.labelsInt = labelsInt
        self.labelsString = labelsString
        self.stringIndex = stringIndex
        self.numericCount = numericCount
        self.stringCount = stringCount
        self.fusedTree = fusedTree
        self.fusedLinear = fusedLinear
    }
}

/// Works out the signature, the feature layout and the pruned plan for `predict`.
struct PredictBinder {
    /// The parsed model.
    let model: ONNXModel
    /// Load-time type of every slot (nil for an omitted output).
    let types: [ValueType?]
    /// The full plan, after dense fusion.
    let plan: [any Kernel]
    /// Slot → index in `plan` of the kernel that writes it.
    let producerOf: [Int: Int]
    /// For each kernel in `plan`, the slots it reads (used to prune the serving plan).
    let kernelInputs: [[Int]]
    /// Initializer value by slot, for class labels held in constants.
    let constantOf: [Int: ONNXTensor]
    /// Slot of each graph input, in graph order.
    let inputSlots: [Int]
    /// The graph inputs as the signature reports them.
    let sigInputs: [ModelSignature.Value]
    /// Slot of each graph output, in graph order.
    let outputSlots: [Int]
    /// The graph outputs as the signature reports them.
    let sigOutputs: [ModelSignature.Value]
    /// Optional names for the numeric features, in dense order; their count must match.
    let featureNames: [String]?
    /// Whether `feedConcatenatedBlocks` may rewrite the serving plan.
    var rewrites = true

    /// Lays the inputs out as dense features (numeric block and string columns, in input order), picks the label and
    /// score outputs, finds the class labels, prunes the plan to what those outputs need and detects the fused plans.
    ///
    /// A model whose inputs do not fit the dense layout still binds: `unusableReason` says why and only the general
    /// ``CompiledModel/run(_:context:)`` path serves it.
    ///
    /// - Throws: ``EngineError`` with `.invalidInput` when `featureNames` does not name every numeric feature.
    func bind() throws(EngineError) -> (ModelSignature, PredictBinding, [any Kernel]) {
        // Features in dense order.
        var features: [ModelSignature.Feature] = []
        var feeds: [PredictBinding.Feed] = []
        var numeric = 0, strings = 0
        var unusable: String? = nil
        for (k, input) in sigInputs.enumerated() {
            let t = types[inputSlots[k]]!
            let shape = input.shape ?? [nil, 1]
            var columns = 1
            var rank1 = false
            switch shape.count {
            case 1: rank1 = true
            case 2:
                if let c = shape[1] {
                    columns = c
                } else {
                    unusable = "input \"\(input.name)\" has a dynamic feature dimension"
                }
            default:
                if shape.count == 0 {
                    rank1 = true
                } else {
                    unusable = "input \"\(input.name)\" has rank \(shape.count); the dense layout needs [N] or [N, k]"
                }
            }
            let isString = t.kind == .string
            for c in 0..<columns {
                let name = columns == 1 ? input.name : "\(input.name)[\(c)]"
                features.append(
                    .init(
                        name: name, kind: isString ? .string : .numeric, inputIndex: k, column: c,
                        position: isString ? strings + c : numeric + c))
            }
            feeds.append(
                .init(
                    slot: inputSlots[k], kind: t.kind, columns: columns, rank1: rank1,
                    offset: isString ? strings : numeric))
            if isString { strings += columns } else { numeric += columns }
        }
        if let names = featureNames {
            guard names.count == numeric else {
                let columns = features.filter { $0.kind == .numeric }.map(\.name).joined(separator: ", ")
                throw EngineError(
                    .invalidInput,
                    "\(names.count) feature names given for \(numeric) numeric features (the model's columns: \(columns))"
                )
            }
            var k = 0
            for i in features.indices where features[i].kind == .numeric {
                features[i].name = names[k]
                k += 1
            }
        }
        // Label and score outputs.
        var labelIdx: Int? = nil
        var scoreIdx: Int? = nil
        for (k, slot) in outputSlots.enumerated() {
            guard let t = types[slot] else { continue }
            let rank = t.shape?.count ?? 1
            if labelIdx == nil, t.kind == .int64 || t.kind == .string, rank <= 1 || (rank == 2 && t.shape?[1] == 1) {
                labelIdx = k
            } else if scoreIdx == nil, t.kind == .mapSequence || t.kind == .float || t.kind == .double {
                scoreIdx = k
            }
        }
        let task: ModelSignature.Task = labelIdx != nil ? .classifier : .regressor
        if task == .regressor && scoreIdx == nil {
            unusable = unusable ?? "the model has neither a label output nor a numeric output"
        }
        // Score slot: the ZipMap's input when the scores are a ZipMap.
        var scoreSlot = scoreIdx.map { outputSlots[$0] }
        var labels: ModelSignature.ClassLabels = .none
        if let s = scoreSlot, let p = producerOf[s], let zip = plan[p] as? ZipMapKernel {
            scoreSlot = zip.x
            switch zip.keys {
            case .int64(let v): labels = .int64(v)
            case .string(let v): labels = .string(v)
            }
        }
        var scoreColumns = 0
        if let s = scoreSlot, let t = types[s] {
            if let shape = t.shape, shape.count == 2, let c = shape[1] {
                scoreColumns = c
            } else if let shape = t.shape, shape.count <= 1 {
                scoreColumns = 1
            }
        }
        if task == .classifier, labels == .none {
            for kernel in plan.reversed() {
                if let k = kernel as? TreeEnsembleClassifierKernel {
                    labels = k.labelsString.isEmpty ? .int64(k.labelsInt) : .string(k.labelsString)
                    break
                }
                if let k = kernel as? LinearClassifierKernel {
                    if !k.labelsString.isEmpty {
                        labels = .string(k.labelsString)
                    } else if !k.labelsInt.isEmpty {
                        labels = .int64(k.labelsInt)
                    }
                    break
                }
                if let k = kernel as? ArrayFeatureExtractorKernel, let c = constantOf[k.x] {
                    if case .string(let v) = c.storage { labels = .string(v) } else { labels = .int64(c.int64Values) }
                    break
                }
            }
            if labels == .none && scoreColumns > 0 { labels = .int64((0..<Int64(scoreColumns)).map { $0 }) }
        }
        if task == .classifier, scoreColumns > 0, labels.count != scoreColumns {
            unusable = unusable ?? "\(labels.count) class labels for \(scoreColumns) score columns"
        }
        // Pruned plan: kernels the label and score slots depend on.
        var needed = Set<Int>()
        var stack: [Int] = []
        for s in [labelIdx.map { outputSlots[$0] }, scoreSlot] { if let s { stack.append(s) } }
        var seen = Set<Int>()
        while let s = stack.popLast() {
            guard seen.insert(s).inserted, let p = producerOf[s] else { continue }
            needed.insert(p)
            stack.append(contentsOf: kernelInputs[p])
        }
        var predictIndices = plan.indices.filter { needed.contains($0) }
        if rewrites {
            feedConcatenatedBlocks(
                &feeds, &predictIndices,
                protected: Set([labelIdx.map { outputSlots[$0] }, scoreSlot].compactMap { $0 }))
        }
        let predictPlan = predictIndices.map { plan[$0] }
        // NaN handling.
        // NaN is a usable input when the plan deals with it before anything propagates it into every score:
        // an Imputer for NaN, or a tree ensemble (missing-value tracking), reached before the first linear,
        // matrix, normalizing or softmax kernel. Element-wise kernels before it (Scaler, Cast) keep NaN in its
        // own column, which the tree then treats as missing, as onnxruntime does.
        var nanCapable = false
        for kernel in plan {
            if let imp = kernel as? ImputerKernel, imp.replacedFloat.isNaN {
                nanCapable = true
                break
            }
            if kernel is TreeEnsembleClassifierKernel || kernel is TreeEnsembleRegressorKernel {
                nanCapable = true
                break
            }
            if kernel is LinearClassifierKernel || kernel is LinearRegressorKernel || kernel is MatMulKernel
                || kernel is GemmKernel || kernel is DenseKernel || kernel is NormalizerKernel
                || kernel is SoftmaxKernel
            {
                break
            }
        }
        var stringIndex: [String: Int] = [:]
        if case .string(let v) = labels {
            for (i, s) in v.enumerated() where stringIndex[s] == nil { stringIndex[s] = i }
        }
        let labelsInt: [Int64]
        if case .int64(let v) = labels { labelsInt = v } else { labelsInt = [] }
        let labelsString: [String]
        if case .string(let v) = labels { labelsString = v } else { labelsString = [] }
        let signature = ModelSignature(
            inputs: sigInputs, outputs: sigOutputs, task: task, classLabels: labels, features: features,
            numericFeatureCount: numeric, stringFeatureCount: strings,
            labelOutput: labelIdx.map { sigOutputs[$0].name },
            scoreOutput: scoreIdx.map { sigOutputs[$0].name }, scoreColumns: scoreColumns,
            acceptsNaN: nanCapable)
        let binding = PredictBinding(
            feeds: feeds, unusableReason: unusable, task: task, labelSlot: labelIdx.map { outputSlots[$0] },
            scoreSlot: scoreSlot, scoreColumns: scoreColumns, labelsInt: labelsInt, labelsString: labelsString,
            stringIndex: stringIndex, numericCount: numeric, stringCount: strings,
            fusedTree: FusedTreePlan.detect(
                plan: predictPlan, feeds: feeds, labelSlot: labelIdx.map { outputSlots[$0] }, scoreSlot: scoreSlot),
            fusedLinear: FusedLinearPlan.detect(
                plan: predictPlan, feeds: feeds, labelSlot: labelIdx.map { outputSlots[$0] }, scoreSlot: scoreSlot,
                labels: labelsInt, scoreColumns: scoreColumns))
        return (signature, binding, predictPlan)
    }

    /// Feeds the output of a `Concat` (axis 1) of float [N, k] inputs that are contiguous in the dense row
    /// straight from the caller's numeric block, and drops the Concat from the serving plan.
    ///
    /// Spark ML and scikit-learn converters start most graphs by concatenating one [N, 1] input per feature: the
    /// fast path would copy every column into its own slot and the Concat would copy them all again. The rows of
    /// the concatenation are exactly the caller's dense rows (or a contiguous run of their columns), so one copy
    /// gives the same tensor. Applied only when the Concat's inputs are read by no other serving kernel and are
    /// neither the label nor the score output, and each feed appears once.
    func feedConcatenatedBlocks(_ feeds: inout [PredictBinding.Feed], _ indices: inout [Int], protected: Set<Int>) {
        var k = 0
        while k < indices.count {
            defer { k += 1 }
            guard let concat = plan[indices[k]] as? ConcatKernel, concat.axis == 1 || concat.axis == -1,
                concat.inputs.count >= 2, Set(concat.inputs).count == concat.inputs.count,
                !protected.contains(concat.out)
            else { continue }
            var block: [Int] = []  // indices into feeds, in Concat order
            for s in concat.inputs {
                guard let f = feeds.firstIndex(where: { $0.slot == s }), feeds[f].kind == .float, !feeds[f].rank1,
                    !protected.contains(s)
                else { break }
                if let last = block.last, feeds[f].offset != feeds[last].offset + feeds[last].columns { break }
                block.append(f)
            }
            guard block.count == concat.inputs.count else { continue }
            let inputs = Set(concat.inputs)
            let readElsewhere = indices.contains { j in
                j != indices[k] && kernelInputs[j].contains { inputs.contains($0) }
            }
            guard !readElsewhere else { continue }
            let columns = block.reduce(0) { $0 + feeds[$1].columns }
            let merged = PredictBinding.Feed(
                slot: concat.out, kind: .float, columns: columns, rank1: false, offset: feeds[block[0]].offset)
            feeds = feeds.indices.filter { !block.contains($0) }.map { feeds[$0] } + [merged]
            indices.remove(at: k)
            k -= 1
        }
    }
}
