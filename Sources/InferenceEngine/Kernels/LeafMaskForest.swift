#if canImport(Glibc)
    import Glibc
#endif

/// A second evaluation layout for ensembles of small trees (at most 64 leaves each), the shape of LightGBM,
/// XGBoost and gradient-boosting models: QuickScorer-style leaf masks evaluated on eight rows at once with SIMD.
///
/// Every tree's leaves are numbered left to right (true branch first). Each internal node carries the mask of
/// the leaves that stay reachable when its test sends a row to the false branch (all leaves but those under its
/// true child). A row's exit leaf is the lowest leaf left after AND-ing the masks of every node whose test went
/// false: no node of the tree needs to be visited in order, so there is no dependent load chain, no branch and no
/// walk to the depth of the deepest leaf. That is what makes leaf-wise (deep, unbalanced) LightGBM trees cheap:
/// the cost is the number of internal nodes, evaluated eight rows per vector compare.
///
/// Missing values: each input column is prepared twice, as it is (a NaN fails every comparison, so it takes the
/// false branch, as in onnxruntime) and with NaN replaced by the value that passes the node's comparison (−∞ for
/// LEQ/LT, +∞ for GTE/GT). A node with `nodes_missing_value_tracks_true` reads the second copy, every other node
/// the first, so rows with and without missing values go through the same branch-free kernel. Exact for every
/// threshold except NaN, and −∞ (LT) or +∞ (GT) at a tracking node, which `make` refuses.
struct LeafMaskForest: Sendable {
    /// One internal node: the comparison, which prepared column it reads, and its false-branch leaf mask.
    struct Node: Sendable {
        /// The node's split threshold.
        var threshold: Float
        /// Column of the doubled row the node reads: the column as it is, or its NaN-passing copy for a tracking node.
        var feature: Int32
        /// Leaves 0–31 still reachable when the node's test goes to the false branch.
        var low: UInt32
        /// Leaves 32–63 still reachable when the node's test goes to the false branch (used by wide masks only).
        var high: UInt32
    }

    /// The comparison shared by every internal node.
    let mode: TreeEnsemble.Mode
    /// Whether some tree has more than 32 leaves (masks use both words).
    let wide: Bool
    /// Columns of the original row (each prepared twice).
    let featureCount: Int
    /// Per tree (plus one): range of its internal nodes in `nodes`.
    let nodeStart: [Int32]
    /// Internal nodes of all trees, each tree's in a contiguous range (see ``nodeStart``).
    let nodes: [Node]
    /// Per tree (plus one): index of its first leaf in `leafValues` (leaves left to right).
    let leafStart: [Int32]
    /// The single weight of each leaf, per tree from left to right.
    let leafValues: [Float]
    /// Output column each tree adds to.
    let treeColumn: [Int32]

    /// Most eight-row blocks evaluated together per tree (so each tree's nodes are loaded once for the chunk);
    /// fewer when the transposed chunk would pass 32 KiB (wide rows), so it stays in L1 and on the stack.
    static let chunkBlocks = 32
    /// Below this many rows a single-column ensemble keeps the depth walk (the vector lanes would sit idle).
    static let minimumRows = 4

    /// Builds the mask layout when the ensemble qualifies: one comparison mode among LEQ/LT/GTE/GT, finite
    /// thresholds, at most 64 leaves per tree, exactly one weight per leaf and one output column per tree.
    static func make(_ e: TreeEnsemble) -> LeafMaskForest? {
        var mode: TreeEnsemble.Mode? = nil
        for m in e.mode where m != .leaf {
            if mode == nil { mode = m } else if mode != m { return nil }
        }
        let m = mode ?? .leq
        guard m == .leq || m == .lt || m == .gte || m == .gt, e.featureCount <= 4096 else { return nil }
        let fc = e.featureCount
        var nodeStart: [Int32] = [0]
        var nodes: [Node] = []
        var leafStart: [Int32] = [0]
        var leafValues: [Float] = []
        var treeColumn: [Int32] = []
        var wide = false
        nodeStart.reserveCapacity(e.treeCount + 1)
        leafStart.reserveCapacity(e.treeCount + 1)
        treeColumn.reserveCapacity(e.treeCount)
        for t in 0..<e.treeCount {
            var column: Int32 = -1
            var leaves = 0
            var ok = true
            // Depth-first, true branch first: returns the range of leaf numbers under position p.
            func visit(_ p: Int, _ depth: Int) -> (Int, Int) {
                guard ok, depth <= 512 else {
                    ok = false
                    return (0, 0)
                }
                if e.mode[p] == .leaf {
                    let s = Int(e.leafStart[p]), end = Int(e.leafStart[p + 1])
                    guard end - s == 1, column == -1 || column == e.weightClass[s], leaves < 64 else {
                        ok = false
                        return (0, 0)
                    }
                    column = e.weightClass[s]
                    leafValues.append(e.weightValue[s])
                    leaves += 1
                    return (leaves - 1, leaves - 1)
                }
                let threshold = e.threshold[p]
                let tracks = e.tracksTrue[p]
                guard TreeEnsemble.missingCopyIsExact(m, threshold, tracks: tracks) else {
                    ok = false
                    return (0, 0)
                }
                let index = nodes.count
                let copy = tracks ? 1 : 0
                nodes.append(Node(threshold: threshold, feature: Int32(copy * fc + Int(e.feature[p])), low: 0, high: 0))
                let c = Int(e.child[p])
                let (first, last) = visit(c, depth + 1)
                let (_, end) = visit(c + 1, depth + 1)
                var mask: UInt64 = 0
                if ok {
                    let count = last - first + 1
                    mask = ~((count == 64 ? ~0 : (UInt64(1) << UInt64(count)) - 1) << UInt64(first))
                }
                nodes[index].low = UInt32(truncatingIfNeeded: mask)
                nodes[index].high = UInt32(truncatingIfNeeded: mask >> 32)
                return (first, end)
            }
            _ = visit(Int(e.roots[t]), 0)
            guard ok, leaves > 0 else { return nil }
            if leaves > 32 { wide = true }
            nodeStart.append(Int32(nodes.count))
            leafStart.append(Int32(leafValues.count))
            treeColumn.append(column)
        }
        return LeafMaskForest(
            mode: m, wide: wide, featureCount: fc, nodeStart: nodeStart, nodes: nodes, leafStart: leafStart,
            leafValues: leafValues, treeColumn: treeColumn)
    }

    /// Adds every tree's leaf value, in tree order per row, to `acc[row * accStride + (byColumn ? column : 0)]`.
    /// `rows` are prepared rows (`stride` floats apart; the first `featureCount` are read).
    func accumulate(
        _ rows: UnsafePointer<Float>, _ n: Int, stride: Int, _ acc: UnsafeMutablePointer<Float>, accStride: Int,
        byColumn: Bool
    ) {
        switch (mode, wide) {
        case (.leq, false): run(SIMDRightLEQ.self, NarrowMask.self, rows, n, stride, acc, accStride, byColumn)
        case (.leq, true): run(SIMDRightLEQ.self, WideMask.self, rows, n, stride, acc, accStride, byColumn)
        case (.lt, false): run(SIMDRightLT.self, NarrowMask.self, rows, n, stride, acc, accStride, byColumn)
        case (.lt, true): run(SIMDRightLT.self, WideMask.self, rows, n, stride, acc, accStride, byColumn)
        case (.gte, false): run(SIMDRightGTE.self, NarrowMask.self, rows, n, stride, acc, accStride, byColumn)
        case (.gte, true): run(SIMDRightGTE.self, WideMask.self, rows, n, stride, acc, accStride, byColumn)
        case (.gt, false): run(SIMDRightGT.self, NarrowMask.self, rows, n, stride, acc, accStride, byColumn)
        default: run(SIMDRightGT.self, WideMask.self, rows, n, stride, acc, accStride, byColumn)
        }
    }

    /// The accumulation loop specialised for one comparison and one mask width, so that neither is tested per node.
    private func run<B: SIMDBranchTest, W: MaskWidth>(
        _: B.Type, _: W.Type, _ rows: UnsafePointer<Float>, _ n: Int, _ stride: Int,
        _ acc: UnsafeMutablePointer<Float>, _ accStride: Int, _ byColumn: Bool
    ) {
        let fc = featureCount
        let perBlock = 2 * fc
        let chunk = max(1, min(Self.chunkBlocks, 32768 / (max(perBlock, 1) * MemoryLayout<SIMD8<Float>>.stride)))
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: max(perBlock * chunk, 1)) { blocks in
            let block = blocks.baseAddress!
            let lanes = UnsafeMutableRawPointer(block).assumingMemoryBound(to: Float.self)
            nodes.withUnsafeBufferPointer { np in
                leafValues.withUnsafeBufferPointer { lv in
                    var r0 = 0
                    while r0 < n {
                        let rowsHere = min(n - r0, 8 * chunk)
                        let blockCount = (rowsHere + 7) / 8
                        // Transpose the chunk: column j of lane i at block[b * perBlock + j] lane i, twice.
                        for b in 0..<blockCount {
                            let dst = lanes + b * perBlock * 8
                            for i in 0..<8 {
                                let r = min(b * 8 + i, rowsHere - 1)  // pad with the last row
                                let row = rows + (r0 + r) * stride
                                for j in 0..<fc {
                                    let x = row[j]
                                    dst[j * 8 + i] = x
                                    dst[(fc + j) * 8 + i] = x.isNaN ? B.passing : x
                                }
                            }
                        }
                        for t in 0..<treeColumn.count {
                            let ns = Int(nodeStart[t]), ne = Int(nodeStart[t + 1])
                            let leaf0 = Int(leafStart[t])
                            let col = byColumn ? Int(treeColumn[t]) : 0
                            for b in 0..<blockCount {
                                let base = block + b * perBlock
                                var low = SIMD8<UInt32>(repeating: ~0)
                                var high = SIMD8<UInt32>(repeating: ~0)
                                for k in ns..<ne {
                                    let node = np[k]
                                    let x = base[Int(node.feature)]
                                    let right = B.right(x, SIMD8<Float>(repeating: node.threshold))
                                    low &= SIMD8<UInt32>(repeating: ~0).replacing(with: node.low, where: right)
                                    if W.wide {
                                        high &= SIMD8<UInt32>(repeating: ~0).replacing(with: node.high, where: right)
                                    }
                                }
                                let rowBase = r0 + b * 8
                                let valid = min(8, rowsHere - b * 8)
                                for i in 0..<valid {
                                    let l = low[i]
                                    let leaf: Int
                                    if W.wide {
                                        leaf = l != 0 ? l.trailingZeroBitCount : 32 + high[i].trailingZeroBitCount
                                    } else {
                                        leaf = l.trailingZeroBitCount
                                    }
                                    acc[(rowBase + i) * accStride + col] += lv[leaf0 + leaf]
                                }
                            }
                        }
                        r0 += rowsHere
                    }
                }
            }
        }
    }
}

/// Whether a node's comparison sends the lanes to the false branch (NaN lanes fail the comparison, so they do).
protocol SIMDBranchTest {
    /// The lanes that go to the false (right) child: those where `x op t` does not hold.
    static func right(_ x: SIMD8<Float>, _ t: SIMD8<Float>) -> SIMDMask<SIMD8<Int32>>
    /// The value that passes the comparison whatever the threshold (what a tracked NaN becomes).
    static var passing: Float { get }
}
/// `BRANCH_LEQ`: a lane goes right unless `x <= t`.
enum SIMDRightLEQ: SIMDBranchTest {
    @inline(__always) static func right(_ x: SIMD8<Float>, _ t: SIMD8<Float>) -> SIMDMask<SIMD8<Int32>> {
        .!(x .<= t)
    }
    static var passing: Float { -.infinity }
}
/// `BRANCH_LT`: a lane goes right unless `x < t`.
enum SIMDRightLT: SIMDBranchTest {
    @inline(__always) static func right(_ x: SIMD8<Float>, _ t: SIMD8<Float>) -> SIMDMask<SIMD8<Int32>> {
        .!(x .< t)
    }
    static var passing: Float { -.infinity }
}
/// `BRANCH_GTE`: a lane goes right unless `x >= t`.
enum SIMDRightGTE: SIMDBranchTest {
    @inline(__always) static func right(_ x: SIMD8<Float>, _ t: SIMD8<Float>) -> SIMDMask<SIMD8<Int32>> {
        .!(x .>= t)
    }
    static var passing: Float { .infinity }
}
/// `BRANCH_GT`: a lane goes right unless `x > t`.
enum SIMDRightGT: SIMDBranchTest {
    @inline(__always) static func right(_ x: SIMD8<Float>, _ t: SIMD8<Float>) -> SIMDMask<SIMD8<Int32>> {
        .!(x .> t)
    }
    static var passing: Float { .infinity }
}

/// Leaf masks of one word (trees of at most 32 leaves) or two.
protocol MaskWidth { static var wide: Bool { get } }
/// Every tree has at most 32 leaves: one 32-bit mask word.
enum NarrowMask: MaskWidth { static var wide: Bool { false } }
/// Some tree has more than 32 leaves: two mask words.
enum WideMask: MaskWidth { static var wide: Bool { true } }

extension LeafMaskForest {
    /// Load-time kernel choice for single-column ensembles. The depth walk costs one dependent step per level of
    /// each tree's deepest leaf (more with missing-value tracking); the mask kernel costs one compare per internal
    /// node for eight rows (more with two-word masks), independent of depth. Unit costs measured with
    /// `SLUICE_TREE_KERNEL` on the benchmark models (XGBoost depth 6, LightGBM 63 leaves): a node compare for
    /// eight rows costs about 0.55 of one walk step for one row.
    /// `SLUICE_TREE_KERNEL=walk` or `=masks` overrides the choice (for benchmarking the two kernels).
    func cheaperThanWalk(_ e: TreeEnsemble) -> Bool {
        if let forced = Self.forcedKernel { return forced == "masks" }
        let stepCost = e.hasMissingTracks ? 1.3 : 1.0
        let walk = Double(e.depths.reduce(0) { $0 + Int($1) }) * stepCost
        let masks = Double(nodes.count) * (wide ? 1.5 : 1.0) / 8 * 0.55
        return masks < walk
    }

    /// The `SLUICE_TREE_KERNEL` override, read once.
    static let forcedKernel: String? = {
        guard let v = getenv("SLUICE_TREE_KERNEL") else { return nil }
        let s = String(cString: v)
        return s == "walk" || s == "masks" ? s : nil
    }()
}
