import Foundation
import ONNXFormat
import Testing

enum SharedModels {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tests/fixtures/models")
    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: dir.appendingPathComponent(name).appendingPathComponent("model.onnx")))
    }
}

@Suite("Parsing ONNX files")
struct ONNXModelParsingTests {
    @Test("a shared fixture parses into the expected graph")
    func parsesFixture() throws {
        let m = try ONNXModel(bytes: SharedModels.bytes("spark_churn_rf"))
        #expect(m.irVersion == 4)
        #expect(m.opsets == ["ai.onnx": 8, "ai.onnx.ml": 1])
        #expect(m.graph.inputs.map(\.name) == ["age", "income", "tenure_months", "credit_score"])
        #expect(
            m.graph.inputs[0].type == .tensor(.float, shape: [.dynamic(nil), .fixed(1)])
                || m.graph.inputs[0].type.description == "tensor(float)")
        #expect(m.graph.nodes.map(\.opType) == ["Concat", "Scaler", "TreeEnsembleClassifier"])
        guard case .strings(let modes)? = m.graph.nodes[2].attributes["nodes_modes"] else {
            Issue.record("nodes_modes missing")
            return
        }
        #expect(modes.count == 70628)
    }

    @Test("initializers decode from raw data")
    func initializers() throws {
        let m = try ONNXModel(bytes: SharedModels.bytes("skl_mlp_churn"))
        #expect(!m.graph.initializers.isEmpty)
        for t in m.graph.initializers.values {
            #expect(
                t.count
                    == {
                        switch t.storage {
                        case .float(let v): return v.count
                        case .double(let v): return v.count
                        case .int64(let v): return v.count
                        case .string(let v): return v.count
                        }
                    }())
        }
    }

    @Test("truncated files are refused with an error, at every cut point, unless the prefix is itself a whole model")
    func truncated() throws {
        let bytes = try SharedModels.bytes("skl_logreg_churn")
        let full = try ONNXModel(bytes: bytes)
        var accepted: [Int] = []
        for cut in 0..<bytes.count {
            guard let m = try? ONNXModel(bytes: Array(bytes[0..<cut])) else { continue }
            // A cut exactly between trailing fields (the opset imports after the graph) is a complete protobuf;
            // it is only acceptable when the graph is whole.
            #expect(m.graph.nodes.map(\.name) == full.graph.nodes.map(\.name), "cut \(cut)")
            #expect(m.graph.outputs == full.graph.outputs, "cut \(cut)")
            accepted.append(cut)
        }
        #expect(accepted.allSatisfy { $0 > bytes.count - 32 }, "accepted prefixes: \(accepted)")
        #expect(accepted.count < 4)
    }

    @Test("wrong magic, empty input and random bytes are refused")
    func garbage() {
        #expect(throws: ONNXFormatError.self) { try ONNXModel(bytes: []) }
        #expect(throws: ONNXFormatError.self) { try ONNXModel(bytes: Array("PK\u{3}\u{4}not onnx at all".utf8)) }
        var rng = SplitMix(seed: 1)
        for _ in 0..<500 {
            let n = Int(rng.next() % 256)
            let b = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            #expect(throws: ONNXFormatError.self) { try ONNXModel(bytes: b) }
        }
    }

    @Test("cycles and undefined tensors are refused naming the node")
    func graphErrors() {
        let a = ONNXNode(name: "first", opType: "Relu", domain: "", inputs: ["b"], outputs: ["a"])
        let b = ONNXNode(name: "second", opType: "Relu", domain: "", inputs: ["a"], outputs: ["b"])
        #expect(throws: ONNXFormatError.self) { try ONNXGraph.topologicalOrder(nodes: [a, b], available: ["X"]) }
        do { _ = try ONNXGraph.topologicalOrder(nodes: [a, b], available: ["X"]) } catch {
            #expect(error.message.contains("cycle"))
        }
        let c = ONNXNode(name: "c", opType: "Relu", domain: "", inputs: ["nope"], outputs: ["y"])
        do { _ = try ONNXGraph.topologicalOrder(nodes: [c], available: ["X"]) } catch {
            #expect(error.message.contains("node \"c\"") && error.message.contains("\"nope\""))
        }
        let d = ONNXNode(name: "d", opType: "Relu", domain: "", inputs: ["X"], outputs: ["X"])
        #expect(throws: ONNXFormatError.self) { try ONNXGraph.topologicalOrder(nodes: [d], available: ["X"]) }
    }

    @Test("nodes out of order are sorted topologically")
    func sorting() throws {
        let second = ONNXNode(name: "2", opType: "Relu", domain: "", inputs: ["a"], outputs: ["b"])
        let first = ONNXNode(name: "1", opType: "Relu", domain: "", inputs: ["X"], outputs: ["a"])
        #expect(try ONNXGraph.topologicalOrder(nodes: [second, first], available: ["X"]).map(\.name) == ["1", "2"])
    }
}

/// Deterministic pseudo-random numbers for the garbage and mutation tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Opset imports as converters write them.
@Suite("Opset imports")
struct OpsetImportTests {
    @Test("the default domain imported as both \"\" and \"ai.onnx\" (convert_sparkml) loads; the later import wins")
    func duplicateDefaultDomain() throws {
        // The converter fixture as onnxmltools' convert_sparkml wrote it: "" at opset 12, then "ai.onnx" at 13.
        let url = SharedModels.dir.deletingLastPathComponent()
            .appendingPathComponent("converters/spark_gbt_classifier/model.onnx")
        let m = try ONNXModel(bytes: [UInt8](try Data(contentsOf: url)))
        #expect(m.opsets["ai.onnx"] == 13)
        #expect(m.opsets["ai.onnx.ml"] != nil)
    }
}
