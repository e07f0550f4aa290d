@testable import InferenceEngine
import ONNXFormat
import Testing

@Suite("Per-op semantics")
struct OpTests {
    @Test("ArgMax ties go to the first index, or the last with select_last_index")
    func argmaxTies() throws {
        for (last, want) in [(0, [Int64(0), 1]), (1, [Int64(2), 1])] {
            var g = GraphBuilder()
            g.input("X", .float, [nil, 3])
            g.node(
                "ArgMax", ["X"], ["y"], ["axis": .int(1), "keepdims": .int(0), "select_last_index": .int(Int64(last))])
            g.output("y")
            let out = try g.compile().run(["X": .float([5, 1, 5, 0, 7, 7 - 1], shape: [2, 3])])
            #expect(out["y"]!.ints == want)
        }
    }

    @Test("OneHotEncoder: unknown categories give zeros; zeros = 0 refuses them")
    func oneHotUnknown() throws {
        func model(zeros: Int64) throws -> CompiledModel {
            var g = GraphBuilder()
            g.input("c", .string, [nil, 1])
            g.node(
                "OneHotEncoder", ["c"], ["y"], domain: "ai.onnx.ml",
                ["cats_strings": .strings(["a", "b"]), "zeros": .int(zeros)])
            g.output("y")
            return try g.compile()
        }
        let out = try model(zeros: 1).run(["c": .string(["b", "zz", "a"], shape: [3, 1])])
        #expect(out["y"]!.shape == [3, 1, 2])
        #expect(out["y"]!.floats == [0, 1, 0, 0, 1, 0])
        #expect(throws: EngineError.self) { try model(zeros: 0).run(["c": .string(["zz"], shape: [1, 1])]) }
    }

    @Test("OneHotEncoder on floats: integral values find their category; huge or non-finite values are unknown")
    func oneHotFloats() throws {
        var g = GraphBuilder()
        g.input("c", .float, [nil, 1])
        g.node(
            "OneHotEncoder", ["c"], ["y"], domain: "ai.onnx.ml", ["cats_int64s": .ints([3, 7, 3]), "zeros": .int(1)])
        g.output("y")
        let m = try g.compile()
        let x: [Float] = [7, 3.9, 1e30, -.infinity, .nan, -1e19, 5]
        let out = try m.run(["c": Tensor(shape: [x.count, 1], values: .float(x))])
        #expect(out["y"]!.floats == [0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test("LabelEncoder defaults: -1 / _Unused / -0.0 when unset; opset 1 classes_strings")
    func labelEncoderDefaults() throws {
        var g = GraphBuilder()
        g.input("s", .string, [nil])
        g.node(
            "LabelEncoder", ["s"], ["i"], domain: "ai.onnx.ml",
            ["keys_strings": .strings(["x", "y"]), "values_int64s": .ints([7, 8])])
        g.output("i")
        #expect(try g.compile().run(["s": .string(["y", "q", "x"], shape: [3])])["i"]!.ints == [8, -1, 7])

        var h = GraphBuilder()
        h.input("i", .int64, [nil])
        h.node(
            "LabelEncoder", ["i"], ["s"], domain: "ai.onnx.ml",
            ["keys_int64s": .ints([1]), "values_strings": .strings(["one"])])
        h.output("s")
        #expect(try h.compile().run(["i": .int64([1, 2], shape: [2])])["s"]!.strings == ["one", "_Unused"])

        var k = GraphBuilder()
        k.opsets["ai.onnx.ml"] = 1
        k.input("s", .string, [nil])
        k.node(
            "LabelEncoder", ["s"], ["i"], domain: "ai.onnx.ml",
            ["classes_strings": .strings(["p", "q"]), "default_int64": .int(42)])
        k.output("i")
        #expect(try k.compile().run(["s": .string(["q", "zz"], shape: [2])])["i"]!.ints == [1, 42])
    }

    @Test("Imputer replaces NaN per column; Normalizer L1, L2, MAX")
    func imputerNormalizer() throws {
        var g = GraphBuilder()
        g.input("X", .float, [nil, 2])
        g.node(
            "Imputer", ["X"], ["y"], domain: "ai.onnx.ml",
            ["imputed_value_floats": .floats([1, 2]), "replaced_value_float": .float(.nan)])
        g.output("y")
        #expect(try g.compile().run(["X": .float([.nan, 5, 3, .nan], shape: [2, 2])])["y"]!.floats == [1, 5, 3, 2])

        for (norm, want) in [
            ("L1", [Float(-0.25), 0.75]), ("MAX", [Float(-1) / 3, 1]), ("L2", [Float(-0.31622776), 0.94868326]),
        ] {
            var n = GraphBuilder()
            n.input("X", .float, [nil, 2])
            n.node("Normalizer", ["X"], ["y"], domain: "ai.onnx.ml", ["norm": .string(norm)])
            n.output("y")
            let got = try n.compile().run(["X": .float([-1, 3], shape: [1, 2])])["y"]!.floats
            #expect(zip(got, want).allSatisfy { abs($0 - $1) < 1e-6 }, "\(norm): \(got)")
        }
    }

    @Test("broadcasting arithmetic, comparisons and Where")
    func broadcasting() throws {
        var g = GraphBuilder()
        g.input("A", .float, [nil, 3])
        g.constant("b", [1, 2, 3], [3])
        g.constant("two", [2], [])
        g.node("Add", ["A", "b"], ["s"])
        g.node("Mul", ["s", "two"], ["m"])
        g.node("Less", ["A", "b"], ["lt"])
        g.node("Where", ["lt", "A", "b"], ["w"])
        g.node("Div", ["m", "two"], ["d"])
        g.node("Sub", ["d", "b"], ["back"])
        for o in ["m", "lt", "w", "back"] { g.output(o) }
        let out = try g.compile().run(["A": .float([0, 5, 1, 4, 0, 9], shape: [2, 3])])
        #expect(out["m"]!.floats == [2, 14, 8, 10, 4, 24])
        #expect(out["lt"]!.bools == [true, false, true, false, true, false])
        #expect(out["w"]!.floats == [0, 2, 1, 1, 0, 3])
        #expect(out["back"]!.floats == [0, 5, 1, 4, 0, 9])
    }

    @Test("Gemm with transB and bias; MatMul; Softmax; Relu/Sigmoid/Clip")
    func dense() throws {
        var g = GraphBuilder()
        g.input("X", .float, [nil, 2])
        g.constant("W", [1, 2, 3, 4, 5, 6], [3, 2])  // 3 outputs × 2 inputs (transB)
        g.constant("c", [1, 0, -100], [3])
        g.node("Gemm", ["X", "W", "c"], ["y"], ["transB": .int(1)])
        g.node("Softmax", ["y"], ["p"], ["axis": .int(1)])
        g.node("Relu", ["y"], ["r"])
        g.node("Clip", ["y"], ["cl"], ["min": .float(0), "max": .float(10)])
        g.opsets["ai.onnx"] = 10
        for o in ["y", "p", "r", "cl"] { g.output(o) }
        let out = try g.compile().run(["X": .float([1, 1], shape: [1, 2])])
        #expect(out["y"]!.floats == [4, 7, -89])
        #expect(out["r"]!.floats == [4, 7, 0])
        #expect(out["cl"]!.floats == [4, 7, 0])
        let p = out["p"]!.floats
        #expect(abs(p.reduce(0, +) - 1) < 1e-6 && p[1] > p[0])
    }

    @Test("Clip before opset 11 on int64: default and out-of-range float bounds mean no bound, no trap")
    func clipInt64WithFloatAttributes() throws {
        var g = GraphBuilder()
        g.input("X", .int64, [nil])
        g.node("Clip", ["X"], ["unbounded"])  // min/max default to ±Float.greatestFiniteMagnitude
        g.node("Clip", ["X"], ["low"], ["min": .float(-3)])
        g.node("Clip", ["X"], ["wide"], ["min": .float(-1e30), "max": .float(5.5)])
        g.opsets["ai.onnx"] = 10
        for o in ["unbounded", "low", "wide"] { g.output(o) }
        let values: [Int64] = [.min, -7, 0, 6, .max]
        let out = try g.compile().run(["X": .int64(values, shape: [5])])
        #expect(out["unbounded"]!.ints == values)
        #expect(out["low"]!.ints == [-3, -3, 0, 6, .max])
        #expect(out["wide"]!.ints == [.min, -7, 0, 5, 5])
    }

    @Test("PROBIT is sqrt(2)·erfinv(2v − 1) as onnxruntime computes it")
    func probit() {
        // onnxruntime 1.32.0's outputs for a LinearRegressor (y = x) with post_transform PROBIT.
        let inputs: [Float] = [0.01, 0.1, 0.25, 0.5, 0.6, 0.75, 0.9, 0.99, 0.999]
        let onnxruntime: [Float] = [
            -2.3240902423858643, -1.2817128896713257, -0.6745743155479431, 0, 0.2533535063266754,
            0.6745743155479431, 1.2817128896713257, 2.3240902423858643, 3.084643602371216,
        ]
        for (v, expected) in zip(inputs, onnxruntime) {
            #expect(PostTransform.probit(v) == expected, "PROBIT(\(v))")
        }
        #expect(PostTransform.probit(1.5).isNaN)  // outside (0, 1), as in onnxruntime
    }

    @Test("shape ops: Reshape -1, Flatten, Squeeze/Unsqueeze, Gather, Concat, Cast, ReduceSum/Mean")
    func shapes() throws {
        var g = GraphBuilder()
        g.input("X", .float, [nil, 2, 2])
        g.constant("shape", ints: [-1, 4], [2])
        g.constant("axes", ints: [0], [1])
        g.constant("idx", ints: [1], [1])
        g.node("Reshape", ["X", "shape"], ["r"])
        g.node("Flatten", ["X"], ["f"], ["axis": .int(1)])
        g.node("Unsqueeze", ["r", "axes"], ["u"])
        g.node("Squeeze", ["u", "axes"], ["sq"])
        g.node("Gather", ["r", "idx"], ["ga"], ["axis": .int(1)])
        g.node("Concat", ["r", "f"], ["cc"], ["axis": .int(1)])
        g.node("Cast", ["r"], ["ci"], ["to": .int(7)])
        g.node("ReduceSum", ["r", "axes"], ["rs"], ["keepdims": .int(0)])
        g.node("ReduceMean", ["r"], ["rm"], ["axes": .ints([1]), "keepdims": .int(1)])
        g.opsets["ai.onnx"] = 13
        for o in ["r", "f", "u", "sq", "ga", "cc", "ci", "rs", "rm"] { g.output(o) }
        let out = try g.compile().run(["X": .float([1, 2, 3, 4, 5, 6, 7, 8.5], shape: [2, 2, 2])])
        #expect(out["r"]!.shape == [2, 4])
        #expect(out["f"]!.shape == [2, 4])
        #expect(out["u"]!.shape == [1, 2, 4])
        #expect(out["sq"]!.shape == [2, 4])
        #expect(out["ga"]!.floats == [2, 6])
        #expect(out["cc"]!.shape == [2, 8])
        #expect(out["ci"]!.ints == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(out["rs"]!.floats == [6, 8, 10, 12.5])
        #expect(out["rm"]!.floats == [2.5, 6.625])
    }

    @Test("LinearClassifier binary: label from the raw score, scores [1 - s, s]; string labels")
    func linearClassifier() throws {
        var g = GraphBuilder()
        g.input("X", .float, [nil, 2])
        g.node(
            "LinearClassifier", ["X"], ["label", "prob"], domain: "ai.onnx.ml",
            [
                "coefficients": .floats([1, -1]), "intercepts": .floats([0]),
                "classlabels_strings": .strings(["neg", "pos"]),
            ])
        g.output("label")
        g.output("prob")
        let m = try g.compile()
        let out = try m.run(["X": .float([2, 1, 1, 2], shape: [2, 2])])
        #expect(out["label"]!.strings == ["pos", "neg"])
        #expect(out["prob"]!.floats == [0, 1, 2, -1])
        #expect(m.signature.task == .classifier && m.signature.scoreColumns == 2)
    }

    @Test("unsupported ops are refused at load with node, op and reason")
    func unsupported() throws {
        var g = GraphBuilder()
        g.input("X", .float, [nil, 4])
        g.node("SVMClassifier", ["X"], ["l", "p"], domain: "ai.onnx.ml", name: "TreeEnsembleClassifier_3")
        g.output("l")
        do {
            _ = try g.compile()
            Issue.record("accepted an unsupported op")
        } catch let e as EngineError {
            #expect(e.message == "node \"TreeEnsembleClassifier_3\": op ai.onnx.ml.SVMClassifier is not supported")
            #expect(e.kind == .unsupported)
        }
    }

    @Test("wrong input types and shapes are refused at load")
    func loadValidation() throws {
        var g = GraphBuilder()
        g.input("X", .string, [nil, 2])
        g.node("Scaler", ["X"], ["y"], domain: "ai.onnx.ml", name: "scale", ["scale": .floats([1, 2])])
        g.output("y")
        #expect(throws: EngineError.self) { try g.compile() }

        var h = GraphBuilder()
        h.input("X", .float, [nil, 3])
        h.node("Scaler", ["X"], ["y"], domain: "ai.onnx.ml", name: "scale", ["scale": .floats([1, 2])])
        h.output("y")
        do { _ = try h.compile() } catch let e as EngineError {
            #expect(e.message.contains("node \"scale\"") && e.message.contains("3 input columns"))
        }
    }
}
