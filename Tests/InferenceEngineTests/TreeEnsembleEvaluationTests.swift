import InferenceEngine
import ONNXFormat
import Testing

/// The depth walk (`TreeEnsemble+Evaluation.swift`) against a plain re-statement of onnxruntime's rule on random
/// deep forests (fixed seeds): tree counts that exercise every grouping of the one-row walk (16, 8 and 4 trees at a
/// time and single trees), trees with more than 64 leaves (so batches walk too instead of using leaf masks), every
/// comparison mode, nodes tracking missing values, ±∞ and NaN thresholds, NaN and ±∞ inputs. Leaf weights are added
/// in tree order in float32, so every output must equal the reference to the bit.
@Suite("Tree depth walk against onnxruntime's rule on random deep forests")
struct TreeEnsembleEvaluationTests {
    typealias Rng = RandomForests.Rng
    typealias Node = RandomForests.Node

    /// One random tree of at most `maxDepth` levels: a node below the root becomes a leaf with probability
    /// `leafChance`. Weights are non-negative multiples of 1/256 (so the classifier's score is the plain sum).
    static func tree(_ rng: inout Rng, features: Int, maxDepth: Int, leafChance: Float, nanThresholds: Bool) -> [Node] {
        var nodes = [Node()]
        var open = [(0, 0)]
        while let (i, depth) = open.popLast() {
            if depth == maxDepth || (depth > 0 && rng.unit() < leafChance) {
                nodes[i].weight = Float(rng.below(1001)) / 256
                continue
            }
            nodes[i].feature = rng.below(features)
            let r = rng.below(40)
            nodes[i].threshold =
                r == 0 ? .infinity : r == 1 ? -.infinity : (r == 2 && nanThresholds) ? .nan
                : Float(rng.below(200) - 100) / 50
            nodes[i].tracks = rng.below(3) == 0
            nodes[i].left = nodes.count
            nodes[i].right = nodes.count + 1
            nodes.append(Node())
            nodes.append(Node())
            open += [(nodes[i].left, depth + 1), (nodes[i].right, depth + 1)]
        }
        return nodes
    }

    @Test(
        "regressor: one row at a time and in batches, every grouping of trees",
        arguments: ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"])
    func regressor(_ mode: String) throws {
        var rng = Rng(state: 0x5EED &+ UInt64(mode.utf8.count) &* 104_729)
        let features = 6
        for (index, treeCount) in [1, 3, 4, 5, 8, 11, 15, 16, 17, 20, 23, 28, 31, 32, 45, 51].enumerated() {
            // Alternate: NaN thresholds (no doubled row, the NaN test per node) and none (the doubled row).
            let nanThresholds = index % 3 == 2
            let trees = (0..<treeCount).map { t in
                Self.tree(
                    &rng, features: features, maxDepth: t % 5 == 0 ? 3 : 9, leafChance: t % 2 == 0 ? 0.05 : 0.25,
                    nanThresholds: nanThresholds)
            }
            var attrs = RandomForests.attributes(trees, mode, prefix: "target")
            attrs["n_targets"] = .int(1)
            attrs["base_values"] = .floats([0.25])
            var g = GraphBuilder()
            g.input("X", .float, [nil, features])
            g.node("TreeEnsembleRegressor", ["X"], ["Y"], domain: "ai.onnx.ml", attrs)
            g.output("Y")
            let model = try g.compile()
            let n = 37
            let xs = RandomForests.rows(&rng, n, features: features)
            let expected = (0..<n).map { r in
                RandomForests.reference(trees, mode, xs[(r * features)..<((r + 1) * features)], start: 0) + 0.25
            }
            let batch = try model.run(["X": .float(xs, shape: [n, features])])["Y"]!.floats
            #expect(batch == expected, "\(mode), \(treeCount) trees: batch")
            for r in 0..<n {
                let one = try model.run([
                    "X": .float(Array(xs[(r * features)..<((r + 1) * features)]), shape: [1, features])
                ])["Y"]!.floats
                #expect(one == [expected[r]], "\(mode), \(treeCount) trees: row \(r)")
            }
        }
    }

    @Test(
        "binary classifier through predict (the fused single-column plan): scores equal the reference sums",
        arguments: ["BRANCH_LEQ", "BRANCH_GT"])
    func classifierPredict(_ mode: String) throws {
        var rng = Rng(state: 0xC1A55 &+ UInt64(mode.utf8.count))
        let features = 5
        for treeCount in [2, 9, 16, 19, 36, 100] {
            let trees = (0..<treeCount).map { _ in
                Self.tree(&rng, features: features, maxDepth: 10, leafChance: 0.08, nanThresholds: false)
            }
            var attrs = RandomForests.attributes(trees, mode, prefix: "class")
            attrs["classlabels_int64s"] = .ints([0, 1])
            attrs["post_transform"] = .string("NONE")
            var g = GraphBuilder()
            g.input("X", .float, [nil, features])
            g.node("TreeEnsembleClassifier", ["X"], ["label", "prob"], domain: "ai.onnx.ml", attrs)
            g.output("label")
            g.output("prob")
            let model = try g.compile()
            let ctx = model.makeContext()
            let n = 29
            let xs = RandomForests.rows(&rng, n, features: features)
            let result = PredictionResult()
            for r in 0..<n {
                let row = Array(xs[(r * features)..<((r + 1) * features)])
                let sum = RandomForests.reference(trees, mode, row[...], start: 0)
                try model.predict(rows: 1, numeric: row, context: ctx, into: result)
                // Non-negative weights in one column: onnxruntime's scores are [1 − sum, sum], label 1 iff > 0.5.
                #expect(result.scores == [1 - sum, sum], "\(mode), \(treeCount) trees: row \(r)")
                #expect(result.labels == [sum > 0.5 ? 1 : 0], "\(mode), \(treeCount) trees: row \(r) label")
            }
            try model.predict(rows: n, numeric: xs, context: ctx, into: result)
            for r in 0..<n {
                let sum = RandomForests.reference(trees, mode, xs[(r * features)..<((r + 1) * features)], start: 0)
                #expect(result.scores[2 * r + 1] == sum, "\(mode), \(treeCount) trees: batch row \(r)")
            }
        }
    }

    @Test(
        "signed zeros, ±∞ and extreme leaf weights: one row equals the reference in every mode",
        arguments: ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"])
    func edgeValues(_ mode: String) throws {
        // 21 stumps (a group of 16, four and one): thresholds ±0, ±∞ and the extremes of float; leaf weights
        // include −0.0 and the largest finite floats (whose bit patterns sit next to the integer extremes).
        let thresholds: [Float] = [0, -0.0, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                                   .leastNonzeroMagnitude, -.leastNonzeroMagnitude, 1, -1]
        let weights: [Float] = [-0.0, 0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0.5, -0.0, 3]
        var trees: [[Node]] = []
        for t in 0..<21 {
            var root = Node()
            root.feature = t % 3
            root.threshold = thresholds[t % thresholds.count]
            root.tracks = t % 4 == 1
            root.left = 1
            root.right = 2
            var a = Node(), b = Node()
            a.weight = weights[t % weights.count]
            b.weight = weights[(t + 3) % weights.count]
            trees.append([root, a, b])
        }
        var attrs = RandomForests.attributes(trees, mode, prefix: "target")
        attrs["n_targets"] = .int(1)
        var g = GraphBuilder()
        g.input("X", .float, [nil, 3])
        g.node("TreeEnsembleRegressor", ["X"], ["Y"], domain: "ai.onnx.ml", attrs)
        g.output("Y")
        let model = try g.compile()
        let values: [Float] = [0, -0.0, .infinity, -.infinity, .nan, 1, -1, .leastNonzeroMagnitude]
        for a in values {
            for b in values {
                let row: [Float] = [a, b, -a]
                let expected = RandomForests.reference(trees, mode, row[...], start: 0)
                let got = try model.run(["X": .float(row, shape: [1, 3])])["Y"]!.floats
                #expect(
                    got.count == 1 && got[0].bitPattern == expected.bitPattern,
                    "\(mode), row \(row): \(got) vs \(expected)")
            }
        }
    }
}
