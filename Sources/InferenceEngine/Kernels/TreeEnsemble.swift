import ONNXFormat

/// A tree ensemble flattened for evaluation.
///
/// Layout: every internal node's two children sit next to each other (true child at `child`, false child at
/// `child + 1`), so a step is `child + (condition ? 0 : 1)` with no branch. A leaf points to itself: its
/// feature is an extra always-NaN column and its child is `self − 1`, so the comparison is false and the walk
/// stays put. Trees are walked a fixed number of steps (their depth). Position 0 is a dummy.
///
/// Three evaluation strategies, all adding leaf weights in tree order per row so that float32 sums match onnxruntime's:
/// the generic walk (``leafPosition(_:_:)``, any mode per node), the packed walk over ``packed`` and ``packedDual``
/// (one comparison for every node), and ``LeafMaskForest`` for batches of small trees. Which one runs is decided at
/// load from the tree shapes (``masksForBatches``) and per call from the row count.
///
/// Built once per classifier or regressor node at load; immutable and shared by every context afterwards.
struct TreeEnsemble: Sendable {
    /// A node's comparison (`nodes_modes`: BRANCH_LEQ, ..., BRANCH_NEQ), or `.leaf`; see ``fastMode`` for the fast
    /// layout's single comparison.
    enum Mode: UInt8, Sendable { case leq, lt, gte, gt, eq, neq, leaf }

    /// 8-byte node: threshold plus child << 9 | missing-tracks-true << 8 | feature (≤ 255).
    ///
    /// A leaf never compares its threshold (it reads the always-NaN column, so every comparison is false and the
    /// walk stays put); when every leaf holds exactly one weight (`leafValue` is set), the leaf's `threshold` holds
    /// that weight, so the one-row walk reads it from the node it has just loaded instead of a second array.
    struct PackedNode: Sendable {
        /// The split threshold of an internal node, or the leaf's single weight (see above).
        var threshold: Float
        /// `child << 9 | tracksTrue << 8 | feature`: the position of the true child (the false child is the next one),
        /// whether a NaN goes to the true child, and the column the node compares.
        var bits: UInt32
    }

    /// Number of input columns read (max feature id + 1); the NaN column has this index.
    let featureCount: Int
    /// Position of each tree's root, in the order the trees first appear in `nodes_treeids`.
    let roots: [Int32]
    /// Depth of each tree: the number of steps a walk takes to reach any leaf and stay there.
    let depths: [Int32]
    /// Depth of each group of 8 consecutive trees (for the one-row walk).
    let groupDepths: [Int32]
    /// Generic layout, one entry per position.
    let feature: [Int32]
    /// Split threshold at each position (0 for leaves).
    let threshold: [Float]
    /// Comparison at each position (`.leaf` for leaves).
    let mode: [Mode]
    /// Position of the true child (the false child is `child + 1`); a leaf points to `self − 1` so that the walk stays.
    let child: [Int32]
    /// Whether a NaN input takes the true branch at each position (`nodes_missing_value_tracks_true`).
    let tracksTrue: [Bool]
    /// The fast layout, when every internal node uses one of LEQ/LT/GTE/GT, features fit 8 bits and positions 23.
    let packed: [PackedNode]
    /// The single comparison every internal node uses when ``packed`` is built; nil when the generic layout must be
    /// used.
    let fastMode: Mode?
    /// Whether any node sends NaN to its true child, so that rows with NaN need the tracking logic.
    let hasMissingTracks: Bool
    /// The fast layout re-pointed at a doubled row (each column as it is, then again with NaN replaced by the
    /// value that passes the comparison, then the NaN column; see `LeafMaskForest`): nodes that track missing
    /// values read the second copy, so rows with missing values walk without a NaN test per node. Set when
    /// some node tracks missing values, `missingCopyIsExact` holds for every node and 2 × features + 1 fit 8 bits.
    let packedDual: [PackedNode]
    /// Leaf weights: positions → range in `weightClass`/`weightValue`.
    let leafStart: [Int32]
    /// Output column of each leaf weight, in leaf position order and, per leaf, in file order (so sums keep their
    /// order).
    let weightClass: [Int32]
    /// Value of each leaf weight, parallel to ``weightClass``.
    let weightValue: [Float]
    /// When every leaf has exactly one weight and all weights go to the same output column.
    let singleColumn: Int?
    /// Per position, the single weight (0 for internal nodes) when every leaf has exactly one weight.
    let leafValue: [Float]
    /// Per tree, the output column all its leaves add to (when every leaf has one weight and each tree one column).
    let treeColumns: [Int32]?
    /// Number of trees.
    let treeCount: Int
    /// Number of output columns (classes or targets).
    let columns: Int
    /// Whether no leaf weight is negative.
    let allWeightsNonNegative: Bool
    /// Number of distinct output columns the leaf weights target.
    let distinctWeightColumns: Int
    /// The leaf-mask layout (`LeafMaskForest`), chosen at load when every tree is small enough for it.
    private(set) var leafMasks: LeafMaskForest? = nil
    /// Whether batches of single-column sums use `leafMasks` rather than the depth walk (decided at load from
    /// the tree shapes, see `LeafMaskForest.cheaperThanWalk`).
    private(set) var masksForBatches = false

    /// Whether ``packed`` (8-byte nodes, one comparison for all) is available.
    var usesFastLayout: Bool { fastMode != nil }

    /// Builds the flattened ensemble from the node and leaf-weight attributes.
    /// `prefix` is `class` for classifiers and `target` for regressors.
    ///
    /// Each tree is flattened breadth-first from its root (the first node of the tree in file order); leaf weights keep
    /// their file order per leaf.
    ///
    /// - Throws: ``EngineError`` naming the node when attribute lists differ in length, a node is defined twice, a mode
    ///   or feature id is invalid, a child or weight refers to a node that does not exist, a weight targets a column
    ///   outside `0..<columns`, or a tree is deeper than 512 levels (or cyclic).
    init(_ nb: NodeBuilder, prefix: String, columns: Int) throws(EngineError) {
        let treeIDs = try nb.intList("nodes_treeids") ?? []
        let nodeIDs = try nb.intList("nodes_nodeids") ?? []
        let featureIDs = try nb.intList("nodes_featureids") ?? []
        var values = try nb.floats("nodes_values") ?? []
        if values.isEmpty { values = try nb.floats("nodes_values_as_tensor") ?? [] }
        let modes = try nb.stringList("nodes_modes") ?? []
        let trueIDs = try nb.intList("nodes_truenodeids") ?? []
        let falseIDs = try nb.intList("nodes_falsenodeids") ?? []
        let tracks = try nb.intList("nodes_missing_value_tracks_true") ?? []
        let n = treeIDs.count
        guard n > 0 else { throw nb.fail("the ensemble has no nodes") }
        // Positions are 32-bit (and a well-formed ensemble places at most 2n + 1 of them).
        guard n < Int(Int32.max) / 4 else { throw nb.fail("the ensemble has too many nodes (\(n))") }
        for (name, count) in [
            ("nodes_nodeids", nodeIDs.count), ("nodes_featureids", featureIDs.count),
            ("nodes_values", values.count), ("nodes_modes", modes.count), ("nodes_truenodeids", trueIDs.count),
            ("nodes_falsenodeids", falseIDs.count),
        ] where count != n {
            throw nb.fail("\(name) has \(count) entries, nodes_treeids has \(n)")
        }
        guard tracks.isEmpty || tracks.count == n else {
            throw nb.fail("nodes_missing_value_tracks_true has \(tracks.count) entries for \(n) nodes")
        }
        let index = NodeIndex(trees: treeIDs, nodes: nodeIDs)
        if let (tree, node) = index.duplicate {
            throw nb.fail("node \(node) of tree \(tree) is defined twice")
        }
        var treeOrder: [Int64] = []
        var treeRoot: [Int64: Int] = [:]
        var nodeModes: [Mode] = []
        nodeModes.reserveCapacity(n)
        for i in 0..<n {
            if treeRoot[treeIDs[i]] == nil {
                treeRoot[treeIDs[i]] = i
                treeOrder.append(treeIDs[i])
            }
            let m: Mode
            switch modes[i] {
            case "BRANCH_LEQ": m = .leq
            case "BRANCH_LT": m = .lt
            case "BRANCH_GTE": m = .gte
            case "BRANCH_GT": m = .gt
            case "BRANCH_EQ": m = .eq
            case "BRANCH_NEQ": m = .neq
            case "LEAF": m = .leaf
            default: throw nb.fail("node \(nodeIDs[i]) of tree \(treeIDs[i]) has unknown mode \(modes[i])")
            }
            nodeModes.append(m)
            if m != .leaf {
                guard featureIDs[i] >= 0, featureIDs[i] < 1 << 20 else {
                    throw nb.fail("node \(nodeIDs[i]) of tree \(treeIDs[i]) has invalid feature id \(featureIDs[i])")
                }
            }
        }
        // Leaf weights, grouped by node (compressed rows: node i's weights are weightsAt[weightsFrom[i]..<weightsFrom[i+1]]).
        let wTree = try nb.intList("\(prefix)_treeids") ?? []
        let wNode = try nb.intList("\(prefix)_nodeids") ?? []
        let wID = try nb.intList("\(prefix)_ids") ?? []
        var wValue = try nb.floats("\(prefix)_weights") ?? []
        if wValue.isEmpty { wValue = try nb.floats("\(prefix)_weights_as_tensor") ?? [] }
        guard wTree.count == wNode.count, wTree.count == wID.count, wTree.count == wValue.count else {
            throw nb.fail("\(prefix)_treeids, \(prefix)_nodeids, \(prefix)_ids and \(prefix)_weights differ in length")
        }
        var weightNode = [Int32](repeating: 0, count: wTree.count)
        var weightsFrom = [Int32](repeating: 0, count: n + 1)
        var columnSet = Set<Int64>()
        var nonNegative = true
        for k in 0..<wTree.count {
            guard let i = index.position(tree: wTree[k], node: wNode[k]) else {
                throw nb.fail("weight \(k) refers to node \(wNode[k]) of tree \(wTree[k]), which does not exist")
            }
            guard wID[k] >= 0, wID[k] < Int64(columns) else {
                throw nb.fail("weight \(k) targets column \(wID[k]) but there are \(columns)")
            }
            weightNode[k] = Int32(i)
            weightsFrom[i + 1] += 1
            columnSet.insert(wID[k])
            if wValue[k] < 0 { nonNegative = false }
        }
        for i in 0..<n { weightsFrom[i + 1] += weightsFrom[i] }
        // Weights in node order, each node's in file order (a stable counting sort), so sums keep their order.
        var weightsAt = [Int32](repeating: 0, count: wTree.count)
        var fill = weightsFrom
        for k in 0..<wTree.count {
            let i = Int(weightNode[k])
            weightsAt[Int(fill[i])] = Int32(k)
            fill[i] += 1
        }
        weightNode = []
        fill = []
        // Flatten each tree breadth-first with sibling pairs.
        var maxFeature: Int64 = -1
        for i in 0..<n where nodeModes[i] != .leaf { maxFeature = max(maxFeature, featureIDs[i]) }
        let nanColumn = Int32(maxFeature + 1)
        var pFeature: [Int32] = [nanColumn]
        var pThreshold: [Float] = [0]
        var pMode: [Mode] = [.leaf]
        var pChild: [Int32] = [0]
        var pTracks: [Bool] = [false]
        var pSource: [Int32] = [-1]
        var roots: [Int32] = []
        var depths: [Int32] = []
        // Well-formed trees place every node exactly once, after the shared leaf at position 0: sizing the arrays
        // for n + 1 positions up front keeps them at their final size (no doubling slack kept for the model's
        // lifetime, no growth copies while it loads).
        pFeature.reserveCapacity(n + 1)
        pThreshold.reserveCapacity(n + 1)
        pMode.reserveCapacity(n + 1)
        pChild.reserveCapacity(n + 1)
        pTracks.reserveCapacity(n + 1)
        pSource.reserveCapacity(n + 1)
        roots.reserveCapacity(treeOrder.count)
        depths.reserveCapacity(treeOrder.count)
        let limit = 4 * n + 16
        for tree in treeOrder {
            let root = treeRoot[tree]!
            roots.append(Int32(pFeature.count))
            var queue: [(source: Int, position: Int, depth: Int)] = []
            func place(_ source: Int) -> Int {
                pFeature.append(nanColumn)
                pThreshold.append(0)
                pMode.append(.leaf)
                pChild.append(0)
                pTracks.append(false)
                pSource.append(Int32(source))
                return pFeature.count - 1
            }
            queue.append((root, place(root), 0))
            var head = 0
            var treeDepth = 0
            while head < queue.count {
                let (src, pos, depth) = queue[head]
                head += 1
                guard pFeature.count <= limit, depth <= 512 else {
                    throw nb.fail("tree \(tree) is deeper than 512 levels or its nodes form a cycle")
                }
                if nodeModes[src] == .leaf {
                    pChild[pos] = Int32(pos - 1)
                    treeDepth = max(treeDepth, depth)
                    continue
                }
                guard let t = index.position(tree: tree, node: trueIDs[src]),
                    let f = index.position(tree: tree, node: falseIDs[src])
                else {
                    throw nb.fail("node \(nodeIDs[src]) of tree \(tree) points to a child that does not exist")
                }
                pFeature[pos] = Int32(featureIDs[src])
                pThreshold[pos] = values[src]
                pMode[pos] = nodeModes[src]
                pTracks[pos] = !tracks.isEmpty && tracks[src] != 0
                let c = place(t)
                _ = place(f)
                pChild[pos] = Int32(c)
                queue.append((t, c, depth + 1))
                queue.append((f, c + 1, depth + 1))
            }
            depths.append(Int32(treeDepth))
        }
        guard pFeature.count < Int(Int32.max) else { throw nb.fail("the ensemble is too large") }
        // The node-order scratch is done with: release it before the layouts below are built, so it does not add
        // to the load's peak memory.
        nodeModes = []
        // Leaf weights by position.
        var leafStart: [Int32] = []
        var weightClass: [Int32] = []
        var weightValue: [Float] = []
        leafStart.reserveCapacity(pFeature.count + 1)
        weightClass.reserveCapacity(wTree.count)
        weightValue.reserveCapacity(wTree.count)
        var single = true
        for p in 0..<pFeature.count {
            leafStart.append(Int32(weightClass.count))
            guard pMode[p] == .leaf, pSource[p] >= 0 else { continue }
            let node = Int(pSource[p])
            let from = Int(weightsFrom[node]), to = Int(weightsFrom[node + 1])
            if to - from != 1 { single = false }
            for j in from..<to {
                let k = Int(weightsAt[j])
                weightClass.append(Int32(wID[k]))
                weightValue.append(wValue[k])
            }
        }
        leafStart.append(Int32(weightClass.count))
        pSource = []
        weightsFrom = []
        weightsAt = []
        var singleColumn: Int? = nil
        var leafValue: [Float] = []
        if single, columnSet.count == 1, let col = columnSet.first { singleColumn = Int(col) }
        if single {
            leafValue = [Float](repeating: 0, count: pFeature.count)
            for p in 0..<pFeature.count where leafStart[p + 1] > leafStart[p] {
                leafValue[p] = weightValue[Int(leafStart[p])]
            }
        }
        // Output column of each tree, when every leaf of a tree has one weight for the same column.
        var treeColumns: [Int32]? = nil
        if single {
            var cols: [Int32] = []
            cols.reserveCapacity(roots.count)
            for t in 0..<roots.count {
                let end = t + 1 < roots.count ? Int(roots[t + 1]) : pFeature.count
                var col: Int32 = -1
                for p in Int(roots[t])..<end where leafStart[p + 1] > leafStart[p] {
                    let k = weightClass[Int(leafStart[p])]
                    if col == -1 { col = k } else if col != k { col = -2 }
                }
                cols.append(col)
            }
            if !cols.contains(where: { $0 < 0 }) { treeColumns = cols }
        }
        // Fast layout eligibility.
        let branchModes = Set(pMode.filter { $0 != .leaf })
        var fast: Mode? = nil
        if branchModes.count <= 1, maxFeature < 255, pFeature.count < 1 << 23 {
            let m = branchModes.first ?? .leq
            if m == .leq || m == .lt || m == .gte || m == .gt { fast = m }
        }
        var packed: [PackedNode] = []
        if fast != nil {
            packed.reserveCapacity(pFeature.count)
            for p in 0..<pFeature.count {
                let bits = UInt32(pChild[p]) << 9 | (pTracks[p] ? 1 << 8 : 0) | UInt32(pFeature[p])
                let isLeaf = pMode[p] == .leaf && p > 0
                packed.append(PackedNode(threshold: isLeaf && single ? leafValue[p] : pThreshold[p], bits: bits))
            }
        }
        var packedDual: [PackedNode] = []
        let dualColumns = 2 * (Int(maxFeature) + 1)
        if let fast, pTracks.contains(true), dualColumns < 255,
            !(0..<pFeature.count).contains(where: {
                pMode[$0] != .leaf && !Self.missingCopyIsExact(fast, pThreshold[$0], tracks: pTracks[$0])
            })
        {
            packedDual.reserveCapacity(pFeature.count)
            for p in 0..<pFeature.count {
                let f = pMode[p] == .leaf ? dualColumns : (pTracks[p] ? Int(maxFeature) + 1 : 0) + Int(pFeature[p])
                let isLeaf = pMode[p] == .leaf && p > 0
                packedDual.append(
                    PackedNode(
                        threshold: isLeaf && single ? leafValue[p] : pThreshold[p],
                        bits: UInt32(pChild[p]) << 9 | UInt32(f)))
            }
        }
        var groupDepths: [Int32] = []
        groupDepths.reserveCapacity((depths.count + 7) / 8)
        var g = 0
        while g < depths.count {
            groupDepths.append(depths[g..<min(g + 8, depths.count)].max() ?? 0)
            g += 8
        }
        self.featureCount = Int(nanColumn)
        self.roots = roots
        self.depths = depths
        self.groupDepths = groupDepths
        self.feature = pFeature
        self.threshold = pThreshold
        self.mode = pMode
        self.child = pChild
        self.tracksTrue = pTracks
        self.packed = packed
        self.fastMode = fast
        self.hasMissingTracks = pTracks.contains(true)
        self.packedDual = packedDual
        self.leafStart = leafStart
        self.weightClass = weightClass
        self.weightValue = weightValue
        self.singleColumn = singleColumn
        self.leafValue = leafValue
        self.treeColumns = treeColumns
        self.treeCount = roots.count
        self.columns = columns
        self.allWeightsNonNegative = nonNegative
        self.distinctWeightColumns = columnSet.count
        self.leafMasks = LeafMaskForest.make(self)
        if let masks = leafMasks {
            self.masksForBatches = treeColumns != nil && singleColumn == nil ? true : masks.cheaperThanWalk(self)
        }
    }
}

extension TreeEnsemble {
    /// Whether replacing NaN by the passing value (−∞ for LEQ/LT, +∞ for GTE/GT) at a node that tracks missing
    /// values gives the same branch as onnxruntime's `x op t || isnan(x)` for this threshold; a node that does not
    /// track reads the raw value, which is always exact.
    static func missingCopyIsExact(_ mode: Mode, _ threshold: Float, tracks: Bool) -> Bool {
        guard tracks else { return true }
        switch mode {
        case .leq, .gte: return !threshold.isNaN
        case .lt: return !threshold.isNaN && threshold != -.infinity
        case .gt: return !threshold.isNaN && threshold != .infinity
        default: return false
        }
    }
}

/// Finds a node's position in the attribute arrays from its (tree id, node id) pair, for the few lookups a load
/// makes per node (children, leaf weights).
///
/// A sorted permutation of 32-bit positions with binary search: a quarter of the memory of a hash map over
/// 64-bit key pairs, which matters for forests of hundreds of thousands of nodes loaded next to a serving process.
struct NodeIndex {
    /// Tree id of each node, as in `nodes_treeids`.
    private let trees: ONNXIntList
    /// Node id of each node, as in `nodes_nodeids`.
    private let nodes: ONNXIntList
    /// Positions ordered by (tree id, node id).
    private let order: [Int32]

    /// An index over plain arrays (tests and small ensembles).
    init(trees: [Int64], nodes: [Int64]) { self.init(trees: ONNXIntList(trees), nodes: ONNXIntList(nodes)) }

    /// Sorts the positions by (tree id, node id); the lists are kept, not copied.
    init(trees: ONNXIntList, nodes: ONNXIntList) {
        self.trees = trees
        self.nodes = nodes
        var order = (0..<Int32(trees.count)).map { $0 }
        order.sort { a, b in
            let ta = trees[Int(a)], tb = trees[Int(b)]
            return ta != tb ? ta < tb : nodes[Int(a)] < nodes[Int(b)]
        }
        self.order = order
    }

    /// The (tree, node) of the first pair defined twice, if any.
    var duplicate: (Int64, Int64)? {
        for j in order.indices.dropFirst() {
            let a = Int(order[j - 1]), b = Int(order[j])
            if trees[a] == trees[b] && nodes[a] == nodes[b] { return (trees[b], nodes[b]) }
        }
        return nil
    }

    /// The position of node `node` of tree `tree`, or nil when it is not defined.
    func position(tree: Int64, node: Int64) -> Int? {
        var low = 0, high = order.count
        while low < high {
            let mid = (low + high) / 2
            let p = Int(order[mid])
            if trees[p] < tree || (trees[p] == tree && nodes[p] < node) { low = mid + 1 } else { high = mid }
        }
        guard low < order.count else { return nil }
        let p = Int(order[low])
        return trees[p] == tree && nodes[p] == node ? p : nil
    }
}
