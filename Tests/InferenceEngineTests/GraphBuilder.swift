import InferenceEngine
import ONNXFormat

/// Builds small graphs in memory for the per-op tests.
struct GraphBuilder {
    var nodes: [ONNXNode] = []
    var inputs: [ONNXValueInfo] = []
    var outputs: [ONNXValueInfo] = []
    var initializers: [String: ONNXTensor] = [:]
    var opsets: [String: Int64] = ["ai.onnx": 15, "ai.onnx.ml": 3]

    mutating func input(_ name: String, _ type: ONNXDataType, _ dims: [Int?]) {
        inputs.append(.init(name: name, type: .tensor(type, shape: dims.map { $0.map { .fixed($0) } ?? .dynamic("N") })))
    }

    mutating func output(_ name: String, _ type: ONNXType = .unknown) {
        outputs.append(.init(name: name, type: type))
    }

    mutating func constant(_ name: String, _ values: [Float], _ dims: [Int]) {
        initializers[name] = ONNXTensor(name: name, dataType: .float, dims: dims, storage: .float(values))
    }

    mutating func constant(_ name: String, ints: [Int64], _ dims: [Int]) {
        initializers[name] = ONNXTensor(name: name, dataType: .int64, dims: dims, storage: .int64(ints))
    }

    mutating func node(
        _ op: String, _ ins: [String], _ outs: [String], domain: String = "", name: String? = nil,
        _ attrs: [String: ONNXAttribute] = [:]
    ) {
        nodes.append(ONNXNode(name: name ?? "\(op)_\(nodes.count)", opType: op, domain: domain, inputs: ins, outputs: outs, attributes: attrs))
    }

    func compile() throws -> CompiledModel {
        let graph = ONNXGraph(name: "test", nodes: nodes, initializers: initializers, inputs: inputs, outputs: outputs)
        return try CompiledModel(model: ONNXModel(irVersion: 8, opsets: opsets, graph: graph))
    }
}

extension Array where Element == (name: String, value: Tensor) {
    subscript(_ name: String) -> Tensor? { first { $0.name == name }?.value }
}

extension Tensor {
    var floats: [Float] { if case .float(let v) = values { return v }; return [] }
    var ints: [Int64] { if case .int64(let v) = values { return v }; return [] }
    var strings: [String] { if case .string(let v) = values { return v }; return [] }
    var bools: [Bool] { if case .bool(let v) = values { return v }; return [] }
}
