import ONNXFormat

/// Load-time rewrites of a parsed graph that remove per-node work without changing any result.
///
/// Each rewrite replaces a group of nodes with fewer nodes computing the same values with the same float
/// operations in the same order, so outputs stay bit-identical to the unrewritten graph. A group that does not
/// match every condition exactly is left alone (the rewrite is an optimisation, never a reinterpretation).
enum GraphRewrite {
    /// Applies every rewrite; returns the graph to compile.
    static func apply(_ graph: ONNXGraph) -> ONNXGraph {
        var g = graph
        fuseSingleTreeRegressors(&g)
        return g
    }

    // MARK: single-tree regressors → one multi-target ensemble

    /// Attributes a fused `TreeEnsembleRegressor` may carry; a node with any other attribute is not fused.
    private static let fusableAttributes: Set<String> = [
        "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes", "nodes_truenodeids",
        "nodes_falsenodeids", "nodes_missing_value_tracks_true", "nodes_hitrates", "target_treeids", "target_nodeids",
        "target_ids", "target_weights", "n_targets", "post_transform", "aggregate_function", "base_values",
    ]

    /// Fuses `Concat(axis 1)` over the outputs of single-tree, single-target `TreeEnsembleRegressor`s that all
    /// read the same input into one `TreeEnsembleRegressor` with one target per tree, writing the Concat's output.
    ///
    /// `convert_sparkml` writes a gradient-boosted model this way (one regressor node per tree, a Concat, then a
    /// MatMul with the tree weights): every node prepares the same rows again. The fused ensemble prepares them
    /// once and walks all trees together. Tree k's leaf weight lands in column k exactly as it landed in the k-th
    /// [N, 1] output: `0 + weight (+ base value)`, sum aggregation, no post transform; the Concat copied those values
    /// unchanged. Fused only when every regressor has exactly one tree, `n_targets` 1, all weights on target 0,
    /// `SUM` aggregation (the default), post transform `NONE`, attribute lists of consistent lengths, only the
    /// attributes above, and its one output is read by that Concat alone (once, and not a graph output).
    static func fuseSingleTreeRegressors(_ graph: inout ONNXGraph) {
        var uses: [String: Int] = [:]
        for node in graph.nodes { for name in node.inputs where !name.isEmpty { uses[name, default: 0] += 1 } }
        for output in graph.outputs { uses[output.name, default: 0] += 1 }
        var producer: [String: Int] = [:]
        for (i, node) in graph.nodes.enumerated() {
            for name in node.outputs where !name.isEmpty { producer[name] = i }
        }
        var removed = Set<Int>()
        var replacement: [Int: ONNXNode] = [:]
        for (ci, concat) in graph.nodes.enumerated() {
            guard concat.domain == "ai.onnx", concat.opType == "Concat", concat.inputs.count >= 2,
                concat.outputs.count == 1, !concat.outputs[0].isEmpty,
                case .int(let axis)? = concat.attributes["axis"], axis == 1 || axis == -1
            else { continue }
            var members: [Int] = []
            for name in concat.inputs {
                guard let p = producer[name], p < ci, !removed.contains(p), uses[name] == 1,
                    !members.contains(p)
                else { break }
                let node = graph.nodes[p]
                guard node.domain == "ai.onnx.ml", node.opType == "TreeEnsembleRegressor", node.inputs.count == 1,
                    node.outputs.count == 1, node.inputs[0] == graph.nodes[members.first ?? p].inputs[0],
                    singleTree(node) != nil
                else { break }
                members.append(p)
            }
            guard members.count == concat.inputs.count,
                let fused = fuse(members.map { graph.nodes[$0] }, output: concat.outputs[0], name: concat.name)
            else { continue }
            removed.formUnion(members)
            replacement[ci] = fused
        }
        guard !replacement.isEmpty else { return }
        var nodes: [ONNXNode] = []
        nodes.reserveCapacity(graph.nodes.count)
        for (i, node) in graph.nodes.enumerated() where !removed.contains(i) {
            nodes.append(replacement[i] ?? node)
        }
        graph.nodes = nodes
    }

    /// The parts of a single-tree, single-target SUM regressor with no post transform, or nil.
    private struct Tree {
        /// `nodes_nodeids`, `nodes_featureids`, `nodes_values` and `nodes_modes` of the tree.
        var nodeIDs: ONNXIntList, featureIDs: ONNXIntList, values: [Float], modes: ONNXStringList
        /// `nodes_truenodeids`, `nodes_falsenodeids` and `nodes_missing_value_tracks_true` (zeros when absent).
        var trueIDs: ONNXIntList, falseIDs: ONNXIntList, tracks: ONNXIntList
        /// `target_nodeids` and `target_weights` (all on target 0).
        var weightNodes: ONNXIntList, weights: [Float]
        /// The single base value (0 when absent).
        var base: Float
    }

    /// Reads the attributes of a `TreeEnsembleRegressor` that qualifies for fusion (see
    /// ``fuseSingleTreeRegressors(_:)``), or returns nil when any condition fails.
    private static func singleTree(_ node: ONNXNode) -> Tree? {
        let a = node.attributes
        guard a.keys.allSatisfy({ fusableAttributes.contains($0) }) else { return nil }
        if let t = a["n_targets"] { guard case .int(1) = t else { return nil } }
        if let p = a["post_transform"] { guard case .string("NONE") = p else { return nil } }
        if let f = a["aggregate_function"] { guard case .string("SUM") = f else { return nil } }
        guard case .ints(let treeIDs)? = a["nodes_treeids"], let first = treeIDs.first,
            treeIDs.allSatisfy({ $0 == first }),
            case .ints(let nodeIDs)? = a["nodes_nodeids"], case .ints(let featureIDs)? = a["nodes_featureids"],
            case .floats(let values)? = a["nodes_values"], case .strings(let modes)? = a["nodes_modes"],
            case .ints(let trueIDs)? = a["nodes_truenodeids"], case .ints(let falseIDs)? = a["nodes_falsenodeids"],
            case .ints(let wTrees)? = a["target_treeids"], case .ints(let wNodes)? = a["target_nodeids"],
            case .ints(let wIDs)? = a["target_ids"], case .floats(let weights)? = a["target_weights"]
        else { return nil }
        let n = treeIDs.count
        guard
            [nodeIDs.count, featureIDs.count, values.count, modes.count, trueIDs.count, falseIDs.count]
                .allSatisfy({ $0 == n }),
            wTrees.count == wNodes.count, wIDs.count == wNodes.count, weights.count == wNodes.count,
            wTrees.allSatisfy({ $0 == first }), wIDs.allSatisfy({ $0 == 0 })
        else { return nil }
        var tracks = ONNXIntList(Array(repeating: 0, count: n))
        if let t = a["nodes_missing_value_tracks_true"] {
            guard case .ints(let v) = t, v.count == n else { return nil }
            tracks = v
        }
        var base: Float = 0
        if let b = a["base_values"] {
            guard case .floats(let v) = b, v.count <= 1 else { return nil }
            base = v.first ?? 0
        }
        return Tree(
            nodeIDs: nodeIDs, featureIDs: featureIDs, values: values, modes: modes, trueIDs: trueIDs,
            falseIDs: falseIDs, tracks: tracks, weightNodes: wNodes, weights: weights, base: base)
    }

    /// One regressor with tree k (renumbered k) writing target k, or nil when a member does not qualify.
    private static func fuse(_ members: [ONNXNode], output: String, name: String) -> ONNXNode? {
        var treeIDs: [Int64] = [], nodeIDs: [Int64] = [], featureIDs: [Int64] = [], values: [Float] = []
        var modes: [String] = [], trueIDs: [Int64] = [], falseIDs: [Int64] = [], tracks: [Int64] = []
        var wTrees: [Int64] = [], wNodes: [Int64] = [], wIDs: [Int64] = [], weights: [Float] = []
        var base: [Float] = []
        var anyTracks = false, anyBase = false
        for (k, node) in members.enumerated() {
            guard let t = singleTree(node) else { return nil }
            let id = Int64(k)
            treeIDs.append(contentsOf: repeatElement(id, count: t.nodeIDs.count))
            nodeIDs += t.nodeIDs
            featureIDs += t.featureIDs
            values += t.values
            modes += t.modes
            trueIDs += t.trueIDs
            falseIDs += t.falseIDs
            tracks += t.tracks
            wTrees.append(contentsOf: repeatElement(id, count: t.weightNodes.count))
            wNodes += t.weightNodes
            wIDs.append(contentsOf: repeatElement(id, count: t.weightNodes.count))
            weights += t.weights
            base.append(t.base)
            anyTracks = anyTracks || node.attributes["nodes_missing_value_tracks_true"] != nil
            anyBase = anyBase || node.attributes["base_values"] != nil
        }
        var attributes: [String: ONNXAttribute] = [
            "nodes_treeids": .ints(treeIDs), "nodes_nodeids": .ints(nodeIDs), "nodes_featureids": .ints(featureIDs),
            "nodes_values": .floats(values), "nodes_modes": .strings(modes), "nodes_truenodeids": .ints(trueIDs),
            "nodes_falsenodeids": .ints(falseIDs), "target_treeids": .ints(wTrees), "target_nodeids": .ints(wNodes),
            "target_ids": .ints(wIDs), "target_weights": .floats(weights), "n_targets": .int(Int64(members.count)),
            "post_transform": .string("NONE"), "aggregate_function": .string("SUM"),
        ]
        if anyTracks { attributes["nodes_missing_value_tracks_true"] = .ints(tracks) }
        if anyBase { attributes["base_values"] = .floats(base) }
        return ONNXNode(
            name: "\(members[0].name)…\(members[members.count - 1].name) (fused into \(name))",
            opType: "TreeEnsembleRegressor", domain: "ai.onnx.ml", inputs: members[0].inputs, outputs: [output],
            attributes: attributes)
    }
}
