import InferenceEngine
import ONNXFormat
import Testing

/// `Split` in every opset form: sizes as an attribute (opset 11), as a constant or computed input (13), equal
/// pieces with a smaller last one (`num_outputs`, 18), and the errors for sizes that do not fit.
@Suite("Split")
struct SplitKernelTests {
    private func graph(opset: Int64, outputs: [String], _ attrs: [String: ONNXAttribute] = [:], sizes: [Int64]? = nil)
        -> GraphBuilder
    {
        var g = GraphBuilder()
        g.opsets["ai.onnx"] = opset
        g.input("X", .float, [nil, 5])
        var ins = ["X"]
        if let sizes {
            g.constant("sizes", ints: sizes, [sizes.count])
            ins.append("sizes")
        }
        g.node("Split", ins, outputs, attrs)
        for o in outputs { g.output(o) }
        return g
    }

    private let x = Tensor.float([0, 1, 2, 3, 4, 10, 11, 12, 13, 14], shape: [2, 5])

    @Test("opset 11: split attribute along axis 1 (Spark's Imputer hands out columns this way)")
    func attribute() throws {
        let out = try graph(opset: 11, outputs: ["a", "b", "c"], ["axis": .int(1), "split": .ints([1, 3, 1])])
            .compile().run(["X": x])
        #expect(out["a"]!.shape == [2, 1] && out["a"]!.floats == [0, 10])
        #expect(out["b"]!.shape == [2, 3] && out["b"]!.floats == [1, 2, 3, 11, 12, 13])
        #expect(out["c"]!.floats == [4, 14])
    }

    @Test("opset 13: sizes as a constant input; axis 0 without sizes splits evenly")
    func input() throws {
        let out = try graph(opset: 13, outputs: ["a", "b"], ["axis": .int(-1)], sizes: [2, 3]).compile().run(["X": x])
        #expect(out["a"]!.floats == [0, 1, 10, 11])
        #expect(out["b"]!.floats == [2, 3, 4, 12, 13, 14])
        let rows = try graph(opset: 13, outputs: ["r0", "r1"]).compile().run(["X": x])
        #expect(rows["r0"]!.shape == [1, 5] && rows["r1"]!.floats == [10, 11, 12, 13, 14])
    }

    @Test("opset 18: num_outputs leaves a smaller last piece; opset 13 refuses an uneven split at run time")
    func uneven() throws {
        let out = try graph(opset: 18, outputs: ["a", "b", "c"], ["axis": .int(1), "num_outputs": .int(3)])
            .compile().run(["X": x])
        #expect(out["a"]!.floats == [0, 1, 10, 11])
        #expect(out["b"]!.floats == [2, 3, 12, 13])
        #expect(out["c"]!.floats == [4, 14])
        let model = try graph(opset: 13, outputs: ["a", "b"], ["axis": .int(1)]).compile()
        do {
            _ = try model.run(["X": x])
            Issue.record("an uneven split without num_outputs ran")
        } catch {
            #expect(error.description.contains("cannot split evenly"), "\(error)")
        }
    }

    @Test("sizes that do not add up to the axis are refused at load, naming the node and the sizes")
    func badSizes() {
        do {
            _ = try graph(opset: 13, outputs: ["a", "b"], ["axis": .int(1)], sizes: [2, 2]).compile()
            Issue.record("compiled")
        } catch {
            let text = "\(error)"
            #expect(text.contains("Split") && text.contains("add up to 4") && text.contains("5 elements"), "\(text)")
        }
        do {
            _ = try graph(opset: 11, outputs: ["a", "b"], ["axis": .int(1), "split": .ints([5])]).compile()
            Issue.record("compiled")
        } catch {
            #expect("\(error)".contains("1 sizes for 2 outputs"), "\(error)")
        }
    }

    @Test("string columns split like numbers")
    func strings() throws {
        var g = GraphBuilder()
        g.opsets["ai.onnx"] = 13
        g.input("S", .string, [nil, 2])
        g.node("Split", ["S"], ["a", "b"], ["axis": .int(1)])
        g.output("a")
        g.output("b")
        let out = try g.compile().run(["S": .string(["x", "y", "z", "w"], shape: [2, 2])])
        #expect(out["a"]!.strings == ["x", "z"] && out["b"]!.strings == ["y", "w"])
    }
}
