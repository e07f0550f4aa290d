import ONNXFormat
import Testing

/// Hand-encoded protobuf for a model whose input type is a sequence nested `depth` times.
func nestedSequenceModel(depth: Int) -> [UInt8] {
    func varint(_ v: Int) -> [UInt8] {
        var v = UInt64(v)
        var out: [UInt8] = []
        repeat {
            var b = UInt8(v & 0x7F)
            v >>= 7
            if v != 0 { b |= 0x80 }
            out.append(b)
        } while v != 0
        return out
    }
    func field(_ number: Int, _ payload: [UInt8]) -> [UInt8] {
        varint(number << 3 | 2) + varint(payload.count) + payload
    }
    var type: [UInt8] = field(1, varint(1 << 3 | 0) + varint(1))  // innermost: tensor_type { elem_type: FLOAT }
    for _ in 0..<depth { type = field(4, field(1, type)) }  // sequence_type { elem_type: <type> }
    let valueInfo = field(1, Array("x".utf8)) + field(2, type)
    let graph = field(11, valueInfo) + field(12, valueInfo)
    let opset = field(1, []) + varint(2 << 3 | 0) + varint(15)
    return varint(1 << 3 | 0) + varint(8) + field(7, graph) + field(8, opset)
}

@Suite("Nested types")
struct NestedTypeTests {
    @Test("a shallow sequence type parses")
    func shallow() throws {
        let m = try ONNXModel(bytes: nestedSequenceModel(depth: 2))
        #expect(m.graph.inputs.first?.type == .sequence(.sequence(.tensor(.float, shape: nil))))
    }

    @Test("a sequence type nested 200,000 deep is refused without exhausting the stack")
    func deep() {
        #expect(throws: ONNXFormatError.self) { try ONNXModel(bytes: nestedSequenceModel(depth: 200_000)) }
    }
}
