import ONNXFormat
import Testing

/// Hand-written protobuf encoding for the decoder tests.
enum Wire {
    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v
        var out: [UInt8] = []
        repeat {
            var b = UInt8(v & 0x7F)
            v >>= 7
            if v != 0 { b |= 0x80 }
            out.append(b)
        } while v != 0
        return out
    }
    static func tag(_ number: Int, _ wireType: Int) -> [UInt8] { varint(UInt64(number << 3 | wireType)) }
    static func bytes(_ number: Int, _ payload: [UInt8]) -> [UInt8] {
        tag(number, 2) + varint(UInt64(payload.count)) + payload
    }
    static func string(_ number: Int, _ text: String) -> [UInt8] { bytes(number, Array(text.utf8)) }
    static func int(_ number: Int, _ value: Int64) -> [UInt8] { tag(number, 0) + varint(UInt64(bitPattern: value)) }
    static func float(_ number: Int, _ value: Float) -> [UInt8] {
        tag(number, 5) + withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init)
    }
    static func packedFloats(_ number: Int, _ values: [Float]) -> [UInt8] {
        bytes(number, values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
    }
    static func packedInts(_ number: Int, _ values: [Int64]) -> [UInt8] {
        bytes(number, values.flatMap { varint(UInt64(bitPattern: $0)) })
    }

    /// A float tensor value info named `name` with shape [?, 2].
    static func valueInfo(_ name: String) -> [UInt8] {
        let shape = bytes(1, string(2, "N")) + bytes(1, int(1, 2))
        let tensorType = int(1, 1) + bytes(2, shape)
        return string(1, name) + bytes(2, bytes(1, tensorType))
    }

    /// A model with one `Foo` node (X → Y) carrying `attributes`, plus `extraGraph` appended to the graph and
    /// `extraModel` to the model.
    static func model(attributes: [[UInt8]], extraGraph: [UInt8] = [], extraModel: [UInt8] = []) -> [UInt8] {
        let node = string(1, "X") + string(2, "Y") + string(3, "n0") + string(4, "Foo")
            + attributes.flatMap { bytes(5, $0) }
        let graph = bytes(1, node) + string(2, "g") + bytes(11, valueInfo("X")) + bytes(12, valueInfo("Y")) + extraGraph
        let opset = string(1, "") + int(2, 13)
        return int(1, 8) + string(2, "test") + bytes(7, graph) + bytes(8, opset) + extraModel
    }
}

@Suite("Protobuf wire decoding")
struct WireReaderTests {
    func attributes(_ bytes: [UInt8]) throws -> [String: ONNXAttribute] {
        try ONNXModel(bytes: bytes).graph.nodes[0].attributes
    }

    @Test("repeated floats and ints decode the same packed and unpacked, in file order across occurrences")
    func packedAndUnpacked() throws {
        let floats: [Float] = [1.5, -2, 0, .infinity]
        let ints: [Int64] = [0, 1, -1, Int64.max, Int64.min, 300]
        let unpacked = Wire.model(attributes: [
            Wire.string(1, "f") + Wire.int(20, 6) + floats.flatMap { Wire.float(7, $0) },
            Wire.string(1, "i") + Wire.int(20, 7) + ints.flatMap { Wire.int(8, $0) },
        ])
        let packed = Wire.model(attributes: [
            Wire.string(1, "f") + Wire.int(20, 6) + Wire.packedFloats(7, floats),
            Wire.string(1, "i") + Wire.int(20, 7) + Wire.packedInts(8, Array(ints[0..<2]))
                + Wire.int(8, ints[2]) + Wire.packedInts(8, Array(ints[3...])),
        ])
        for bytes in [unpacked, packed] {
            let a = try attributes(bytes)
            #expect(a["f"] == .floats(floats))
            #expect(a["i"] == .ints(ints))
        }
    }

    @Test("scalar, string and tensor attributes; the type is inferred when an old file leaves it out")
    func attributeKinds() throws {
        let tensor = Wire.packedInts(1, [2]) + Wire.int(2, 7) + Wire.packedInts(7, [4, -5])
        let a = try attributes(Wire.model(attributes: [
            Wire.string(1, "f") + Wire.float(2, 0.25),
            Wire.string(1, "i") + Wire.int(3, -7),
            Wire.string(1, "s") + Wire.string(4, "BRANCH_LEQ"),
            Wire.string(1, "t") + Wire.bytes(5, tensor),
            Wire.string(1, "ss") + Wire.int(20, 8) + Wire.string(9, "a") + Wire.string(9, "") + Wire.string(9, "ü"),
            Wire.string(1, "g") + Wire.int(20, 5),  // a graph attribute: not read
        ]))
        #expect(a["f"] == .float(0.25))
        #expect(a["i"] == .int(-7))
        #expect(a["s"] == .string("BRANCH_LEQ"))
        #expect(a["t"] == .tensor(ONNXTensor(dataType: .int64, dims: [2], storage: .int64([4, -5]))))
        #expect(a["ss"] == .strings(["a", "", "ü"]))
        #expect(a["g"] == nil)
    }

    @Test("unknown fields of every wire type are skipped at every level")
    func unknownFields() throws {
        let unknown = Wire.int(999, 5) + Wire.tag(998, 1) + [UInt8](repeating: 7, count: 8) + Wire.tag(997, 5)
            + [1, 2, 3, 4] + Wire.bytes(996, [0xFF, 0xFF])
        let m = try ONNXModel(bytes: Wire.model(
            attributes: [Wire.string(1, "f") + unknown + Wire.float(2, 1)],
            extraGraph: unknown + Wire.bytes(13, Wire.valueInfo("Z")) + Wire.string(10, "doc"),
            extraModel: unknown + Wire.string(6, "doc")))
        #expect(m.graph.nodes[0].attributes["f"] == .float(1))
        #expect(m.graph.inputs.map(\.name) == ["X"])
        #expect(m.graph.inputs[0].type == .tensor(.float, shape: [.dynamic("N"), .fixed(2)]))
        #expect(m.producerName == "test")
    }

    @Test("tensors: raw data, typed fields packed or not, and a count that does not match the shape")
    func tensors() throws {
        func initializer(_ body: [UInt8]) throws -> ONNXTensor {
            let m = try ONNXModel(bytes: Wire.model(attributes: [], extraGraph: Wire.bytes(5, Wire.string(8, "w") + body)))
            return try #require(m.graph.initializers["w"])
        }
        let raw = [Float(1), 2].flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        #expect(try initializer(Wire.int(1, 2) + Wire.int(2, 1) + Wire.bytes(9, raw)).storage == .float([1, 2]))
        #expect(try initializer(Wire.int(1, 2) + Wire.int(2, 1) + Wire.float(4, 1) + Wire.float(4, 2)).storage == .float([1, 2]))
        #expect(try initializer(Wire.packedInts(1, [3]) + Wire.int(2, 6) + Wire.packedInts(5, [-1, 0, 1])).storage
            == .int64([-1, 0, 1]))
        #expect(try initializer(Wire.int(1, 1) + Wire.int(2, 3) + Wire.int(5, -2)).storage == .int64([-2]))
        do {
            _ = try initializer(Wire.int(1, 3) + Wire.int(2, 1) + Wire.packedFloats(4, [1, 2]))
            Issue.record("a short tensor was accepted")
        } catch let error as ONNXFormatError {
            #expect(error.message == "initializer \"w\": the shape needs 3 values, the file has 2")
        }
    }

    @Test("malformed wire data is refused with the byte offset and what is wrong there")
    func malformed() throws {
        let good = Wire.model(attributes: [])
        func message(_ bytes: [UInt8]) -> String {
            do {
                _ = try ONNXModel(bytes: bytes)
                return "accepted"
            } catch {
                return error.message
            }
        }
        // A length that runs past the end of the file.
        let overrun = Wire.int(1, 8) + Wire.tag(7, 2) + Wire.varint(1000) + [0, 0]
        #expect(
            message(overrun)
                == "not a valid ONNX protobuf (7 bytes): field 7 declares 1000 bytes, only 2 remain in the message at "
                + "byte 3 (in ModelProto); the file is truncated, corrupt or not an ONNX model")
        // A varint longer than 10 bytes.
        #expect(message(Wire.tag(1, 0) + [UInt8](repeating: 0xFF, count: 11)).contains("longer than 64 bits"))
        // A varint cut off by the end of the file.
        #expect(message(Wire.tag(1, 0) + [0x80]).contains("a varint runs past the end of its message at byte 1"))
        // The group wire types and field number 0.
        #expect(message(good + Wire.tag(5, 3)).contains("unsupported wire type 3"))
        #expect(message(good + [0x00]).contains("invalid field number 0"))
        // A known field with the wrong wire type.
        #expect(message(Wire.bytes(1, [1]) + good).contains("field 1 has wire type 2, the schema declares 0"))
        // A packed float field whose length is not a multiple of 4, inside a node's attribute.
        let odd = message(Wire.model(attributes: [Wire.string(1, "f") + Wire.bytes(7, [0, 0, 0])]))
        #expect(odd.hasPrefix("node \"n0\": attribute f: not a valid ONNX protobuf"))
        #expect(odd.contains("packed field 7 has 3 bytes, not a multiple of 4"))
        #expect(odd.contains("(in AttributeProto)"))
        // A length inside a nested message that runs past that message (but not past the file).
        let inner = Wire.bytes(5, Wire.string(1, "f") + Wire.tag(4, 2) + Wire.varint(50))
        let node = Wire.string(1, "X") + Wire.string(2, "Y") + Wire.string(4, "Foo") + inner
        let graph = Wire.bytes(1, node) + Wire.bytes(11, Wire.valueInfo("X")) + Wire.bytes(12, Wire.valueInfo("Y"))
        let padded = Wire.int(1, 8) + Wire.bytes(7, graph) + Wire.bytes(8, Wire.int(2, 13)) + Wire.bytes(99, [UInt8](repeating: 0, count: 64))
        #expect(message(padded).contains("field 4 declares 50 bytes"))
    }

    @Test("metadata props after the graph and opset imports are read")
    func fieldOrder() throws {
        let a = try ONNXModel(bytes: Wire.model(attributes: [], extraModel: Wire.bytes(14, Wire.string(1, "k") + Wire.string(2, "v"))))
        #expect(a.metadata == ["k": "v"])
        #expect(a.opsets == ["ai.onnx": 13])
        #expect(a.graph.name == "g")
    }
}
