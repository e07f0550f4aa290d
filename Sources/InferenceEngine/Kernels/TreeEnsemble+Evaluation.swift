/// Branch comparisons, specialised so the fast walk has no per-node mode switch.
protocol BranchTest {
    /// Whether `x` takes the true branch against threshold `t` (false for NaN, as IEEE comparisons are).
    static func test(_ x: Float, _ t: Float) -> Bool
}
enum BranchLEQ: BranchTest { @inline(__always) static func test(_ x: Float, _ t: Float) -> Bool { x <= t } }
enum BranchLT: BranchTest { @inline(__always) static func test(_ x: Float, _ t: Float) -> Bool { x < t } }
enum BranchGTE: BranchTest { @inline(__always) static func test(_ x: Float, _ t: Float) -> Bool { x >= t } }
enum BranchGT: BranchTest { @inline(__always) static func test(_ x: Float, _ t: Float) -> Bool { x > t } }

/// Whether the walk must honour `nodes_missing_value_tracks_true`.
protocol MissingPolicy { static var tracks: Bool { get } }
/// No node tracks missing values: NaN follows the comparison (false branch).
enum NoMissingTracks: MissingPolicy { static var tracks: Bool { false } }
/// Some node sends NaN to its true child.
enum MissingTracks: MissingPolicy { static var tracks: Bool { true } }

/// How leaf weights of successive trees combine.
///
/// SUM adds the weights; AVERAGE divides that sum by the number of trees afterwards; MIN and MAX keep the smallest or
/// largest weight per output column (a column no leaf reached keeps only its base value).
enum TreeAggregate: Sendable { case sum, average, min, max }

/// Evaluation of a flattened ensemble over prepared rows (see ``prepareRows(_:_:name:)``). Every function adds in tree
/// order per row, so float32 sums match onnxruntime's to the bit.
extension TreeEnsemble {
    /// Row stride of the prepared row buffer: the used features plus the NaN column.
    var rowStride: Int { featureCount + 1 }

    /// Copies the first `featureCount` columns of each row into `buffer`, adding the NaN column.
    /// Throws when the input has fewer columns than the trees read.
    func prepareRows(_ x: Slot, _ buffer: inout [Float], name: String) throws(EngineError) -> Int {
        let rows = x.shape.count <= 1 ? 1 : x.shape[0]
        let cols = x.shape.isEmpty ? 1 : (rows == 0 ? 0 : x.count / rows)
        if rows > 0 && cols < featureCount {
            throw EngineError.eval(name, "input has \(cols) columns, the trees read \(featureCount)")
        }
        let stride = rowStride
        let total = rows * stride
        if buffer.count < total { buffer.append(contentsOf: repeatElement(0, count: total - buffer.count)) }
        let fc = featureCount
        buffer.withUnsafeMutableBufferPointer { out in
            func copy<S: Collection>(_ src: S, _ conv: (S.Element) -> Float) where S.Index == Int {
                for r in 0..<rows {
                    let o = out.baseAddress! + r * stride
                    let base = src.startIndex + r * cols
                    for j in 0..<fc { o[j] = conv(src[base + j]) }
                    o[fc] = .nan
                }
            }
            switch x.kind {
            case .float:
                x.f.withUnsafeBufferPointer { src in
                    for r in 0..<rows {
                        let o = out.baseAddress! + r * stride
                        let s = src.baseAddress! + r * cols
                        for j in 0..<fc { o[j] = s[j] }
                        o[fc] = .nan
                    }
                }
            case .double: copy(x.d) { Float($0) }
            default: copy(x.i) { Float($0) }
            }
        }
        return rows
    }

    // MARK: fast single-column sums

    /// Adds, per row and in tree order, the single leaf weight of every tree to `acc[row]` (float32).
    func sumSingleColumn(_ rows: UnsafePointer<Float>, _ n: Int, _ acc: UnsafeMutablePointer<Float>) {
        if n >= LeafMaskForest.minimumRows, masksForBatches, let masks = leafMasks {
            masks.accumulate(rows, n, stride: rowStride, acc, accStride: 1, byColumn: false)
            return
        }
        if n < LeafMaskForest.minimumRows, !packedDual.isEmpty {
            switch fastMode {
            case .leq?: sumDual(BranchLEQ.self, rows, n, acc)
            case .lt?: sumDual(BranchLT.self, rows, n, acc)
            case .gte?: sumDual(BranchGTE.self, rows, n, acc)
            default: sumDual(BranchGT.self, rows, n, acc)
            }
            return
        }
        switch (fastMode, hasMissingTracks) {
        case (.leq?, false): sumFast(BranchLEQ.self, NoMissingTracks.self, rows, n, acc)
        case (.leq?, true): sumFast(BranchLEQ.self, MissingTracks.self, rows, n, acc)
        case (.lt?, false): sumFast(BranchLT.self, NoMissingTracks.self, rows, n, acc)
        case (.lt?, true): sumFast(BranchLT.self, MissingTracks.self, rows, n, acc)
        case (.gte?, false): sumFast(BranchGTE.self, NoMissingTracks.self, rows, n, acc)
        case (.gte?, true): sumFast(BranchGTE.self, MissingTracks.self, rows, n, acc)
        case (.gt?, false): sumFast(BranchGT.self, NoMissingTracks.self, rows, n, acc)
        case (.gt?, true): sumFast(BranchGT.self, MissingTracks.self, rows, n, acc)
        default:
            leafValue.withUnsafeBufferPointer { lv in
                for r in 0..<n {
                    let row = rows + r * rowStride
                    for t in 0..<treeCount { acc[r] += lv[leafPosition(row, t)] }
                }
            }
        }
    }

    /// Adds every tree's leaf weight to its output column, in tree order per row:
    /// `acc[row * columns + treeColumns[tree]]`. Batches go through `leafMasks`; fewer rows than
    /// `LeafMaskForest.minimumRows` walk the fast layout one row at a time (missing values through the doubled row).
    /// Returns false (and adds nothing) when neither layout applies.
    func sumColumns(_ rows: UnsafePointer<Float>, _ n: Int, _ acc: UnsafeMutablePointer<Float>, columns c: Int) -> Bool
    {
        guard let treeColumns else { return false }
        let walkable = fastMode != nil && (!hasMissingTracks || !packedDual.isEmpty)
        if let masks = leafMasks, n >= LeafMaskForest.minimumRows || !walkable {
            masks.accumulate(rows, n, stride: rowStride, acc, accStride: c, byColumn: true)
            return true
        }
        guard walkable else { return false }
        switch fastMode {
        case .leq?: walkColumns(BranchLEQ.self, rows, n, acc, c, treeColumns)
        case .lt?: walkColumns(BranchLT.self, rows, n, acc, c, treeColumns)
        case .gte?: walkColumns(BranchGTE.self, rows, n, acc, c, treeColumns)
        default: walkColumns(BranchGT.self, rows, n, acc, c, treeColumns)
        }
        return true
    }

    /// The one-row walk of ``sumColumns(_:_:_:columns:)``: eight trees step together to their group's depth and each
    /// leaf weight is added to its tree's column; with ``packedDual`` each row is first doubled on the stack.
    private func walkColumns<B: BranchTest>(
        _ b: B.Type, _ rows: UnsafePointer<Float>, _ n: Int, _ acc: UnsafeMutablePointer<Float>, _ c: Int,
        _ columns: [Int32]
    ) {
        let fc = featureCount
        let dual = !packedDual.isEmpty
        let passing: Float = fastMode == .leq || fastMode == .lt ? -.infinity : .infinity
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * fc + 1) { buffer in
            let d = buffer.baseAddress!
            d[2 * fc] = .nan
            (dual ? packedDual : packed).withUnsafeBufferPointer { np in
                leafValue.withUnsafeBufferPointer { lv in
                    columns.withUnsafeBufferPointer { cols in
                        for r in 0..<n {
                            var row = rows + r * rowStride
                            if dual {
                                for j in 0..<fc {
                                    let x = row[j]
                                    d[j] = x
                                    d[fc + j] = x.isNaN ? passing : x
                                }
                                row = UnsafePointer(d)
                            }
                            let out = acc + r * c
                            let nodes = np.baseAddress!
                            var t = 0
                            var g = 0
                            while t + 8 <= treeCount {
                                var p0 = Int(roots[t]), p1 = Int(roots[t + 1]), p2 = Int(roots[t + 2])
                                var p3 = Int(roots[t + 3]), p4 = Int(roots[t + 4]), p5 = Int(roots[t + 5])
                                var p6 = Int(roots[t + 6]), p7 = Int(roots[t + 7])
                                for _ in 0..<Int(groupDepths[g]) {
                                    p0 = Self.step(b, NoMissingTracks.self, nodes, p0, row)
                                    p1 = Self.step(b, NoMissingTracks.self, nodes, p1, row)
                                    p2 = Self.step(b, NoMissingTracks.self, nodes, p2, row)
                                    p3 = Self.step(b, NoMissingTracks.self, nodes, p3, row)
                                    p4 = Self.step(b, NoMissingTracks.self, nodes, p4, row)
                                    p5 = Self.step(b, NoMissingTracks.self, nodes, p5, row)
                                    p6 = Self.step(b, NoMissingTracks.self, nodes, p6, row)
                                    p7 = Self.step(b, NoMissingTracks.self, nodes, p7, row)
                                }
                                out[Int(cols[t])] += lv[p0]
                                out[Int(cols[t + 1])] += lv[p1]
                                out[Int(cols[t + 2])] += lv[p2]
                                out[Int(cols[t + 3])] += lv[p3]
                                out[Int(cols[t + 4])] += lv[p4]
                                out[Int(cols[t + 5])] += lv[p5]
                                out[Int(cols[t + 6])] += lv[p6]
                                out[Int(cols[t + 7])] += lv[p7]
                                t += 8
                                g += 1
                            }
                            while t < treeCount {
                                var p = Int(roots[t])
                                for _ in 0..<Int(depths[t]) { p = Self.step(b, NoMissingTracks.self, nodes, p, row) }
                                out[Int(cols[t])] += lv[p]
                                t += 1
                            }
                        }
                    }
                }
            }
        }
    }

    /// One branch-free step of the packed walk from position `p`: the true child when the comparison (or, with
    /// tracking, a NaN at a tracking node) holds, else the false child right after it.
    @inline(__always)
    private static func step<B: BranchTest, M: MissingPolicy>(
        _: B.Type, _: M.Type, _ nodes: UnsafePointer<PackedNode>, _ p: Int, _ row: UnsafePointer<Float>
    ) -> Int {
        let node = nodes[p]
        let x = row[Int(node.bits & 0xFF)]
        var go = B.test(x, node.threshold)
        if M.tracks { go = go || ((node.bits & 0x100) != 0 && x.isNaN) }
        // `!go` as a 0/1 integer through its bit pattern rather than `go ? 0 : 1`: a ternary is a branch in SIL,
        // and LLVM left one lane of eight as a conditional jump (a misprediction on half the steps).
        return Int(node.bits >> 9) &+ Int(unsafeBitCast(!go, to: UInt8.self))
    }

    /// Few rows with missing-value tracking: each row is doubled (as it is, and with NaN passing; see
    /// `packedDual`) on the stack and walked by the one-row kernel without a NaN test.
    private func sumDual<B: BranchTest>(
        _ b: B.Type, _ rows: UnsafePointer<Float>, _ n: Int, _ acc: UnsafeMutablePointer<Float>
    ) {
        let fc = featureCount
        let passing: Float = fastMode == .leq || fastMode == .lt ? -.infinity : .infinity
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * fc + 1) { dual in
            let d = dual.baseAddress!
            d[2 * fc] = .nan
            packedDual.withUnsafeBufferPointer { np in
                for r in 0..<n {
                    let row = rows + r * rowStride
                    for j in 0..<fc {
                        let x = row[j]
                        d[j] = x
                        d[fc + j] = x.isNaN ? passing : x
                    }
                    acc[r] = walkOneRow(b, NoMissingTracks.self, np.baseAddress!, d, acc[r])
                }
            }
        }
    }

    /// One row through every tree, sixteen trees advancing together (independent load chains, so their latencies
    /// overlap; sixteen measured 20 % faster than eight on a 100-tree depth-10 forest, and 32 no faster than 16);
    /// then a group of eight, a group of four, and only the final one to three trees alone. Returns `start` plus the
    /// leaf weights, added in tree order. Leaf weights are read from the leaf nodes' `threshold` (see `PackedNode`),
    /// which the last step has just loaded, not from a second array.
    @inline(__always)
    private func walkOneRow<B: BranchTest, M: MissingPolicy>(
        _ b: B.Type, _ m: M.Type, _ nodes: UnsafePointer<PackedNode>, _ rows: UnsafePointer<Float>, _ start: Float
    ) -> Float {
        var sum = start
        var t = 0
        var g = 0
        while t + 16 <= treeCount {
            var p0 = Int(roots[t]), p1 = Int(roots[t + 1]), p2 = Int(roots[t + 2]), p3 = Int(roots[t + 3])
            var p4 = Int(roots[t + 4]), p5 = Int(roots[t + 5]), p6 = Int(roots[t + 6]), p7 = Int(roots[t + 7])
            var p8 = Int(roots[t + 8]), p9 = Int(roots[t + 9]), p10 = Int(roots[t + 10])
            var p11 = Int(roots[t + 11]), p12 = Int(roots[t + 12]), p13 = Int(roots[t + 13])
            var p14 = Int(roots[t + 14]), p15 = Int(roots[t + 15])
            for _ in 0..<Int(max(groupDepths[g], groupDepths[g + 1])) {
                p0 = Self.step(b, m, nodes, p0, rows)
                p1 = Self.step(b, m, nodes, p1, rows)
                p2 = Self.step(b, m, nodes, p2, rows)
                p3 = Self.step(b, m, nodes, p3, rows)
                p4 = Self.step(b, m, nodes, p4, rows)
                p5 = Self.step(b, m, nodes, p5, rows)
                p6 = Self.step(b, m, nodes, p6, rows)
                p7 = Self.step(b, m, nodes, p7, rows)
                p8 = Self.step(b, m, nodes, p8, rows)
                p9 = Self.step(b, m, nodes, p9, rows)
                p10 = Self.step(b, m, nodes, p10, rows)
                p11 = Self.step(b, m, nodes, p11, rows)
                p12 = Self.step(b, m, nodes, p12, rows)
                p13 = Self.step(b, m, nodes, p13, rows)
                p14 = Self.step(b, m, nodes, p14, rows)
                p15 = Self.step(b, m, nodes, p15, rows)
            }
            sum += nodes[p0].threshold
            sum += nodes[p1].threshold
            sum += nodes[p2].threshold
            sum += nodes[p3].threshold
            sum += nodes[p4].threshold
            sum += nodes[p5].threshold
            sum += nodes[p6].threshold
            sum += nodes[p7].threshold
            sum += nodes[p8].threshold
            sum += nodes[p9].threshold
            sum += nodes[p10].threshold
            sum += nodes[p11].threshold
            sum += nodes[p12].threshold
            sum += nodes[p13].threshold
            sum += nodes[p14].threshold
            sum += nodes[p15].threshold
            t += 16
            g += 2
        }
        if t + 8 <= treeCount {
            var p0 = Int(roots[t]), p1 = Int(roots[t + 1]), p2 = Int(roots[t + 2]), p3 = Int(roots[t + 3])
            var p4 = Int(roots[t + 4]), p5 = Int(roots[t + 5]), p6 = Int(roots[t + 6]), p7 = Int(roots[t + 7])
            for _ in 0..<Int(groupDepths[g]) {
                p0 = Self.step(b, m, nodes, p0, rows)
                p1 = Self.step(b, m, nodes, p1, rows)
                p2 = Self.step(b, m, nodes, p2, rows)
                p3 = Self.step(b, m, nodes, p3, rows)
                p4 = Self.step(b, m, nodes, p4, rows)
                p5 = Self.step(b, m, nodes, p5, rows)
                p6 = Self.step(b, m, nodes, p6, rows)
                p7 = Self.step(b, m, nodes, p7, rows)
            }
            sum += nodes[p0].threshold
            sum += nodes[p1].threshold
            sum += nodes[p2].threshold
            sum += nodes[p3].threshold
            sum += nodes[p4].threshold
            sum += nodes[p5].threshold
            sum += nodes[p6].threshold
            sum += nodes[p7].threshold
            t += 8
            g += 1
        }
        if t + 4 <= treeCount {
            // The last group's depth bounds these four trees too (leaves point to themselves).
            var p0 = Int(roots[t]), p1 = Int(roots[t + 1]), p2 = Int(roots[t + 2]), p3 = Int(roots[t + 3])
            for _ in 0..<Int(groupDepths[g]) {
                p0 = Self.step(b, m, nodes, p0, rows)
                p1 = Self.step(b, m, nodes, p1, rows)
                p2 = Self.step(b, m, nodes, p2, rows)
                p3 = Self.step(b, m, nodes, p3, rows)
            }
            sum += nodes[p0].threshold
            sum += nodes[p1].threshold
            sum += nodes[p2].threshold
            sum += nodes[p3].threshold
            t += 4
        }
        while t < treeCount {
            var p = Int(roots[t])
            for _ in 0..<Int(depths[t]) { p = Self.step(b, m, nodes, p, rows) }
            sum += nodes[p].threshold
            t += 1
        }
        return sum
    }

    /// The packed-layout sum for one column: one row walks all trees (``walkOneRow``); more rows advance eight at a
    /// time per tree.
    private func sumFast<B: BranchTest, M: MissingPolicy>(
        _ b: B.Type, _ m: M.Type, _ rows: UnsafePointer<Float>, _ n: Int, _ acc: UnsafeMutablePointer<Float>
    ) {
        let stride = rowStride
        packed.withUnsafeBufferPointer { np in
            leafValue.withUnsafeBufferPointer { lv in
                let nodes = np.baseAddress!
                if n == 1 {
                    acc[0] = walkOneRow(b, m, nodes, rows, acc[0])
                    return
                }
                // Many rows: for each tree, eight rows advance together.
                for t in 0..<treeCount {
                    let root = Int(roots[t])
                    let depth = Int(depths[t])
                    var r = 0
                    while r + 8 <= n {
                        let base = rows + r * stride
                        var p0 = root, p1 = root, p2 = root, p3 = root, p4 = root, p5 = root, p6 = root, p7 = root
                        for _ in 0..<depth {
                            p0 = Self.step(b, m, nodes, p0, base)
                            p1 = Self.step(b, m, nodes, p1, base + stride)
                            p2 = Self.step(b, m, nodes, p2, base + 2 * stride)
                            p3 = Self.step(b, m, nodes, p3, base + 3 * stride)
                            p4 = Self.step(b, m, nodes, p4, base + 4 * stride)
                            p5 = Self.step(b, m, nodes, p5, base + 5 * stride)
                            p6 = Self.step(b, m, nodes, p6, base + 6 * stride)
                            p7 = Self.step(b, m, nodes, p7, base + 7 * stride)
                        }
                        acc[r] += lv[p0]
                        acc[r + 1] += lv[p1]
                        acc[r + 2] += lv[p2]
                        acc[r + 3] += lv[p3]
                        acc[r + 4] += lv[p4]
                        acc[r + 5] += lv[p5]
                        acc[r + 6] += lv[p6]
                        acc[r + 7] += lv[p7]
                        r += 8
                    }
                    while r < n {
                        var p = root
                        let row = rows + r * stride
                        for _ in 0..<depth { p = Self.step(b, m, nodes, p, row) }
                        acc[r] += lv[p]
                        r += 1
                    }
                }
            }
        }
    }

    // MARK: generic walk

    /// Walks one tree for one prepared row with the per-node mode; returns the leaf position.
    @inline(__always)
    func leafPosition(_ row: UnsafePointer<Float>, _ tree: Int) -> Int {
        var p = Int(roots[tree])
        for _ in 0..<Int(depths[tree]) {
            let x = row[Int(feature[p])]
            let t = threshold[p]
            var go: Bool
            switch mode[p] {
            case .leq: go = x <= t
            case .lt: go = x < t
            case .gte: go = x >= t
            case .gt: go = x > t
            case .eq: go = x == t
            case .neq: go = x != t
            case .leaf: go = false
            }
            if tracksTrue[p] && x.isNaN { go = true }
            p = Int(child[p]) + (go ? 0 : 1)
        }
        return p
    }

    /// Accumulates all leaf weights of all trees into `scores` (rows × columns) with `has` flags, in tree
    /// order per row, using the given aggregate (onnxruntime's ProcessTreeNodePrediction rules).
    func accumulate(
        _ rows: UnsafePointer<Float>, _ n: Int, _ aggregate: TreeAggregate, _ scores: UnsafeMutablePointer<Float>,
        _ has: UnsafeMutablePointer<UInt8>
    ) {
        let c = columns
        // Sums over the fast layout: the branch-free walk, eight trees at a time (Spark and scikit-learn
        // multi-class forests, whose leaves hold one weight per class).
        if aggregate == .sum || aggregate == .average, let fast = fastMode, !hasMissingTracks || !packedDual.isEmpty {
            switch fast {
            case .leq: accumulateFast(BranchLEQ.self, rows, n, scores, has)
            case .lt: accumulateFast(BranchLT.self, rows, n, scores, has)
            case .gte: accumulateFast(BranchGTE.self, rows, n, scores, has)
            default: accumulateFast(BranchGT.self, rows, n, scores, has)
            }
            return
        }
        for r in 0..<n {
            let row = rows + r * rowStride
            let s = scores + r * c
            let h = has + r * c
            for t in 0..<treeCount {
                let p = leafPosition(row, t)
                let start = Int(leafStart[p]), end = Int(leafStart[p + 1])
                if start == end { continue }
                switch aggregate {
                case .sum, .average:
                    for w in start..<end {
                        let k = Int(weightClass[w])
                        s[k] += weightValue[w]
                        h[k] = 1
                    }
                case .min:
                    for w in start..<end {
                        let k = Int(weightClass[w])
                        if h[k] == 0 || weightValue[w] < s[k] { s[k] = weightValue[w] }
                        h[k] = 1
                    }
                case .max:
                    for w in start..<end {
                        let k = Int(weightClass[w])
                        if h[k] == 0 || weightValue[w] > s[k] { s[k] = weightValue[w] }
                        h[k] = 1
                    }
                }
            }
        }
    }
}

extension TreeEnsemble {
    /// `accumulate` for SUM/AVERAGE over the fast layout: per row, eight trees walk together to their depth
    /// (missing values through the doubled row, as in `walkColumns`), then each tree's leaf weights are added in
    /// tree order, so the sums are the generic walk's to the bit.
    private func accumulateFast<B: BranchTest>(
        _ b: B.Type, _ rows: UnsafePointer<Float>, _ n: Int, _ scores: UnsafeMutablePointer<Float>,
        _ has: UnsafeMutablePointer<UInt8>
    ) {
        let c = columns
        let fc = featureCount
        let dual = !packedDual.isEmpty
        let passing: Float = fastMode == .leq || fastMode == .lt ? -.infinity : .infinity
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * fc + 1) { buffer in
            let d = buffer.baseAddress!
            d[2 * fc] = .nan
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 8) { leaves in
                let lp = leaves.baseAddress!
                (dual ? packedDual : packed).withUnsafeBufferPointer { np in
                    leafStart.withUnsafeBufferPointer { ls in
                        weightClass.withUnsafeBufferPointer { wc in
                            weightValue.withUnsafeBufferPointer { wv in
                                let nodes = np.baseAddress!
                                @inline(__always) func add(_ p: Int, _ s: UnsafeMutablePointer<Float>,
                                                           _ h: UnsafeMutablePointer<UInt8>) {
                                    for w in Int(ls[p])..<Int(ls[p + 1]) {
                                        let k = Int(wc[w])
                                        s[k] += wv[w]
                                        h[k] = 1
                                    }
                                }
                                for r in 0..<n {
                                    var row = rows + r * rowStride
                                    if dual {
                                        for j in 0..<fc {
                                            let x = row[j]
                                            d[j] = x
                                            d[fc + j] = x.isNaN ? passing : x
                                        }
                                        row = UnsafePointer(d)
                                    }
                                    let s = scores + r * c
                                    let h = has + r * c
                                    var t = 0
                                    var g = 0
                                    while t + 8 <= treeCount {
                                        var p0 = Int(roots[t]), p1 = Int(roots[t + 1]), p2 = Int(roots[t + 2])
                                        var p3 = Int(roots[t + 3]), p4 = Int(roots[t + 4]), p5 = Int(roots[t + 5])
                                        var p6 = Int(roots[t + 6]), p7 = Int(roots[t + 7])
                                        for _ in 0..<Int(groupDepths[g]) {
                                            p0 = Self.step(b, NoMissingTracks.self, nodes, p0, row)
                                            p1 = Self.step(b, NoMissingTracks.self, nodes, p1, row)
                                            p2 = Self.step(b, NoMissingTracks.self, nodes, p2, row)
                                            p3 = Self.step(b, NoMissingTracks.self, nodes, p3, row)
                                            p4 = Self.step(b, NoMissingTracks.self, nodes, p4, row)
                                            p5 = Self.step(b, NoMissingTracks.self, nodes, p5, row)
                                            p6 = Self.step(b, NoMissingTracks.self, nodes, p6, row)
                                            p7 = Self.step(b, NoMissingTracks.self, nodes, p7, row)
                                        }
                                        lp[0] = p0; lp[1] = p1; lp[2] = p2; lp[3] = p3
                                        lp[4] = p4; lp[5] = p5; lp[6] = p6; lp[7] = p7
                                        for k in 0..<8 { add(lp[k], s, h) }
                                        t += 8
                                        g += 1
                                    }
                                    while t < treeCount {
                                        var p = Int(roots[t])
                                        for _ in 0..<Int(depths[t]) {
                                            p = Self.step(b, NoMissingTracks.self, nodes, p, row)
                                        }
                                        add(p, s, h)
                                        t += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// After `sumColumns`: sets `has[row * columns + k]` for every output column some tree adds to (every leaf has
    /// one weight, so each of those columns receives a weight on every row), as `accumulate` would.
    func markColumns(_ has: inout [UInt8], rows n: Int, columns c: Int) {
        guard n > 0, let treeColumns else { return }
        for t in treeColumns { has[Int(t)] = 1 }
        for r in 1..<max(n, 1) {
            for k in 0..<c { has[r * c + k] = has[k] }
        }
    }
}
