import ONNXFormat

/// Turns a parsed graph into slots and kernels, checking every node at load time.
struct Compiler {
    /// The parsed model; the compiler only reads it.
    let model: ONNXModel
    /// Names for the numeric features in dense order, passed on to `PredictBinder`.
    let featureNames: [String]?
    /// Whether the load-time rewrites run (`GraphRewrite`, Split → Concat, Concat of fed columns); tests turn them
    /// off to compare a rewritten model with the graph as written.
    var rewrites = true

    /// Everything ``CompiledModel`` keeps from a compilation; see the properties of the same names there.
    struct Output {
        var signature: ModelSignature
        var info: ModelInfo
        var slotKinds: [ElementKind]
        var constants: [(slot: Int, tensor: ONNXTensor)]
        var inputSlots: [Int]
        var outputSlots: [Int]
        var plan: [any Kernel]
        var predictPlan: [any Kernel]
        var binding: PredictBinding
    }

    /// Checks opsets, allocates one slot per graph input, initializer and node output, builds a kernel per node through
    /// ``OpRegistry``, fuses MatMul + Add into dense kernels and binds the serving plan.
    ///
    /// Op counts in ``ModelInfo`` describe the file as written; the plan comes from the rewritten graph.
    ///
    /// - Throws: ``EngineError`` with `.unsupported` for an unknown op or opset, and `.invalidModel` for an undefined
    ///   input or an output that is never produced or is declared with another type than it is computed as.
    func compile() throws(EngineError) -> Output {
        for (domain, version) in model.opsets {
            if let range = OpRegistry.domains[domain], !range.contains(version) {
                throw EngineError(
                    .unsupported,
                    "opset \(version) of domain \(domain) is not supported (supported: \(range.lowerBound)...\(range.upperBound))"
                )
            }
        }
        // Op counts describe the file as written; the plan is built from the rewritten graph.
        var opCounts: [String: Int] = [:]
        for node in model.graph.nodes { opCounts[node.qualifiedOp, default: 0] += 1 }
        let graph = rewrites ? GraphRewrite.apply(model.graph) : model.graph
        var slotOf: [String: Int] = [:]
        var types: [ValueType?] = []
        var constants: [(slot: Int, tensor: ONNXTensor)] = []
        var constantOf: [Int: ONNXTensor] = [:]
        func newSlot(_ name: String, _ type: ValueType?) -> Int {
            types.append(type)
            slotOf[name] = types.count - 1
            return types.count - 1
        }
        // Graph inputs.
        var inputSlots: [Int] = []
        var sigInputs: [ModelSignature.Value] = []
        for input in graph.inputs {
            guard case .tensor(let dt, let shape) = input.type else {
                throw EngineError(
                    .unsupported, "graph input \"\(input.name)\" has type \(input.type); only tensors are supported")
            }
            guard let kind = ElementKind(dt) else {
                throw EngineError(
                    .unsupported, "graph input \"\(input.name)\" has element type \(dt), which is not supported")
            }
            let dims = shape?.map { $0.fixedValue }
            inputSlots.append(newSlot(input.name, ValueType(kind, shape: dims, onnxType: dt)))
            sigInputs.append(.init(name: input.name, type: input.type.description, elementType: dt, shape: dims))
        }
        // Initializers.
        for (name, tensor) in graph.initializers.sorted(by: { $0.key < $1.key }) {
            guard let kind = ElementKind(tensor.dataType) else {
                throw EngineError(
                    .unsupported, "initializer \"\(name)\" has element type \(tensor.dataType), which is not supported")
            }
            let slot = newSlot(name, ValueType(kind, shape: tensor.dims.map { $0 }, onnxType: tensor.dataType))
            constants.append((slot, tensor))
            constantOf[slot] = tensor
        }
        // Nodes.
        var plan: [any Kernel] = []
        var producerOf: [Int: Int] = [:]  // slot → plan index
        var kernelInputs: [[Int]] = []
        var trees = 0, treeNodes = 0
        // Readers of each value (node inputs and graph outputs), for the Split → Concat check below.
        var readers: [String: Int] = [:]
        for node in graph.nodes { for name in node.inputs where !name.isEmpty { readers[name, default: 0] += 1 } }
        for output in graph.outputs { readers[output.name, default: 0] += 1 }
        var splitAt: [String: (plan: Int, node: ONNXNode, input: Int)] = [:]  // Split output → its Split
        for node in graph.nodes {
            if rewrites,
                let x = concatUndoingSplit(node, splitAt: splitAt, readers: readers, types: types, slotOf: slotOf)
            {
                // Concat(Split(x)) is x: the Concat's output names x's slot, and the Split's pieces are read by
                // no one else, so neither kernel runs.
                slotOf[node.outputs[0]] = x.slot
                plan[x.plan] = FusedAwayKernel()
                kernelInputs[x.plan] = []
                continue
            }
            guard let builder = OpRegistry.builders[node.qualifiedOp] else { throw EngineError.unsupported(node) }
            let inputs = node.inputs.map { $0.isEmpty ? -1 : (slotOf[$0] ?? -1) }
            for (k, name) in node.inputs.enumerated() where !name.isEmpty && inputs[k] < 0 {
                throw EngineError.node(node, "input \"\(name)\" is not defined before this node")
            }
            let outputs = node.outputs.map { $0.isEmpty ? -1 : newSlot($0, nil) }
            var nb = NodeBuilder(
                node: node, opset: model.opsets[node.domain] ?? 1, inputs: inputs,
                inputTypes: inputs.map { $0 >= 0 ? types[$0] : nil },
                constants: inputs.map { $0 >= 0 ? constantOf[$0] : nil }, outputs: outputs,
                outputTypes: outputs.map { _ in nil })
            let kernel = try builder(&nb)
            for (k, slot) in outputs.enumerated() where slot >= 0 {
                guard let t = nb.outputTypes[k] else {
                    throw EngineError.node(node, "output \(k) (\"\(node.outputs[k])\") is not produced by this op")
                }
                types[slot] = t
                producerOf[slot] = plan.count
            }
            if let k = kernel as? TreeEnsembleClassifierKernel {
                trees += k.ensemble.treeCount; treeNodes += k.ensemble.feature.count - 1
            }
            if let k = kernel as? TreeEnsembleRegressorKernel {
                trees += k.ensemble.treeCount; treeNodes += k.ensemble.feature.count - 1
            }
            if node.opType == "Split", node.domain == "ai.onnx", inputs.count >= 1 {
                for name in node.outputs where !name.isEmpty { splitAt[name] = (plan.count, node, inputs[0]) }
            }
            plan.append(kernel)
            kernelInputs.append(inputs.filter { $0 >= 0 })
        }
        // Graph outputs.
        var outputSlots: [Int] = []
        var sigOutputs: [ModelSignature.Value] = []
        for output in graph.outputs {
            guard let slot = slotOf[output.name], let t = types[slot] else {
                throw EngineError(.invalidModel, "graph output \"\(output.name)\" is never produced")
            }
            if case .tensor(let dt, _) = output.type, let declared = ElementKind(dt), declared != t.kind,
                !(declared.isNumeric && t.kind.isNumeric && declared != .bool && t.kind != .bool)
            {
                throw EngineError(
                    .invalidModel,
                    "graph output \"\(output.name)\" is declared \(output.type) but is computed as \(t.kind)")
            }
            outputSlots.append(slot)
            var elem: ONNXDataType? = t.onnxType
            var typeName = output.type.description
            if case .tensor(let dt, _) = output.type { elem = dt }
            if output.type == .unknown {
                typeName =
                    t.kind == .mapSequence ? "seq(map)" : "tensor(\(t.onnxType?.description ?? t.kind.description))"
            }
            sigOutputs.append(
                .init(
                    name: output.name, type: typeName, elementType: t.kind == .mapSequence ? nil : elem, shape: t.shape)
            )
        }
        var consumers: [Int: Int] = [:]
        for node in graph.nodes {
            for name in node.inputs where !name.isEmpty { if let s = slotOf[name] { consumers[s, default: 0] += 1 } }
        }
        // MatMul float weights only: the fused kernel assumes a float input (checked by MatMul's builder).
        Fusion.fuseDense(
            &plan, consumers: consumers, protected: Set(outputSlots),
            constants: constantOf.filter {
                types[$0.key]?.kind == .float
            })
        let binder = PredictBinder(
            model: model, types: types, plan: plan, producerOf: producerOf, kernelInputs: kernelInputs,
            constantOf: constantOf, inputSlots: inputSlots, sigInputs: sigInputs, outputSlots: outputSlots,
            sigOutputs: sigOutputs, featureNames: featureNames, rewrites: rewrites)
        let (signature, binding, predictPlan) = try binder.bind()
        let info = ModelInfo(
            irVersion: model.irVersion, opsets: model.opsets,
            producer: [model.producerName, model.producerVersion].filter { !$0.isEmpty }.joined(separator: " "),
            opCounts: opCounts, nodeCount: model.graph.nodes.count, trees: trees, treeNodes: treeNodes)
        return Output(
            signature: signature, info: info, slotKinds: types.map { $0?.kind ?? .float }, constants: constants,
            inputSlots: inputSlots, outputSlots: outputSlots, plan: plan, predictPlan: predictPlan, binding: binding)
    }

    /// When `node` is a Concat that glues back together, in order and on the same axis, every piece of one Split
    /// whose pieces nobody else reads (`convert_sparkml` writes Imputer → Split → Concat), returns the Split's
    /// plan index and the slot of its input, which holds the same tensor as the Concat's output. The piece sizes
    /// must be known at load and add up to the input's known length on that axis, so the Split could not have
    /// failed at run time.
    private func concatUndoingSplit(
        _ node: ONNXNode, splitAt: [String: (plan: Int, node: ONNXNode, input: Int)], readers: [String: Int],
        types: [ValueType?], slotOf: [String: Int]
    ) -> (plan: Int, slot: Int)? {
        guard node.domain == "ai.onnx", node.opType == "Concat", node.outputs.count == 1, !node.outputs[0].isEmpty,
            case .int(let concatAxis)? = node.attributes["axis"], let first = node.inputs.first,
            let split = splitAt[first], split.node.outputs == node.inputs,
            node.inputs.allSatisfy({ readers[$0] == 1 }), split.input >= 0,
            let inShape = types[split.input]?.shape, !inShape.isEmpty
        else { return nil }
        let rank = Int64(inShape.count)
        var splitAxis: Int64 = 0
        if let a = split.node.attributes["axis"] {
            guard case .int(let v) = a else { return nil }
            splitAxis = v
        }
        func normal(_ a: Int64) -> Int64? { a >= -rank && a < rank ? (a < 0 ? a + rank : a) : nil }
        guard let sa = normal(splitAxis), let ca = normal(concatAxis), sa == ca, let length = inShape[Int(sa)]
        else { return nil }
        // Every piece's length along the axis, as the Split's builder typed it (known only for given sizes).
        var total = 0
        for name in node.inputs {
            guard let slot = slotOf[name], let t = types[slot], let s = t.shape, s.count == inShape.count,
                let d = s[Int(sa)]
            else { return nil }
            total += d
        }
        guard total == length else { return nil }
        return (split.plan, split.input)
    }
}
