import InferenceEngine
import ONNXFormat
import Testing

/// The tree kernels the engine picks per model (leaf masks for trees of at most 64 leaves, the depth walk with a
/// doubled row for missing values) against a plain re-statement of onnxruntime's rule, on random unbalanced
/// trees (fixed seeds): every comparison mode, nodes that track missing values, ±∞ thresholds, NaN and ±∞ inputs,
/// up to 60 leaves per tree (two-word masks), in batches with a partial last block and one row at a time.
@Suite("Tree kernels against onnxruntime's rule on random trees")
struct LeafMaskForestTests {
    /// SplitMix64, so the trees do not depend on the standard library's generator.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    struct Node {
        var feature = 0, threshold: Float = 0, tracks = false, left = -1, right = -1, weight: Float = 0
    }

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

    static func passes(_ mode: String, _ x: Float, _ t: Float) -> Bool {
        switch mode {
        case "BRANCH_LEQ": return x <= t
        case "BRANCH_LT": return x < t
        case "BRANCH_GTE": return x >= t
        default: return x > t
        }
    }

    @Test("random forests, every mode", arguments: ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"])
    func randomForests(_ mode: String) throws {
        var rng = Rng(state: UInt64(mode.utf8.count) &* 7919)
        let features = 5
        for maxLeaves in [20, 60] {
            let trees = (0..<24).map { _ in Self.tree(&rng, features: features, maxLeaves: maxLeaves) }
            var tIDs: [Int64] = [], nIDs: [Int64] = [], fIDs: [Int64] = [], values: [Float] = [], modes: [String] = []
            var trueIDs: [Int64] = [], falseIDs: [Int64] = [], tracks: [Int64] = []
            var wT: [Int64] = [], wN: [Int64] = [], wIDs: [Int64] = [], weights: [Float] = []
            for (t, nodes) in trees.enumerated() {
                for (i, n) in nodes.enumerated() {
                    tIDs.append(Int64(t))
                    nIDs.append(Int64(i))
                    fIDs.append(Int64(n.feature))
                    values.append(n.threshold)
                    modes.append(n.left < 0 ? "LEAF" : mode)
                    trueIDs.append(Int64(max(n.left, 0)))
                    falseIDs.append(Int64(max(n.right, 0)))
                    tracks.append(n.tracks ? 1 : 0)
                    if n.left < 0 {
                        wT.append(Int64(t))
                        wN.append(Int64(i))
                        wIDs.append(0)
                        weights.append(n.weight)
                    }
                }
            }
            var g = GraphBuilder()
            g.input("X", .float, [nil, features])
            g.node(
                "TreeEnsembleRegressor", ["X"], ["Y"], domain: "ai.onnx.ml",
                [
                    "nodes_treeids": .ints(tIDs), "nodes_nodeids": .ints(nIDs), "nodes_featureids": .ints(fIDs),
                    "nodes_values": .floats(values), "nodes_modes": .strings(modes),
                    "nodes_truenodeids": .ints(trueIDs), "nodes_falsenodeids": .ints(falseIDs),
                    "nodes_missing_value_tracks_true": .ints(tracks), "target_treeids": .ints(wT),
                    "target_nodeids": .ints(wN), "target_ids": .ints(wIDs), "target_weights": .floats(weights),
                    "n_targets": .int(1), "base_values": .floats([0.25]),
                ])
            g.output("Y")
            let model = try g.compile()
            // Rows: mostly finite, some NaN, some ±∞ (also real ±∞ inputs must not be taken for missing).
            let rows = 61
            var xs: [Float] = []
            for _ in 0..<(rows * features) {
                let r = rng.below(12)
                xs.append(r == 0 ? .nan : r == 1 ? .infinity : r == 2 ? -.infinity : Float(rng.below(240) - 120) / 50)
            }
            var expected: [Float] = []
            for r in 0..<rows {
                var sum: Float = 0
                for nodes in trees {
                    var i = 0
                    while nodes[i].left >= 0 {
                        let x = xs[r * features + nodes[i].feature]
                        let go = Self.passes(mode, x, nodes[i].threshold) || (nodes[i].tracks && x.isNaN)
                        i = go ? nodes[i].left : nodes[i].right
                    }
                    sum += nodes[i].weight
                }
                expected.append(sum + 0.25)
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
