extension ONNXGraph {
    /// Reads a `GraphProto` in the order the checks need it: initializers, then inputs (less the initializers
    /// listed as inputs), outputs and nodes. Each step is one walk over the graph's top-level fields that skips
    /// the others by their length, so no field is decoded twice.
    init(reader graph: WireReader, opsets: [String: Int64]) throws(ONNXFormatError) {
        var name = ""
        var initializerCount = 0
        var nodeCount = 0
        var r = graph
        while let f = try r.nextField() {
            switch f.number {
            case 1: nodeCount += 1
            case 2: name = try r.string(f)
            case 5: initializerCount += 1
            default: break
            }
            if f.number != 2 { try r.skip(f) }
        }

        var initializers: [String: ONNXTensor] = [:]
        initializers.reserveCapacity(initializerCount)
        r = graph
        while let f = try r.nextField() {
            guard f.number == 5 else { try r.skip(f); continue }
            let tensor = try ONNXTensor(reader: r.message(f, "TensorProto"), context: "initializer")
            guard !tensor.name.isEmpty else { throw ONNXFormatError("an initializer has no name") }
            initializers[tensor.name] = tensor
        }
        var inputs: [ONNXValueInfo] = []
        var outputs: [ONNXValueInfo] = []
        r = graph
        while let f = try r.nextField() {
            guard f.number == 11 else { try r.skip(f); continue }
            let info = try ONNXValueInfo(reader: r.message(f, "ValueInfoProto"), role: "graph input")
            if initializers[info.name] == nil { inputs.append(info) }
        }
        r = graph
        while let f = try r.nextField() {
            guard f.number == 12 else { try r.skip(f); continue }
            outputs.append(try ONNXValueInfo(reader: r.message(f, "ValueInfoProto"), role: "graph output"))
        }
        var nodes: [ONNXNode] = []
        nodes.reserveCapacity(nodeCount)
        r = graph
        while let f = try r.nextField() {
            guard f.number == 1 else { try r.skip(f); continue }
            nodes.append(try ONNXNode(reader: r.message(f, "NodeProto"), index: nodes.count))
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
        self.init(name: name, nodes: sorted, initializers: initializers, inputs: inputs, outputs: outputs)
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
    /// Reads a `NodeProto`: one pass for the name, op and domain (attribute errors name the node) and the
    /// number of inputs and outputs, a second for the inputs, outputs and attributes.
    init(reader node: WireReader, index: Int) throws(ONNXFormatError) {
        var opType = ""
        var name = ""
        var domain = ""
        var inputCount = 0
        var outputCount = 0
        var attributeCount = 0
        var r = node
        while let f = try r.nextField() {
            switch f.number {
            case 1: inputCount += 1; try r.skip(f)
            case 2: outputCount += 1; try r.skip(f)
            case 3: name = try r.string(f)
            case 4: opType = try r.string(f)
            case 5: attributeCount += 1; try r.skip(f)
            case 7: domain = try r.string(f)
            default: try r.skip(f)
            }
        }
        if name.isEmpty { name = "\(opType.isEmpty ? "node" : opType)#\(index)" }
        guard !opType.isEmpty else { throw ONNXFormatError("node \"\(name)\" has no op_type") }
        var inputs: [String] = []
        inputs.reserveCapacity(inputCount)
        var outputs: [String] = []
        outputs.reserveCapacity(outputCount)
        var attributes: [String: ONNXAttribute] = [:]
        attributes.reserveCapacity(attributeCount)
        r = node
        while let f = try r.nextField() {
            switch f.number {
            case 1: inputs.append(try r.string(f))
            case 2: outputs.append(try r.string(f))
            case 5:
                let attribute = try r.message(f, "AttributeProto")
                var attrName = ""
                do {
                    attrName = try ONNXAttribute.name(attribute)
                    if let value = try ONNXAttribute(reader: attribute) { attributes[attrName] = value }
                } catch {
                    throw ONNXFormatError("node \"\(name)\": attribute \(attrName): \(error.message)")
                }
            default: try r.skip(f)
            }
        }
        self.init(
            name: name, opType: opType, domain: domain, inputs: inputs, outputs: outputs, attributes: attributes)
    }
}

extension ONNXAttribute {
    /// The `name` field of an `AttributeProto`.
    static func name(_ attribute: WireReader) throws(ONNXFormatError) -> String {
        var r = attribute
        var name = ""
        while let f = try r.nextField() {
            if f.number == 1 { name = try r.string(f) } else { try r.skip(f) }
        }
        return name
    }

    /// Reads an `AttributeProto`; returns nil for kinds the engine never reads (graphs, sparse tensors, types).
    ///
    /// A first pass finds the declared type and counts the elements of the repeated fields (converters write
    /// tree ensembles as a few attributes of tens of thousands of unpacked elements each), a second decodes only
    /// the field the type selects into an array of exactly that size.
    init?(reader attribute: WireReader) throws(ONNXFormatError) {
        var declared: Int32? = nil
        var f32: Float? = nil
        var i64: Int64? = nil
        var s: UnsafeRawBufferPointer? = nil
        var t: WireReader? = nil
        var floatCount = 0
        var intCount = 0
        var stringCount = 0
        var r = attribute
        while let f = try r.nextField() {
            switch f.number {
            case 20: declared = try r.int32(f)
            case 2: f32 = try r.float(f)
            case 3: i64 = try r.int64(f)
            case 4: s = try r.bytes(f)
            case 5: t = try r.message(f, "TensorProto")
            case 7: floatCount += try r.countElements(f, .fixed32)
            case 8: intCount += try r.countElements(f, .varint)
            case 9: try r.expect(f, wireType: 2); stringCount += 1; try r.skip(f)
            default: try r.skip(f)
            }
        }
        var type = declared ?? 0
        if type == 0 {  // IR < 2: infer from the populated field
            if floatCount > 0 {
                type = 6
            } else if intCount > 0 {
                type = 7
            } else if stringCount > 0 {
                type = 8
            } else if t != nil {
                type = 4
            } else if s != nil {
                type = 3
            } else if i64 != nil {
                type = 2
            } else if f32 != nil {
                type = 1
            }
        }
        switch type {
        case 1: self = .float(f32 ?? 0)
        case 2: self = .int(i64 ?? 0)
        case 3: self = .string(s.map { String(decoding: $0, as: UTF8.self) } ?? "")
        case 4:
            guard let t else { throw ONNXFormatError("tensor attribute without a tensor") }
            self = .tensor(try ONNXTensor(reader: t, context: "attribute tensor"))
        case 6:
            var floats: [Float] = []
            floats.reserveCapacity(floatCount)
            r = attribute
            while let f = try r.nextField() {
                guard f.number == 7 else { try r.skip(f); continue }
                try r.forEachElement(f, .fixed32) { floats.append(Float(bitPattern: UInt32(truncatingIfNeeded: $0))) }
            }
            self = .floats(floats)
        case 7:
            var ints = ONNXIntList(reservingCapacity: intCount)
            r = attribute
            while let f = try r.nextField() {
                guard f.number == 8 else { try r.skip(f); continue }
                try r.forEachElement(f, .varint) { ints.append(Int64(bitPattern: $0)) }
            }
            self = .ints(ints)
        case 8:
            var strings = ONNXStringList(reservingCapacity: stringCount)
            r = attribute
            while let f = try r.nextField() {
                guard f.number == 9 else { try r.skip(f); continue }
                strings.append(try r.bytesString(f))
            }
            self = .strings(strings)
        default: return nil
        }
    }
}

extension ONNXValueInfo {
    /// Reads a `ValueInfoProto` (name and type; the doc string is skipped).
    init(reader valueInfo: WireReader, role: String) throws(ONNXFormatError) {
        var name = ""
        var typeReader: WireReader? = nil
        var r = valueInfo
        while let f = try r.nextField() {
            switch f.number {
            case 1: name = try r.string(f)
            case 2: typeReader = try r.message(f, "TypeProto")
            default: try r.skip(f)
            }
        }
        guard !name.isEmpty else { throw ONNXFormatError("a \(role) has no name") }
        let type: ONNXType
        if let typeReader {
            type = try ONNXType(reader: typeReader, depth: 0, context: "\(role) \"\(name)\"")
        } else {
            type = .unknown
        }
        self.init(name: name, type: type)
    }
}

extension ONNXType {
    /// Reads a `TypeProto` nested `depth` levels deep. Sequence and map element types are kept as bytes by the
    /// schema (see proto/onnx/onnx.proto) and read here with the depth limit, so a deeply nested type is refused
    /// without deep recursion.
    init(reader type: WireReader, depth: Int, context: String) throws(ONNXFormatError) {
        guard depth < ONNXModel.maxTypeDepth else { throw ONNXFormatError("\(context): type nested too deeply") }
        // `value` is a oneof: the last member present wins.
        var value: (number: Int, reader: WireReader)? = nil
        var r = type
        while let f = try r.nextField() {
            switch f.number {
            case 1: value = (1, try r.message(f, "TypeProto.Tensor"))
            case 4: value = (4, try r.message(f, "TypeProto.Sequence"))
            case 5: value = (5, try r.message(f, "TypeProto.Map"))
            default: try r.skip(f)
            }
        }
        guard let value else { self = .unknown; return }
        var v = value.reader
        switch value.number {
        case 1:
            var elemType: Int32 = 0
            var shapeReader: WireReader? = nil
            while let f = try v.nextField() {
                switch f.number {
                case 1: elemType = try v.int32(f)
                case 2: shapeReader = try v.message(f, "TensorShapeProto")
                default: try v.skip(f)
                }
            }
            let elem = ONNXDataType(rawValue: elemType) ?? .undefined
            var shape: [ONNXDimension]? = nil
            if let shapeReader {
                shape = try ONNXType.dimensions(shapeReader, context: context)
            }
            self = .tensor(elem, shape: shape)
        case 4:
            var elemType: UnsafeRawBufferPointer? = nil
            while let f = try v.nextField() {
                if f.number == 1 { elemType = try v.bytes(f) } else { try v.skip(f) }
            }
            guard let elemType else { self = .sequence(.unknown); return }
            self = .sequence(try ONNXType(nested: v.nested(elemType, "TypeProto"), depth: depth + 1, context: context))
        default:
            var keyType: Int32 = 0
            var valueType: UnsafeRawBufferPointer? = nil
            while let f = try v.nextField() {
                switch f.number {
                case 1: keyType = try v.int32(f)
                case 2: valueType = try v.bytes(f)
                default: try v.skip(f)
                }
            }
            let key = ONNXDataType(rawValue: keyType) ?? .undefined
            var valueTypeParsed = ONNXType.unknown
            if let valueType {
                valueTypeParsed = try ONNXType(
                    nested: v.nested(valueType, "TypeProto"), depth: depth + 1, context: context)
            }
            self = .map(key: key, value: valueTypeParsed)
        }
    }

    /// Reads a `TypeProto` kept as bytes; a malformed one is reported as an invalid nested type.
    init(nested reader: WireReader, depth: Int, context: String) throws(ONNXFormatError) {
        guard depth < ONNXModel.maxTypeDepth else { throw ONNXFormatError("\(context): type nested too deeply") }
        do {
            try self.init(reader: reader, depth: depth, context: context)
        } catch {
            if error.message.hasPrefix("not a valid ONNX protobuf") {
                throw ONNXFormatError("\(context): invalid nested type (\(error.message))")
            }
            throw error
        }
    }

    /// The dimensions of a `TensorShapeProto`, at most `ONNXModel.maxRank` of them.
    static func dimensions(_ shape: WireReader, context: String) throws(ONNXFormatError) -> [ONNXDimension] {
        var count = 0
        var r = shape
        while let f = try r.nextField() {
            if f.number == 1 { try r.expect(f, wireType: 2); count += 1 }
            try r.skip(f)
        }
        guard count <= ONNXModel.maxRank else {
            throw ONNXFormatError("\(context): rank \(count) exceeds the maximum of \(ONNXModel.maxRank)")
        }
        var dims: [ONNXDimension] = []
        dims.reserveCapacity(count)
        r = shape
        while let f = try r.nextField() {
            guard f.number == 1 else { try r.skip(f); continue }
            var d = try r.message(f, "TensorShapeProto.Dimension")
            // `value` is a oneof (dim_value or dim_param): the last one present wins.
            var dimValue: Int64? = nil
            var dimParam: String? = nil
            while let g = try d.nextField() {
                switch g.number {
                case 1: dimValue = try d.int64(g); dimParam = nil
                case 2: dimParam = try d.string(g); dimValue = nil
                default: try d.skip(g)
                }
            }
            if let dimValue {
                guard dimValue >= 0, dimValue <= Int64(ONNXModel.maxTensorElements) else {
                    throw ONNXFormatError("\(context): dimension \(dims.count) has invalid size \(dimValue)")
                }
                dims.append(.fixed(Int(dimValue)))
            } else if let dimParam {
                dims.append(.dynamic(dimParam))
            } else {
                dims.append(.dynamic(nil))
            }
        }
        return dims
    }
}
