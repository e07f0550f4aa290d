internal import CONNXProto
internal import CProtobufC

extension ONNXGraph {
    init(proto g: Onnx__GraphProto, opsets: [String: Int64]) throws(ONNXFormatError) {
        var initializers: [String: ONNXTensor] = [:]
        for i in 0..<g.n_initializer {
            guard let t = g.initializer[i] else { continue }
            let tensor = try ONNXTensor(proto: t.pointee, context: "initializer")
            guard !tensor.name.isEmpty else { throw ONNXFormatError("an initializer has no name") }
            initializers[tensor.name] = tensor
            releaseUnpacked(g.initializer, i)
        }
        var inputs: [ONNXValueInfo] = []
        for i in 0..<g.n_input {
            guard let v = g.input[i]?.pointee else { continue }
            let info = try ONNXValueInfo(proto: v, role: "graph input")
            if initializers[info.name] == nil { inputs.append(info) }
        }
        var outputs: [ONNXValueInfo] = []
        for i in 0..<g.n_output {
            guard let v = g.output[i]?.pointee else { continue }
            outputs.append(try ONNXValueInfo(proto: v, role: "graph output"))
        }
        var nodes: [ONNXNode] = []
        nodes.reserveCapacity(g.n_node)
        for i in 0..<g.n_node {
            guard let n = g.node[i]?.pointee else { continue }
            nodes.append(try ONNXNode(proto: n, index: i))
        }
        for node in nodes where opsets[node.domain] == nil {
            throw ONNXFormatError(
                "node \"\(node.name)\": op \(node.qualifiedOp) uses domain \(node.domain), which the model does not import"
            )
        }
        let sorted = try ONNXGraph.topologicalOrder(
            nodes: nodes, available: Set(initializers.keys).union(inputs.map(\.name)))
        let produced = Set(sorted.flatMap(\.outputs)).union(initializers.keys).union(inputs.map(\.name))
        for output in outputs where !produced.contains(output.name) {
            throw ONNXFormatError("graph output \"\(output.name)\" is not produced by any node, input or initializer")
        }
        guard !outputs.isEmpty else { throw ONNXFormatError("the graph declares no outputs") }
        self.init(name: str(g.name), nodes: sorted, initializers: initializers, inputs: inputs, outputs: outputs)
    }

    /// Orders nodes so every input is produced first (Kahn's algorithm, stable for already sorted graphs).
    /// Throws naming the node whose input is never produced, or a node on a cycle.
    public static func topologicalOrder(nodes: [ONNXNode], available: Set<String>) throws(ONNXFormatError) -> [ONNXNode]
    {
        var producer: [String: Int] = [:]
        for (i, node) in nodes.enumerated() {
            for output in node.outputs where !output.isEmpty {
                if available.contains(output) || producer[output] != nil {
                    throw ONNXFormatError(
                        "node \"\(node.name)\": op \(node.qualifiedOp) writes tensor \"\(output)\", which is already defined"
                    )
                }
                producer[output] = i
            }
        }
        var missing = [Int](repeating: 0, count: nodes.count)
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for (i, node) in nodes.enumerated() {
            for input in node.inputs where !input.isEmpty && !available.contains(input) {
                guard let p = producer[input] else {
                    throw ONNXFormatError(
                        "node \"\(node.name)\": op \(node.qualifiedOp) reads tensor \"\(input)\", which is never defined"
                    )
                }
                missing[i] += 1
                consumers[p].append(i)
            }
        }
        var ready = (0..<nodes.count).filter { missing[$0] == 0 }.reversed() as [Int]
        var order: [ONNXNode] = []
        order.reserveCapacity(nodes.count)
        while let i = ready.popLast() {
            order.append(nodes[i])
            var next: [Int] = []
            for c in consumers[i] {
                missing[c] -= 1
                if missing[c] == 0 { next.append(c) }
            }
            ready.append(contentsOf: next.sorted(by: >))
        }
        if order.count < nodes.count, let stuck = (0..<nodes.count).first(where: { missing[$0] > 0 }) {
            throw ONNXFormatError(
                "node \"\(nodes[stuck].name)\": op \(nodes[stuck].qualifiedOp) is part of a cycle; the graph must be acyclic"
            )
        }
        return order
    }
}

extension ONNXNode {
    init(proto n: Onnx__NodeProto, index: Int) throws(ONNXFormatError) {
        let opType = str(n.op_type)
        var name = str(n.name)
        if name.isEmpty { name = "\(opType.isEmpty ? "node" : opType)#\(index)" }
        guard !opType.isEmpty else { throw ONNXFormatError("node \"\(name)\" has no op_type") }
        let inputs = (0..<n.n_input).map { str(n.input[$0]) }
        let outputs = (0..<n.n_output).map { str(n.output[$0]) }
        var attributes: [String: ONNXAttribute] = [:]
        for i in 0..<n.n_attribute {
            guard let a = n.attribute[i]?.pointee else { continue }
            let attrName = str(a.name)
            do {
                if let value = try ONNXAttribute(proto: a) { attributes[attrName] = value }
            } catch {
                throw ONNXFormatError("node \"\(name)\": attribute \(attrName): \(error.message)")
            }
            releaseUnpacked(n.attribute, i)
        }
        self.init(
            name: name, opType: opType, domain: str(n.domain), inputs: inputs, outputs: outputs,
            attributes: attributes)
    }
}

extension ONNXAttribute {
    /// Converts an attribute; returns nil for kinds the engine never reads (graphs, sparse tensors, types).
    init?(proto a: Onnx__AttributeProto) throws(ONNXFormatError) {
        var type = a.has_type != 0 ? a.type.rawValue : 0
        if type == 0 {  // IR < 2: infer from the populated field
            if a.n_floats > 0 {
                type = 6
            } else if a.n_ints > 0 {
                type = 7
            } else if a.n_strings > 0 {
                type = 8
            } else if a.t != nil {
                type = 4
            } else if a.has_s != 0 {
                type = 3
            } else if a.has_i != 0 {
                type = 2
            } else if a.has_f != 0 {
                type = 1
            }
        }
        switch type {
        case 1: self = .float(a.f)
        case 2: self = .int(a.i)
        case 3: self = .string(bytesString(a.s))
        case 4:
            guard let t = a.t?.pointee else { throw ONNXFormatError("tensor attribute without a tensor") }
            self = .tensor(try ONNXTensor(proto: t, context: "attribute tensor"))
        case 6: self = .floats(Array(UnsafeBufferPointer(start: a.floats, count: a.n_floats)))
        case 7: self = .ints(Array(UnsafeBufferPointer(start: a.ints, count: a.n_ints)))
        case 8: self = .strings((0..<a.n_strings).map { bytesString(a.strings[$0]) })
        default: return nil
        }
    }
}

extension ONNXValueInfo {
    init(proto v: Onnx__ValueInfoProto, role: String) throws(ONNXFormatError) {
        let name = str(v.name)
        guard !name.isEmpty else { throw ONNXFormatError("a \(role) has no name") }
        let type: ONNXType
        if let t = v.type {
            type = try ONNXType(proto: t.pointee, depth: 0, context: "\(role) \"\(name)\"")
        } else {
            type = .unknown
        }
        self.init(name: name, type: type)
    }
}

extension ONNXType {
    /// Unpacks a nested TypeProto kept as bytes by the schema (see proto/onnx/onnx.proto), with the depth limit.
    init(nested b: ProtobufCBinaryData, depth: Int, context: String) throws(ONNXFormatError) {
        guard depth < ONNXModel.maxTypeDepth else { throw ONNXFormatError("\(context): type nested too deeply") }
        guard let p = onnx__type_proto__unpack(nil, b.len, b.data) else {
            throw ONNXFormatError("\(context): invalid nested type")
        }
        defer { onnx__type_proto__free_unpacked(p, nil) }
        try self.init(proto: p.pointee, depth: depth, context: context)
    }

    init(proto t: Onnx__TypeProto, depth: Int, context: String) throws(ONNXFormatError) {
        guard depth < ONNXModel.maxTypeDepth else { throw ONNXFormatError("\(context): type nested too deeply") }
        switch t.value_case {
        case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
            guard let tt = t.tensor_type?.pointee else { self = .unknown; return }
            let elem = ONNXDataType(rawValue: tt.elem_type) ?? .undefined
            var shape: [ONNXDimension]? = nil
            if let s = tt.shape?.pointee {
                guard s.n_dim <= ONNXModel.maxRank else {
                    throw ONNXFormatError("\(context): rank \(s.n_dim) exceeds the maximum of \(ONNXModel.maxRank)")
                }
                var dims: [ONNXDimension] = []
                for i in 0..<s.n_dim {
                    guard let d = s.dim[i]?.pointee else { dims.append(.dynamic(nil)); continue }
                    switch d.value_case {
                    case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE:
                        guard d.dim_value >= 0, d.dim_value <= Int64(ONNXModel.maxTensorElements) else {
                            throw ONNXFormatError("\(context): dimension \(i) has invalid size \(d.dim_value)")
                        }
                        dims.append(.fixed(Int(d.dim_value)))
                    case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM:
                        dims.append(.dynamic(str(d.dim_param)))
                    default:
                        dims.append(.dynamic(nil))
                    }
                }
                shape = dims
            }
            self = .tensor(elem, shape: shape)
        case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
            guard let s = t.sequence_type?.pointee, s.has_elem_type != 0 else { self = .sequence(.unknown); return }
            self = .sequence(try ONNXType(nested: s.elem_type, depth: depth + 1, context: context))
        case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
            guard let mt = t.map_type?.pointee else { self = .unknown; return }
            let key = ONNXDataType(rawValue: mt.key_type) ?? .undefined
            var value = ONNXType.unknown
            if mt.has_value_type != 0 {
                value = try ONNXType(nested: mt.value_type, depth: depth + 1, context: context)
            }
            self = .map(key: key, value: value)
        default:
            self = .unknown
        }
    }
}

/// Frees element `index` of an unpacked repeated message field as soon as its Swift copy exists, and clears the
/// slot so that freeing the whole message later skips it (protobuf-c ignores NULL elements).
///
/// A tree ensemble keeps all of its nodes in a few attributes of one node, and an MLP its weights in a few
/// initializers; releasing each one after conversion keeps the C copy and the Swift copy of the same data from
/// being alive at once, which roughly halves the memory a large model needs while it loads.
func releaseUnpacked<Message>(_ array: UnsafeMutablePointer<UnsafeMutablePointer<Message>?>?, _ index: Int) {
    guard let array, let element = array[index] else { return }
    array[index] = nil
    element.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { protobuf_c_message_free_unpacked($0, nil) }
}
