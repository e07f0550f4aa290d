import InferenceEngine
import ONNXFormat
import Testing

/// The tree kernels the engine picks per model (leaf masks for trees of at most 64 leaves, the depth walk with a
/// doubled row for missing values) against a plain re-statement of onnxruntime's rule, on random unbalanced
/// trees (fixed seeds): every comparison mode, nodes that track missing values, ±∞ thresholds, NaN and ±∞ inputs,
/// up to 60 leaves per tree (two-word masks), in batches with a partial last block and one row at a time.
@Suite("Tree kernels against onnxruntime's rule on random trees")
struct LeafMaskForestTests {
    typealias Rng = RandomForests.Rng
    typealias Node = RandomForests.Node

    /// One random tree (node 0 is the root), unbalanced: a node becomes a leaf with probability 0.3.
    static func tree(_ rng: inout Rng, features: Int, maxLeaves: Int) -> [Node] {
        var nodes = [Node()]
        var leaves = 1
        var open = [0]
        while let i = open.popLast() {
            if leaves >= maxLeaves || (nodes.count > 1 && rng.unit() < 0.3) {
                nodes[i].weight = Float(rng.below(2001) - 1000) / 256
                continue
            }
            leaves += 1
            nodes[i].feature = rng.below(features)
            let r = rng.below(20)
            nodes[i].threshold = r == 0 ? .infinity : r == 1 ? -.infinity : Float(rng.below(200) - 100) / 50
            nodes[i].tracks = rng.below(3) == 0
            nodes[i].left = nodes.count
            nodes[i].right = nodes.count + 1
            nodes.append(Node())
            nodes.append(Node())
            open += [nodes[i].left, nodes[i].right]
        }
        return nodes
    }

    @Test("random forests, every mode", arguments: ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"])
    func randomForests(_ mode: String) throws {
        var rng = Rng(state: UInt64(mode.utf8.count) &* 7919)
        let features = 5
        for maxLeaves in [20, 60] {
            let trees = (0..<24).map { _ in Self.tree(&rng, features: features, maxLeaves: maxLeaves) }
            var attrs = RandomForests.attributes(trees, mode, prefix: "target")
            attrs["n_targets"] = .int(1)
            attrs["base_values"] = .floats([0.25])
            var g = GraphBuilder()
            g.input("X", .float, [nil, features])
            g.node("TreeEnsembleRegressor", ["X"], ["Y"], domain: "ai.onnx.ml", attrs)
            g.output("Y")
            let model = try g.compile()
            let rows = 61
            let xs = RandomForests.rows(&rng, rows, features: features)
            let expected = (0..<rows).map { r in
                RandomForests.reference(trees, mode, xs[(r * features)..<((r + 1) * features)], start: 0) + 0.25
            }
            let batch = try model.run(["X": .float(xs, shape: [rows, features])])["Y"]!.floats
            #expect(batch == expected, "\(mode), \(maxLeaves) leaves: batch")
            for r in [0, 7, 30, 60] {
                let one = try model.run([
                    "X": .float(Array(xs[(r * features)..<((r + 1) * features)]), shape: [1, features])
                ])
                #expect(one["Y"]!.floats == [expected[r]], "\(mode), \(maxLeaves) leaves: row \(r)")
            }
        }
    }
}
