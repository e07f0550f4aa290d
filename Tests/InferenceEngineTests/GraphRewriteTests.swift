import Foundation
import ONNXFormat
import Testing

@testable import InferenceEngine

/// The load-time rewrites (`GraphRewrite`, Concat of a whole Split, Concat of fed columns) give bit-identical
/// outputs to the graph as written, and leave alone the graphs where they would change a result.
@Suite("Load-time graph rewrites")
struct GraphRewriteTests {
    static let converters = Fixtures.repoRoot.appendingPathComponent("Tests/fixtures/converters")

    /// Compiles `model` with and without the rewrites.
    static func both(_ model: ONNXModel) throws -> (rewritten: CompiledModel, plain: CompiledModel) {
        (
            try CompiledModel(model: model, featureNames: nil, started: 0, fileBytes: 0, rewrites: true),
            try CompiledModel(model: model, featureNames: nil, started: 0, fileBytes: 0, rewrites: false)
        )
    }

    static func fixture(_ name: String) throws -> (ONNXModel, [String: Tensor], Int) {
        let d = converters.appendingPathComponent(name)
        let model = try ONNXModel(bytes: try Fixtures.bytes(d.appendingPathComponent("model.onnx")))
        let compiled = try CompiledModel(model: model)
        let (rows, feeds) = try BatchIO.readJSONInputs(
            try Fixtures.bytes(d.appendingPathComponent("inputs.json")), signature: compiled.signature)
        return (model, feeds, rows)
    }

    static func regressorCount(_ m: CompiledModel) -> Int { m.plan.filter { $0 is TreeEnsembleRegressorKernel }.count }

    /// Same names, shapes and values; floats compared bit by bit (NaN equals NaN, −0 differs from +0).
    static func sameOutputs(_ a: [(name: String, value: Tensor)], _ b: [(name: String, value: Tensor)]) -> Bool {
        a.count == b.count
            && zip(a, b).allSatisfy { x, y in
                guard x.name == y.name, x.value.shape == y.value.shape else { return false }
                if case .float(let u) = x.value.values, case .float(let v) = y.value.values {
                    return u.map(\.bitPattern) == v.map(\.bitPattern)
                }
                return x.value == y.value
            }
    }

    /// Feeds the fixture's rows through `predict` (dense numeric block built from the signature).
    static func predict(_ m: CompiledModel, _ feeds: [String: Tensor], rows: Int) throws -> PredictionResult {
        let sig = m.signature
        var numeric = [Float](repeating: 0, count: rows * sig.numericFeatureCount)
        var strings = [[String]](repeating: [], count: sig.stringFeatureCount)
        for f in sig.features {
            let t = feeds[sig.inputs[f.inputIndex].name]!
            let width = t.elementCount / max(rows, 1)
            for r in 0..<rows {
                switch t.values {
                case .float(let v): numeric[r * sig.numericFeatureCount + f.position] = v[r * width + f.column]
                case .int64(let v): numeric[r * sig.numericFeatureCount + f.position] = Float(v[r * width + f.column])
                case .string(let v): strings[f.position].append(v[r * width + f.column])
                default: break
                }
            }
        }
        let result = PredictionResult()
        try m.predict(rows: rows, numeric: numeric, strings: strings, context: m.makeContext(), into: result)
        return result
    }

    // MARK: fixtures

    @Test("Spark GBT: 15 single-tree regressors become one ensemble with identical outputs")
    func sparkGBT() throws {
        for name in ["spark_gbt_classifier", "spark_gbt_regressor"] {
            let (model, feeds, rows) = try Self.fixture(name)
            let (fused, plain) = try Self.both(model)
            #expect(Self.regressorCount(plain) > 1, "\(name)")
            #expect(Self.regressorCount(fused) == 1, "\(name)")
            #expect(fused.info.trees == plain.info.trees && fused.info.treeNodes == plain.info.treeNodes)
            #expect(fused.info.opCounts == plain.info.opCounts, "op counts describe the file as written")
            #expect(Self.sameOutputs(try fused.run(feeds), try plain.run(feeds)), "\(name)")
            let a = try Self.predict(fused, feeds, rows: rows), b = try Self.predict(plain, feeds, rows: rows)
            #expect(a.scores == b.scores && a.labels == b.labels, "\(name)")
        }
    }

    @Test("Spark Imputer: Concat of the whole Split is the Split's input; the serving plan is one fused tree pass")
    func sparkImputer() throws {
        let (model, feeds, rows) = try Self.fixture("spark_imputer_decisiontree")
        let (rewritten, plain) = try Self.both(model)
        #expect(plain.plan.contains { $0 is SplitKernel })
        #expect(!rewritten.plan.contains { $0 is SplitKernel })
        #expect(rewritten.binding.fusedTree != nil)
        #expect(Self.sameOutputs(try rewritten.run(feeds), try plain.run(feeds)))
        let a = try Self.predict(rewritten, feeds, rows: rows), b = try Self.predict(plain, feeds, rows: rows)
        #expect(a.scores == b.scores && a.labels == b.labels)
        #expect(rows > 0 && a.scores.count == b.scores.count)
    }

    @Test("Concat of fed columns is fed as one block on every converter fixture, with identical results")
    func fedConcat() throws {
        var elided = 0
        for name in Fixtures.modelNames(in: Self.converters) {
            let (model, feeds, rows) = try Self.fixture(name)
            let (rewritten, plain) = try Self.both(model)
            let a = try Self.predict(rewritten, feeds, rows: rows), b = try Self.predict(plain, feeds, rows: rows)
            #expect(a.scores == b.scores && a.labels == b.labels && a.labelIndices == b.labelIndices, "\(name)")
            if rewritten.predictPlan.filter({ $0 is ConcatKernel }).count
                < plain.predictPlan.filter({ $0 is ConcatKernel }).count
            {
                elided += 1
            }
        }
        #expect(elided >= 5, "Spark fixtures start with a Concat of [N, 1] inputs")
    }

    @Test("Spark multinomial LogisticRegression is served by the fused linear plan, bit-identical to the graph")
    func sparkLogreg() throws {
        let (model, feeds, rows) = try Self.fixture("spark_logreg_multinomial")
        let (rewritten, plain) = try Self.both(model)
        #expect(rewritten.binding.fusedLinear != nil)
        #expect(plain.binding.fusedLinear == nil, "without the rewrites the plan starts with the Concat")
        let a = try Self.predict(rewritten, feeds, rows: rows)
        let out = try plain.run(feeds)
        #expect(a.scores.map(\.bitPattern) == out["probability"]!.floats.map(\.bitPattern))
        #expect(a.labels == out["prediction"]!.ints)
        #expect(a.labels.count == rows && a.confidences.count == rows)
    }

    // MARK: synthetic graphs

    /// One single-tree regressor over X (2 features): x[feature] ≤ threshold → left leaf, else right leaf.
    static func tree(
        _ g: inout GraphBuilder, _ out: String, input: String = "X", feature: Int64, threshold: Float,
        leaves: (Float, Float), extra: [String: ONNXAttribute] = [:]
    ) {
        var attrs: [String: ONNXAttribute] = [
            "nodes_treeids": .ints([0, 0, 0]), "nodes_nodeids": .ints([0, 1, 2]),
            "nodes_featureids": .ints([feature, 0, 0]), "nodes_values": .floats([threshold, 0, 0]),
            "nodes_modes": .strings(["BRANCH_LEQ", "LEAF", "LEAF"]), "nodes_truenodeids": .ints([1, 0, 0]),
            "nodes_falsenodeids": .ints([2, 0, 0]), "target_treeids": .ints([0, 0]), "target_nodeids": .ints([1, 2]),
            "target_ids": .ints([0, 0]), "target_weights": .floats([leaves.0, leaves.1]), "n_targets": .int(1),
        ]
        for (k, v) in extra { attrs[k] = v }
        g.node("TreeEnsembleRegressor", [input], [out], domain: "ai.onnx.ml", attrs)
    }

    /// Rows with NaN, ±0 and values on both sides of the thresholds (fixed seed).
    static func rows(_ n: Int) -> [Float] {
        var rng = SplitMix(seed: 14)
        var v: [Float] = []
        for k in 0..<(2 * n) {
            switch k % 7 {
            case 0: v.append(.nan)
            case 1: v.append(-0.0)
            default: v.append(Float(rng.next() % 2000) / 1000 - 1)
            }
        }
        return v
    }

    static func threeTrees(third: [String: ONNXAttribute] = [:], thirdInput: String = "X") -> GraphBuilder {
        var g = GraphBuilder()
        g.input("X", .float, [nil, 2])
        g.input("Y", .float, [nil, 2])
        tree(&g, "t0", feature: 0, threshold: 0.25, leaves: (0.5, -1.25))
        tree(
            &g, "t1", feature: 1, threshold: -0.5, leaves: (2, 0.125),
            extra: ["nodes_missing_value_tracks_true": .ints([1, 0, 0]), "base_values": .floats([0.75])])
        tree(&g, "t2", input: thirdInput, feature: 0, threshold: 0, leaves: (-0.0, 3), extra: third)
        g.node("Concat", ["t0", "t1", "t2"], ["all"], ["axis": .int(1)])
        g.constant("w", [0.1, 0.2, 0.3], [3, 1])
        g.node("MatMul", ["all", "w"], ["y"])
        g.output("y")
        g.output("all")
        return g
    }

    static func check(_ g: GraphBuilder, fusedRegressors: Int) throws {
        let graph = ONNXGraph(
            name: "t", nodes: g.nodes, initializers: g.initializers, inputs: g.inputs, outputs: g.outputs)
        let (rewritten, plain) = try both(ONNXModel(irVersion: 8, opsets: g.opsets, graph: graph))
        #expect(regressorCount(rewritten) == fusedRegressors)
        let x = rows(64)
        let feeds = ["X": Tensor(shape: [64, 2], values: .float(x)), "Y": Tensor(shape: [64, 2], values: .float(x))]
        let a = try rewritten.run(feeds), b = try plain.run(feeds)
        #expect(sameOutputs(a, b))
        // Bit-level equality, including the sign of zero.
        #expect(a["all"]!.floats.map(\.bitPattern) == b["all"]!.floats.map(\.bitPattern))
    }

    @Test("single-tree regressors with base values and missing-value tracking fuse to identical outputs")
    func fuses() throws {
        try Self.check(Self.threeTrees(), fusedRegressors: 1)
    }

    @Test("regressors whose fusion would change a result are left alone")
    func leftAlone() throws {
        // A post transform, another aggregation or another input than the others: not the same arithmetic.
        try Self.check(Self.threeTrees(third: ["post_transform": .string("PROBIT")]), fusedRegressors: 3)
        try Self.check(Self.threeTrees(third: ["aggregate_function": .string("MAX")]), fusedRegressors: 3)
        try Self.check(Self.threeTrees(thirdInput: "Y"), fusedRegressors: 3)
        // A tree output that is also read elsewhere (a graph output).
        var g = Self.threeTrees()
        g.output("t1")
        try Self.check(g, fusedRegressors: 3)
    }

    @Test("a Concat that reorders a Split's pieces is not taken for the Split's input")
    func reorderedSplit() throws {
        var g = GraphBuilder()
        g.input("X", .float, [nil, 3])
        g.node("Split", ["X"], ["a", "b", "c"], ["axis": .int(1), "split": .ints([1, 1, 1])])
        g.node("Concat", ["c", "a", "b"], ["y"], ["axis": .int(1)])
        g.output("y")
        g.opsets = ["ai.onnx": 11, "ai.onnx.ml": 3]
        let graph = ONNXGraph(
            name: "t", nodes: g.nodes, initializers: g.initializers, inputs: g.inputs, outputs: g.outputs)
        let (rewritten, _) = try Self.both(ONNXModel(irVersion: 6, opsets: g.opsets, graph: graph))
        let out = try rewritten.run(["X": Tensor(shape: [2, 3], values: .float([1, 2, 3, 4, 5, 6]))])
        #expect(out["y"]!.floats == [3, 1, 2, 6, 4, 5])
        // In order, it is the identity and no kernel runs for it.
        g.nodes[1] = ONNXNode(
            name: "Concat", opType: "Concat", domain: "", inputs: ["a", "b", "c"], outputs: ["y"],
            attributes: ["axis": .int(-1)])
        let inOrder = ONNXGraph(
            name: "t", nodes: g.nodes, initializers: g.initializers, inputs: g.inputs, outputs: g.outputs)
        let (identity, _) = try Self.both(ONNXModel(irVersion: 6, opsets: g.opsets, graph: inOrder))
        #expect(!identity.plan.contains { $0 is SplitKernel || $0 is ConcatKernel })
        let same = try identity.run(["X": Tensor(shape: [2, 3], values: .float([1, 2, 3, 4, 5, 6]))])
        #expect(same["y"]!.floats == [1, 2, 3, 4, 5, 6])
    }

    @Test("a Concat of fed columns out of dense order is still concatenated on the serving path")
    func fedOutOfOrder() throws {
        var g = GraphBuilder()
        g.input("a", .float, [nil, 1])
        g.input("b", .float, [nil, 1])
        g.node("Concat", ["b", "a"], ["ab"], ["axis": .int(1)])
        g.node("Neg", ["ab"], ["y"])
        g.output("y")
        let m = try g.compile()
        #expect(m.predictPlan.contains { $0 is ConcatKernel })
        let result = PredictionResult()
        try m.predict(rows: 2, numeric: [1, 2, 3, 4], context: m.makeContext(), into: result)
        #expect(result.scores == [-2, -1, -4, -3])
    }
}

/// A small fixed-seed generator for test data.
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
