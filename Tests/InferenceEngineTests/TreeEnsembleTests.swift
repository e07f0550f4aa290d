import InferenceEngine
import ONNXFormat
import Testing

/// One tree: node 0 tests feature 0 against 0.5 (mode given), true → leaf 1 (class 1 weight 0), false → leaf 2
/// (class 1 weight 1), the sklearn binary layout: one weight per leaf, for the positive class.
func stump(
    mode: String, threshold: Float = 0.5, tracksTrue: Bool? = nil, labels: ONNXAttribute = .ints([10, 20]),
    classIDs: [Int64] = [0, 0], weights: [Float] = [0, 1], base: [Float]? = nil, post: String = "NONE"
) throws -> CompiledModel {
    var g = GraphBuilder()
    g.input("X", .float, [nil, 2])
    var attrs: [String: ONNXAttribute] = [
        "nodes_treeids": .ints([0, 0, 0]), "nodes_nodeids": .ints([0, 1, 2]), "nodes_featureids": .ints([0, 0, 0]),
        "nodes_values": .floats([threshold, 0, 0]), "nodes_modes": .strings([mode, "LEAF", "LEAF"]),
        "nodes_truenodeids": .ints([1, 0, 0]), "nodes_falsenodeids": .ints([2, 0, 0]),
        "class_treeids": .ints([0, 0]), "class_nodeids": .ints([1, 2]), "class_ids": .ints(classIDs),
        "class_weights": .floats(weights), "post_transform": .string(post),
    ]
    if case .strings = labels { attrs["classlabels_strings"] = labels } else { attrs["classlabels_int64s"] = labels }
    if let base { attrs["base_values"] = .floats(base) }
    if let tracksTrue { attrs["nodes_missing_value_tracks_true"] = .ints([tracksTrue ? 1 : 0, 0, 0]) }
    g.node("TreeEnsembleClassifier", ["X"], ["label", "prob"], domain: "ai.onnx.ml", attrs)
    g.output("label")
    g.output("prob")
    return try g.compile()
}

@Suite("TreeEnsemble semantics")
struct TreeEnsembleTests {
    func labels(_ m: CompiledModel, _ xs: [Float]) throws -> [Int64] {
        let out = try m.run(["X": .float(xs.flatMap { [$0, 0] }, shape: [xs.count, 2])])
        return out["label"]!.ints
    }

    @Test("every branch mode compares like onnxruntime")
    func modes() throws {
        let xs: [Float] = [0.25, 0.5, 0.75]
        #expect(try labels(stump(mode: "BRANCH_LEQ"), xs) == [10, 10, 20])
        #expect(try labels(stump(mode: "BRANCH_LT"), xs) == [10, 20, 20])
        #expect(try labels(stump(mode: "BRANCH_GTE"), xs) == [20, 10, 10])
        #expect(try labels(stump(mode: "BRANCH_GT"), xs) == [20, 20, 10])
        #expect(try labels(stump(mode: "BRANCH_EQ"), xs) == [20, 10, 20])
        #expect(try labels(stump(mode: "BRANCH_NEQ"), xs) == [10, 20, 10])
    }

    @Test("NaN follows the missing-value track, else the false branch")
    func missing() throws {
        for mode in ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ"] {
            #expect(try labels(stump(mode: mode), [.nan]) == [20], "\(mode) without tracking")
            #expect(try labels(stump(mode: mode, tracksTrue: false), [.nan]) == [20], "\(mode) tracks false")
            #expect(try labels(stump(mode: mode, tracksTrue: true), [.nan]) == [10], "\(mode) tracks true")
        }
        // NEQ is true for NaN regardless of tracking.
        #expect(try labels(stump(mode: "BRANCH_NEQ"), [.nan]) == [10])
    }

    @Test("the fast path (predict, eight rows at a time) agrees with row-by-row scoring, NaN included")
    func fastMatchesSlow() throws {
        let m = try stump(mode: "BRANCH_LEQ", tracksTrue: true)
        var xs: [Float] = (0..<37).map { Float($0) / 37 }
        xs[5] = .nan
        xs[20] = .nan
        let ctx = m.makeContext()
        let r = PredictionResult()
        try m.predict(rows: xs.count, numeric: xs.flatMap { [$0, 0] }, context: ctx, into: r)
        for (i, x) in xs.enumerated() {
            let one = try labels(m, [x])
            #expect(r.labels[i] == one[0], "row \(i)")
        }
        #expect(m.signature.acceptsNaN)
    }

    @Test("string class labels: label strings, predict returns the class index")
    func stringLabels() throws {
        let m = try stump(mode: "BRANCH_LEQ", labels: .strings(["no", "yes"]))
        let out = try m.run(["X": .float([0.1, 0, 0.9, 0], shape: [2, 2])])
        #expect(out["label"]!.strings == ["no", "yes"])
        #expect(m.signature.classLabels == .string(["no", "yes"]))
        let r = PredictionResult()
        try m.predict(rows: 2, numeric: [0.1, 0, 0.9, 0], context: m.makeContext(), into: r)
        #expect(r.labels == [0, 1])
        #expect(r.labelIndices == [0, 1])
        #expect(r.scores == [1, 0, 0, 1])
        #expect(r.confidences == [1, 1])
    }

    /// Outputs onnxruntime 1.32 gives for the same stump (checked with the Python package): its binary-case rules
    /// depend on which class columns receive weights, their signs and the base values.
    @Test(
        "binary scoring quirks match onnxruntime",
        arguments: [
            ([Int64(0), 0], [Float(0), 1], nil as [Float]?, "NONE", ["no", "yes"], [Float(1), 0, 0, 1]),
            ([1, 1], [0, 1], nil, "NONE", ["no", "yes"], [0, 0, 0, 1]),
            ([0, 1], [1, 1], nil, "NONE", ["yes", "yes"], [-1, 1, 0, 1]),
            ([1, 1], [-1, 1], nil, "NONE", ["no", "yes"], [0, -1, 0, 1]),
            ([0, 0], [-1, 1], nil, "LOGISTIC", ["no", "yes"], [0.7310586, 0.26894143, 0.26894143, 0.7310586]),
            ([1, 1], [0.2, 0.7], [0.1, 0.3], "NONE", ["no", "no"], [0, 0.3, 0, 0.3]),
        ])
    func binaryQuirks(
        _ ids: [Int64], _ w: [Float], _ base: [Float]?, _ post: String, _ labels: [String], _ probs: [Float]
    ) throws {
        let m = try stump(
            mode: "BRANCH_LEQ", labels: .strings(["no", "yes"]), classIDs: ids, weights: w, base: base, post: post)
        let out = try m.run(["X": .float([0.1, 0, 0.9, 0], shape: [2, 2])])
        #expect(out["label"]!.strings == labels)
        #expect(zip(out["prob"]!.floats, probs).allSatisfy { abs($0 - $1) < 1e-6 }, "\(out["prob"]!.floats)")
    }

    @Test("empty batch gives empty outputs")
    func emptyBatch() throws {
        let m = try stump(mode: "BRANCH_LEQ")
        let out = try m.run(["X": .float([], shape: [0, 2])])
        #expect(out["label"]!.shape == [0])
        #expect(out["prob"]!.shape == [0, 2])
        let r = PredictionResult()
        try m.predict(rows: 0, numeric: [], context: m.makeContext(), into: r)
        #expect(r.rows == 0 && r.labels.isEmpty && r.scores.isEmpty)
    }

    @Test("a child that does not exist is refused at load, naming the node")
    func badChild() throws {
        var g = GraphBuilder()
        g.input("X", .float, [nil, 1])
        g.node(
            "TreeEnsembleRegressor", ["X"], ["y"], domain: "ai.onnx.ml", name: "trees",
            [
                "nodes_treeids": .ints([0, 0]), "nodes_nodeids": .ints([0, 1]), "nodes_featureids": .ints([0, 0]),
                "nodes_values": .floats([0, 0]), "nodes_modes": .strings(["BRANCH_LEQ", "LEAF"]),
                "nodes_truenodeids": .ints([1, 0]), "nodes_falsenodeids": .ints([7, 0]),
                "target_treeids": .ints([0]), "target_nodeids": .ints([1]), "target_ids": .ints([0]),
                "target_weights": .floats([1]),
            ])
        g.output("y")
        #expect(throws: EngineError.self) { try g.compile() }
        do { _ = try g.compile() } catch let e as EngineError {
            #expect(e.message.contains("node \"trees\"") && e.message.contains("does not exist"))
        }
    }

    @Test("regressor aggregates: SUM, AVERAGE, MIN, MAX with base values")
    func regressorAggregates() throws {
        func model(_ agg: String) throws -> CompiledModel {
            var g = GraphBuilder()
            g.input("X", .float, [nil, 1])
            // Two stumps: tree 0 leaves 1/2 → 1 or 3; tree 1 leaves → 10 or 30.
            g.node(
                "TreeEnsembleRegressor", ["X"], ["y"], domain: "ai.onnx.ml",
                [
                    "nodes_treeids": .ints([0, 0, 0, 1, 1, 1]), "nodes_nodeids": .ints([0, 1, 2, 0, 1, 2]),
                    "nodes_featureids": .ints([0, 0, 0, 0, 0, 0]), "nodes_values": .floats([0, 0, 0, 0, 0, 0]),
                    "nodes_modes": .strings(["BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_LEQ", "LEAF", "LEAF"]),
                    "nodes_truenodeids": .ints([1, 0, 0, 1, 0, 0]), "nodes_falsenodeids": .ints([2, 0, 0, 2, 0, 0]),
                    "target_treeids": .ints([0, 0, 1, 1]), "target_nodeids": .ints([1, 2, 1, 2]),
                    "target_ids": .ints([0, 0, 0, 0]),
                    "target_weights": .floats([1, 3, 10, 30]), "aggregate_function": .string(agg),
                    "base_values": .floats([100]),
                ])
            g.output("y")
            return try g.compile()
        }
        let x = Tensor.float([-1, 1], shape: [2, 1])
        #expect(try model("SUM").run(["X": x])["y"]!.floats == [111, 133])
        #expect(try model("AVERAGE").run(["X": x])["y"]!.floats == [105.5, 116.5])
        #expect(try model("MIN").run(["X": x])["y"]!.floats == [101, 103])
        #expect(try model("MAX").run(["X": x])["y"]!.floats == [110, 130])
    }

    @Test("several weights per leaf (multi-class forests, CatBoost): 8-tree groups plus a remainder, NaN tracking")
    func multiWeightLeaves() throws {
        // 11 stumps (a group of eight and three more): tree t tests feature t % 2 with LEQ 0.5, odd trees send NaN
        // to the true leaf; the true leaf adds (t + 1, 0.5) to the two targets, the false leaf (0, t + 1).
        var tree: [Int64] = [], node: [Int64] = [], feature: [Int64] = [], modes: [String] = []
        var trueIDs: [Int64] = [], falseIDs: [Int64] = [], tracks: [Int64] = [], values: [Float] = []
        var wTree: [Int64] = [], wNode: [Int64] = [], wID: [Int64] = [], wValue: [Float] = []
        for t in 0..<11 {
            tree += [Int64(t), Int64(t), Int64(t)]
            node += [0, 1, 2]
            feature += [Int64(t % 2), 0, 0]
            modes += ["BRANCH_LEQ", "LEAF", "LEAF"]
            trueIDs += [1, 0, 0]
            falseIDs += [2, 0, 0]
            tracks += [t % 2 == 1 ? 1 : 0, 0, 0]
            values += [0.5, 0, 0]
            wTree += [Int64(t), Int64(t), Int64(t), Int64(t)]
            wNode += [1, 1, 2, 2]
            wID += [0, 1, 0, 1]
            wValue += [Float(t + 1), 0.5, 0, Float(t + 1)]
        }
        var g = GraphBuilder()
        g.input("X", .float, [nil, 2])
        g.node(
            "TreeEnsembleRegressor", ["X"], ["y"], domain: "ai.onnx.ml",
            [
                "nodes_treeids": .ints(tree), "nodes_nodeids": .ints(node), "nodes_featureids": .ints(feature),
                "nodes_values": .floats(values), "nodes_modes": .strings(modes), "nodes_truenodeids": .ints(trueIDs),
                "nodes_falsenodeids": .ints(falseIDs), "nodes_missing_value_tracks_true": .ints(tracks),
                "target_treeids": .ints(wTree), "target_nodeids": .ints(wNode), "target_ids": .ints(wID),
                "target_weights": .floats(wValue), "n_targets": .int(2),
            ])
        g.output("y")
        let model = try g.compile()
        let rows: [[Float]] = [[0, 0], [1, 1], [0, 1], [.nan, 0], [1, .nan], [.nan, .nan], [0.5, 0.75]]
        var expected: [Float] = []
        for x in rows {
            var y0: Float = 0, y1: Float = 0
            for t in 0..<11 {
                let v = x[t % 2]
                if v.isNaN ? t % 2 == 1 : v <= 0.5 {
                    y0 += Float(t + 1)
                    y1 += 0.5
                } else {
                    y1 += Float(t + 1)
                }
            }
            expected += [y0, y1]
        }
        let out = try model.run(["X": .float(rows.flatMap { $0 }, shape: [rows.count, 2])])
        #expect(out["y"]!.shape == [rows.count, 2])
        #expect(out["y"]!.floats == expected)
        for (r, x) in rows.enumerated() {
            #expect(try model.run(["X": .float(x, shape: [1, 2])])["y"]!.floats == [expected[2 * r], expected[2 * r + 1]])
        }
    }
}
