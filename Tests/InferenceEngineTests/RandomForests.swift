import ONNXFormat

/// Random forests for the tree-kernel tests (`LeafMaskForestTests`, `TreeEnsembleEvaluationTests`): a seeded
/// generator, the node type both tree builders fill, onnxruntime's rule for one row as plain code, the forest as
/// TreeEnsemble attributes, and input rows with NaN and ±∞.
enum RandomForests {
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

    /// One tree node; `left < 0` marks a leaf, whose `weight` is its value.
    struct Node {
        var feature = 0, threshold: Float = 0, tracks = false, left = -1, right = -1, weight: Float = 0
    }

    /// The comparison of `mode` (a TreeEnsemble `nodes_modes` value) that sends `x` to the true child.
    static func passes(_ mode: String, _ x: Float, _ t: Float) -> Bool {
        switch mode {
        case "BRANCH_LEQ": return x <= t
        case "BRANCH_LT": return x < t
        case "BRANCH_GTE": return x >= t
        default: return x > t
        }
    }

    /// onnxruntime's rule for one row: per tree, `x op t || (tracks && isnan(x))` picks the true child; leaf
    /// weights summed in tree order from `start`.
    static func reference(_ trees: [[Node]], _ mode: String, _ row: ArraySlice<Float>, start: Float) -> Float {
        var sum = start
        for nodes in trees {
            var i = 0
            while nodes[i].left >= 0 {
                let x = row[row.startIndex + nodes[i].feature]
                let go = passes(mode, x, nodes[i].threshold) || (nodes[i].tracks && x.isNaN)
                i = go ? nodes[i].left : nodes[i].right
            }
            sum += nodes[i].weight
        }
        return sum
    }

    /// The forest as TreeEnsemble attributes (one weight per leaf, all for output column 0).
    static func attributes(_ trees: [[Node]], _ mode: String, prefix: String) -> [String: ONNXAttribute] {
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
        return [
            "nodes_treeids": .ints(tIDs), "nodes_nodeids": .ints(nIDs), "nodes_featureids": .ints(fIDs),
            "nodes_values": .floats(values), "nodes_modes": .strings(modes), "nodes_truenodeids": .ints(trueIDs),
            "nodes_falsenodeids": .ints(falseIDs), "nodes_missing_value_tracks_true": .ints(tracks),
            "\(prefix)_treeids": .ints(wT), "\(prefix)_nodeids": .ints(wN), "\(prefix)_ids": .ints(wIDs),
            "\(prefix)_weights": .floats(weights),
        ]
    }

    /// Rows: mostly finite, some NaN, some ±∞ (real ±∞ inputs must not be taken for missing).
    static func rows(_ rng: inout Rng, _ count: Int, features: Int) -> [Float] {
        (0..<(count * features)).map { _ in
            let r = rng.below(12)
            return r == 0 ? .nan : r == 1 ? .infinity : r == 2 ? -.infinity : Float(rng.below(240) - 120) / 50
        }
    }
}
