import ONNXFormat

/// Reads any numeric slot as a float matrix: returns (rows, cols) and fills `buffer` when a conversion is needed.
@inline(__always)
func floatMatrix(_ s: Slot, _ buffer: inout [Float]) -> (rows: Int, cols: Int, converted: Bool) {
    let rows = s.shape.count <= 1 ? 1 : s.shape[0]
    let cols = s.shape.count == 0 ? 1 : (s.shape.count == 1 ? s.shape[0] : s.count / max(s.shape[0], 1))
    if s.kind == .float { return (rows, cols, false) }
    s.floats(into: &buffer)
    return (rows, cols, true)
}

/// MatMul for float/double operands of rank 1 or 2 (the shapes classic-ML converters emit).
///
/// Float products go through ``gemm(_:_:_:n:k:m:bias:relu:)``; a MatMul by constant weights followed by a bias Add (and
/// Relu) is replaced at load by a ``DenseKernel``.
struct MatMulKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the left operand, the right operand and the product.
    let a: Int, b: Int, out: Int

    /// Checks that both operands are float or both double, of rank 1 or 2 with matching inner dimensions when known,
    /// and types the output (rank 2 only for two rank-2 operands).
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(2...2)
        try nb.requireOutputs(1)
        let ka = try nb.inputKind(0, allowed: [.float, .double])
        _ = try nb.inputKind(1, allowed: [ka])
        let sa = try nb.input(0).shape, sb = try nb.input(1).shape
        if let sa, sa.count > 2 { throw nb.fail("inputs of rank \(sa.count) are not supported (rank 1 or 2 only)") }
        if let sb, sb.count > 2 { throw nb.fail("inputs of rank \(sb.count) are not supported (rank 1 or 2 only)") }
        var shape: [Int?]? = nil
        if let sa, let sb {
            if let k1 = sa.last ?? nil, let k2 = (sb.count == 2 ? sb[0] : sb.first ?? nil), k1 != k2 {
                throw nb.fail("inner dimensions differ (\(k1) and \(k2))")
            }
            var s: [Int?] = []
            if sa.count == 2 { s.append(sa[0]) }
            if sb.count == 2 { s.append(sb[1]) }
            shape = s
        }
        nb.setOutput(0, ValueType(ka, shape: shape, onnxType: try nb.input(0).onnxType))
        return MatMulKernel(name: nb.node.name, a: nb.inputs[0], b: nb.inputs[1], out: nb.outputs[0])
    }

    /// Multiplies the operands: float through ``gemm(_:_:_:n:k:m:bias:relu:)``, double through the scalar loop.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` when the run-time ranks are not 1 or 2 or the inner dimensions
    ///   differ.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let x = ctx.slots[a], y = ctx.slots[b], o = ctx.slots[out]
        guard x.shape.count >= 1, x.shape.count <= 2, y.shape.count >= 1, y.shape.count <= 2 else {
            throw EngineError.eval(name, "MatMul of shapes \(x.shape) and \(y.shape) is not supported")
        }
        let n = x.shape.count == 2 ? x.shape[0] : 1
        let k = x.shape.last!
        let k2 = y.shape[0]
        let m = y.shape.count == 2 ? y.shape[1] : 1
        guard k == k2 else { throw EngineError.eval(name, "inner dimensions differ: \(x.shape) × \(y.shape)") }
        var shape: [Int] = []
        if x.shape.count == 2 { shape.append(n) }
        if y.shape.count == 2 { shape.append(m) }
        o.kind = x.kind
        o.setShape(shape)
        if x.kind == .float {
            o.resizeF(n * m)
            gemm(x.f, y.f, &o.f, n: n, k: k, m: m)
        } else {
            o.resizeD(n * m)
            gemmScalar(x.d, y.d, &o.d, n: n, k: k, m: m)
        }
    }
}

/// out[n×m] = A[n×k] · B[k×m], row-major, accumulating in T over k in order (row × broadcast of B rows).
@inline(__always)
func gemmScalar<T: FloatingPoint>(_ a: [T], _ b: [T], _ out: inout [T], n: Int, k: Int, m: Int) {
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            out.withUnsafeMutableBufferPointer { po in
                for r in 0..<n {
                    let orow = po.baseAddress! + r * m
                    for j in 0..<m { orow[j] = 0 }
                    for t in 0..<k {
                        let av = pa[r * k + t]
                        let brow = pb.baseAddress! + t * m
                        for j in 0..<m { orow[j] += av * brow[j] }
                    }
                }
            }
        }
    }
}

/// Float specialisation: eight output columns at a time in SIMD registers, four rows at once so the four
/// accumulation chains overlap. The sum over k runs in the same order with the same (unfused) multiply and add as
/// the scalar loop, so results are identical.
///
/// With `bias` (m values) the epilogue adds it to each finished sum and, with `relu`, applies `max(·, 0)` —
/// the same float operations a following Add and Relu perform.
func gemm(
    _ a: [Float], _ b: [Float], _ out: inout [Float], n: Int, k: Int, m: Int, bias: [Float]? = nil, relu: Bool = false
) {
    if m == 1 {
        gemmColumn(a, b, &out, n: n, k: k)
        if let bias { epilogue(&out, bias, relu, n: n, m: m) }
        return
    }
    guard m % 8 == 0, m > 0 else {
        gemmScalar(a, b, &out, n: n, k: k, m: m)
        if let bias { epilogue(&out, bias, relu, n: n, m: m) }
        return
    }
    let zero = SIMD8<Float>(repeating: 0)
    @inline(__always) func finish(_ v: SIMD8<Float>, _ j: Int, _ bp: UnsafeRawPointer?) -> SIMD8<Float> {
        guard let bp else { return v }
        let w = v + bp.loadUnaligned(fromByteOffset: j &* 4, as: SIMD8<Float>.self)
        return relu ? w.replacing(with: 0, where: zero .>= w) : w
    }
    let biasArray = bias ?? []
    biasArray.withUnsafeBytes { biasBytes in
        let bp: UnsafeRawPointer? = bias == nil ? nil : biasBytes.baseAddress
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { po in
                    let A = pa.baseAddress!, B = UnsafeRawPointer(pb.baseAddress!),
                        O = UnsafeMutableRawPointer(po.baseAddress!)
                    var r = 0
                    while r + 4 <= n {
                        var j = 0
                        while j < m {
                            var c0 = SIMD8<Float>(repeating: 0), c1 = c0, c2 = c0, c3 = c0
                            let a0 = A + r &* k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k
                            for t in 0..<k {
                                let bv = B.loadUnaligned(fromByteOffset: (t &* m &+ j) &* 4, as: SIMD8<Float>.self)
                                c0 = c0 + SIMD8<Float>(repeating: a0[t]) * bv
                                c1 = c1 + SIMD8<Float>(repeating: a1[t]) * bv
                                c2 = c2 + SIMD8<Float>(repeating: a2[t]) * bv
                                c3 = c3 + SIMD8<Float>(repeating: a3[t]) * bv
                            }
                            O.storeBytes(of: finish(c0, j, bp), toByteOffset: (r &* m &+ j) &* 4, as: SIMD8<Float>.self)
                            O.storeBytes(
                                of: finish(c1, j, bp), toByteOffset: ((r &+ 1) &* m &+ j) &* 4, as: SIMD8<Float>.self)
                            O.storeBytes(
                                of: finish(c2, j, bp), toByteOffset: ((r &+ 2) &* m &+ j) &* 4, as: SIMD8<Float>.self)
                            O.storeBytes(
                                of: finish(c3, j, bp), toByteOffset: ((r &+ 3) &* m &+ j) &* 4, as: SIMD8<Float>.self)
                            j += 8
                        }
                        r += 4
                    }
                    while r < n {
                        var j = 0
                        while j < m {
                            var acc = SIMD8<Float>(repeating: 0)
                            let ar = A + r &* k
                            for t in 0..<k {
                                let bv = B.loadUnaligned(fromByteOffset: (t &* m &+ j) &* 4, as: SIMD8<Float>.self)
                                acc = acc + SIMD8<Float>(repeating: ar[t]) * bv
                            }
                            O.storeBytes(
                                of: finish(acc, j, bp), toByteOffset: (r &* m &+ j) &* 4, as: SIMD8<Float>.self)
                            j += 8
                        }
                        r += 1
                    }
                }
            }
        }
    }
}

/// Adds a bias per column and optionally applies Relu (`max(v, 0)`, NaN kept), in place.
func epilogue(_ out: inout [Float], _ bias: [Float], _ relu: Bool, n: Int, m: Int) {
    bias.withUnsafeBufferPointer { b in
        out.withUnsafeMutableBufferPointer { p in
            let o = p.baseAddress!, bb = b.baseAddress!
            if relu {
                for r in 0..<n { for j in 0..<m { o[r &* m &+ j] = Swift.max(o[r &* m &+ j] + bb[j], 0) } }
            } else {
                for r in 0..<n { for j in 0..<m { o[r &* m &+ j] = o[r &* m &+ j] + bb[j] } }
            }
        }
    }
}

/// One output column: a dot product per row, accumulated in registers (same order as the scalar loop).
func gemmColumn(_ a: [Float], _ b: [Float], _ out: inout [Float], n: Int, k: Int) {
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            out.withUnsafeMutableBufferPointer { po in
                let A = pa.baseAddress!, B = pb.baseAddress!, O = po.baseAddress!
                var r = 0
                while r + 4 <= n {
                    var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
                    let a0 = A + r &* k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k
                    for t in 0..<k {
                        let w = B[t]
                        s0 += a0[t] * w
                        s1 += a1[t] * w
                        s2 += a2[t] * w
                        s3 += a3[t] * w
                    }
                    O[r] = s0
                    O[r + 1] = s1
                    O[r + 2] = s2
                    O[r + 3] = s3
                    r += 4
                }
                while r < n {
                    var s: Float = 0
                    for t in 0..<k { s += A[r &* k &+ t] * B[t] }
                    O[r] = s
                    r += 1
                }
            }
        }
    }
}

/// Gemm: Y = alpha · A' · B' + beta · C, with optional transposes and C broadcast.
struct GemmKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of A, B, the optional C (-1 when omitted) and Y.
    let a: Int, b: Int, c: Int, out: Int
    /// Scale of the product and of C (`alpha`, `beta`; 1 by default).
    let alpha: Float, beta: Float
    /// Whether A and B are read transposed (`transA`, `transB`).
    let transA: Bool, transB: Bool

    /// Checks operand kinds (all float or all double) and the inner dimensions when known, and types Y as `[N, M]`.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(2...3)
        try nb.requireOutputs(1)
        let ka = try nb.inputKind(0, allowed: [.float, .double])
        _ = try nb.inputKind(1, allowed: [ka])
        if nb.inputs.count > 2 && nb.inputs[2] >= 0 { _ = try nb.inputKind(2, allowed: [ka]) }
        let transA = try nb.int("transA", default: 0) != 0
        let transB = try nb.int("transB", default: 0) != 0
        var shape: [Int?]? = [nil, nil]
        if let sa = try nb.input(0).shape, let sb = try nb.input(1).shape, sa.count == 2, sb.count == 2 {
            let kA = transA ? sa[0] : sa[1]
            let kB = transB ? sb[1] : sb[0]
            if let kA, let kB, kA != kB { throw nb.fail("inner dimensions differ (\(kA) and \(kB))") }
            shape = [transA ? sa[1] : sa[0], transB ? sb[0] : sb[1]]
        }
        nb.setOutput(0, ValueType(ka, shape: shape, onnxType: try nb.input(0).onnxType))
        return GemmKernel(
            name: nb.node.name, a: nb.inputs[0], b: nb.inputs[1], c: nb.inputs.count > 2 ? nb.inputs[2] : -1,
            out: nb.outputs[0], alpha: try nb.float("alpha", default: 1), beta: try nb.float("beta", default: 1),
            transA: transA, transB: transB)
    }

    /// Computes Y for float or double operands.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` when A or B is not 2-D or the inner dimensions differ.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let x = ctx.slots[a], y = ctx.slots[b], o = ctx.slots[out]
        guard x.shape.count == 2, y.shape.count == 2 else {
            throw EngineError.eval(name, "Gemm needs 2-D inputs, got \(x.shape) and \(y.shape)")
        }
        let n = transA ? x.shape[1] : x.shape[0]
        let k = transA ? x.shape[0] : x.shape[1]
        let k2 = transB ? y.shape[1] : y.shape[0]
        let m = transB ? y.shape[0] : y.shape[1]
        guard k == k2 else { throw EngineError.eval(name, "inner dimensions differ: \(x.shape) × \(y.shape)") }
        o.kind = x.kind
        o.setShape(n, m)
        if x.kind == .float {
            run(
                x.f, x.shape[1], y.f, y.shape[1], c >= 0 ? ctx.slots[c] : nil, \.f, &o.f, n: n, k: k, m: m,
                alpha: alpha, beta: beta)
        } else {
            run(
                x.d, x.shape[1], y.d, y.shape[1], c >= 0 ? ctx.slots[c] : nil, \.d, &o.d, n: n, k: k, m: m,
                alpha: Double(alpha), beta: Double(beta))
        }
    }

    /// The Gemm loop in the operands' precision; C is broadcast from `[]`, `[M]`, `[1, M]`, `[N, 1]` or `[N, M]`.
    private func run<T: FloatingPoint>(
        _ av: [T], _ lda: Int, _ bv: [T], _ ldb: Int, _ cs: Slot?, _ kp: KeyPath<Slot, [T]>, _ out: inout [T],
        n: Int, k: Int, m: Int, alpha: T, beta: T
    ) {
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(n * m)
        let cv = cs.map { $0[keyPath: kp] } ?? []
        let cshape = cs?.shape ?? []
        for r in 0..<n {
            for j in 0..<m {
                var s: T = 0
                for t in 0..<k {
                    let x = transA ? av[t * lda + r] : av[r * lda + t]
                    let y = transB ? bv[j * ldb + t] : bv[t * ldb + j]
                    s += x * y
                }
                var v = alpha * s
                if !cv.isEmpty {
                    let ci: Int
                    switch cshape.count {
                    case 0: ci = 0
                    case 1: ci = cshape[0] == 1 ? 0 : j
                    default: ci = (cshape[0] == 1 ? 0 : r) * cshape[1] + (cshape[1] == 1 ? 0 : j)
                    }
                    v += beta * cv[ci]
                }
                out.append(v)
            }
        }
    }
}

/// ai.onnx.ml LinearClassifier with onnxruntime's label and score rules.
///
/// The label comes from the raw scores, before the post-transform: the largest score, or `score > 0` (class 1) with a
/// single score column. ``FusedLinearPlan`` runs the same arithmetic for the serving path of 2–8 classes.
struct LinearClassifierKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the input rows, the label output and the scores output (-1 when the node omits it).
    let x: Int, labelOut: Int, scoresOut: Int
    /// `coefficients`: one row of features per score column.
    let coefficients: [Float]  // classCount × features, row-major
    /// One intercept per score column (zeros when the attribute is absent).
    let intercepts: [Float]
    /// Score columns computed: the number of intercepts, which is 1 for a binary model with a single coefficient row.
    let classCount: Int
    /// `classlabels_ints` (empty when the labels are strings).
    let labelsInt: [Int64]
    /// `classlabels_strings` (empty when the labels are integers).
    let labelsString: [String]
    /// Applied to each row's scores; with one score column only PROBIT applies.
    let post: PostTransform
    /// One score column for two class labels: the output gets two columns, `1 - s` and `s`, as onnxruntime writes them.
    let addSecondClass: Bool
    /// For 2–8 classes: the coefficients by feature, one lane per class (lanes past the classes are 0), so a row's
    /// class scores are accumulated together, feature by feature. Each lane adds the same products in the same
    /// order as the per-class loop (no fused multiply-add), so the scores are identical. Empty otherwise.
    let coefficientsByFeature: [SIMD8<Float>]
    /// The intercepts in the lanes of ``coefficientsByFeature`` (0 past the classes).
    let interceptLanes: SIMD8<Float>

    /// Stores the attributes and, for 2–8 classes, builds the lane layout of the coefficients.
    init(
        name: String, x: Int, labelOut: Int, scoresOut: Int, coefficients: [Float], intercepts: [Float],
        classCount: Int, labelsInt: [Int64], labelsString: [String], post: PostTransform, addSecondClass: Bool
    ) {
        self.name = name
        self.x = x
        self.labelOut = labelOut
        self.scoresOut = scoresOut
        self.coefficients = coefficients
        self.intercepts = intercepts
        self.classCount = classCount
        self.labelsInt = labelsInt
        self.labelsString = labelsString
        self.post = post
        self.addSecondClass = addSecondClass
        var byFeature: [SIMD8<Float>] = []
        var lanes = SIMD8<Float>(repeating: 0)
        if (2...8).contains(classCount) {
            let f = coefficients.count / classCount
            byFeature = Array(repeating: SIMD8<Float>(repeating: 0), count: f)
            for c in 0..<classCount {
                for j in 0..<f { byFeature[j][c] = coefficients[c * f + j] }
                lanes[c] = intercepts[c]
            }
        }
        self.coefficientsByFeature = byFeature
        self.interceptLanes = lanes
    }

    /// Reads coefficients, intercepts, labels and the post-transform; outputs are the labels `[N]` and the scores `[N,
    /// outputColumns]`.
    ///
    /// - Throws: ``EngineError`` naming the node when coefficients are missing or do not divide into the classes, both
    ///   or neither label lists are set, the label count does not match the score columns, or the input width differs.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...1)
        try nb.requireOutputs(1)
        _ = try nb.inputKind(0, allowed: [.float, .double, .int64])
        guard let coef = try nb.floats("coefficients"), !coef.isEmpty else {
            throw nb.fail("coefficients are required")
        }
        var intercepts = try nb.floats("intercepts") ?? []
        let labelsS = try nb.strings("classlabels_strings") ?? []
        let labelsI = try nb.ints("classlabels_ints") ?? []
        guard labelsS.isEmpty != labelsI.isEmpty else {
            throw nb.fail("exactly one of classlabels_strings and classlabels_ints must be set")
        }
        if intercepts.isEmpty {
            let n = max(labelsS.count, labelsI.count)
            intercepts = [Float](repeating: 0, count: n == 2 && coef.count % 2 != 0 ? 1 : n)
        }
        let classCount = intercepts.count
        guard classCount > 0, coef.count % classCount == 0 else {
            throw nb.fail("\(coef.count) coefficients do not divide into \(classCount) classes")
        }
        let features = coef.count / classCount
        if let d = try nb.input(0).lastDim, d != features {
            throw nb.fail("input has \(d) features, coefficients expect \(features)")
        }
        let nLabels = max(labelsS.count, labelsI.count)
        if classCount > 1 && nLabels != classCount {
            throw nb.fail("\(classCount) score columns but \(nLabels) class labels")
        }
        let addSecond = classCount == 1 && nLabels == 2
        let rows = try nb.input(0).shape?.first ?? nil
        nb.setOutput(
            0,
            ValueType(labelsS.isEmpty ? .int64 : .string, shape: [rows], onnxType: labelsS.isEmpty ? .int64 : .string))
        nb.setOutput(1, ValueType(.float, shape: [rows, addSecond ? 2 : classCount], onnxType: .float))
        return LinearClassifierKernel(
            name: nb.node.name, x: nb.inputs[0], labelOut: nb.outputs[0],
            scoresOut: nb.outputs.count > 1 ? nb.outputs[1] : -1,
            coefficients: coef, intercepts: intercepts, classCount: classCount, labelsInt: labelsI,
            labelsString: labelsS, post: try PostTransform.parse(nb), addSecondClass: addSecond)
    }

    /// Columns of the scores output.
    var outputColumns: Int { addSecondClass ? 2 : classCount }

    /// Computes each row's scores, picks the label from the raw scores (the largest, or `score > 0` for one column),
    /// then applies the post-transform. String labels also record each row's class index.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` when the input's width does not match the coefficients.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let xs = ctx.slots[x]
        let (n, f, converted) = floatMatrix(xs, &ctx.scratch)
        guard f * classCount == coefficients.count else {
            throw EngineError.eval(
                name, "input has \(f) features, the model expects \(coefficients.count / classCount)")
        }
        let cols = outputColumns
        // Scores go straight into the output slot (or scratch when the scores output is unused).
        let useStrings = !labelsString.isEmpty
        let (so, lo) = ctx.classifierOutputs(
            scores: scoresOut, labels: labelOut, rows: n, columns: cols, stringLabels: useStrings)
        let input = converted ? ctx.scratch : xs.f
        ctx.scratchI.removeAll(keepingCapacity: true)
        if useStrings { lo.resizeI(0) }
        let lanes = !coefficientsByFeature.isEmpty
        // Logistic over many classes is applied in one flat pass after all rows (same values, fewer branches).
        let flatLogistic = classCount > 1 && post == .logistic
        input.withUnsafeBufferPointer { xp in
            coefficients.withUnsafeBufferPointer { cp in
                coefficientsByFeature.withUnsafeBufferPointer { wv in
                    so.f.withUnsafeMutableBufferPointer { sp in
                        lo.i.withUnsafeMutableBufferPointer { lp in
                            for r in 0..<n {
                                let row = xp.baseAddress! + r * f
                                let out = sp.baseAddress! + r * cols
                                if lanes {
                                    var acc = SIMD8<Float>(repeating: 0)
                                    for j in 0..<f { acc += SIMD8<Float>(repeating: row[j]) * wv[j] }
                                    acc += interceptLanes
                                    for c in 0..<classCount { out[c] = acc[c] }
                                } else {
                                    for c in 0..<classCount {
                                        let w = cp.baseAddress! + c * f
                                        var s: Float = 0
                                        for j in 0..<f { s += row[j] * w[j] }
                                        out[c] = s + intercepts[c]
                                    }
                                }
                                // Label from raw scores.
                                var labelIdx = 0
                                if classCount == 1 {
                                    labelIdx = out[0] > 0 ? 1 : 0
                                } else {
                                    var best = out[0]
                                    for c in 1..<classCount where out[c] > best {
                                        best = out[c]
                                        labelIdx = c
                                    }
                                }
                                if useStrings {
                                    ctx.scratchI.append(Int32(labelIdx))
                                } else {
                                    lp[r] =
                                        classCount == 1
                                        ? (labelsInt.count == 2 ? labelsInt[labelIdx] : Int64(labelIdx))
                                        : labelsInt[labelIdx]
                                }
                                // Scores.
                                if classCount == 1 {
                                    if post == .probit {
                                        out[0] = PostTransform.probit(out[0])
                                    } else if addSecondClass {
                                        let s = out[0]
                                        out[0] = 1 - s
                                        out[1] = s
                                    }
                                } else if !flatLogistic {
                                    post.apply(out, classCount)
                                }
                            }
                            if flatLogistic {
                                for k in 0..<(n * cols) { sp[k] = PostTransform.logistic(sp[k]) }
                            }
                        }
                    }
                }
            }
        }
        if useStrings {
            for r in 0..<n {
                let idx = Int(ctx.scratchI[r])
                lo.s[r] =
                    classCount == 1
                    ? (labelsString.count == 2 ? labelsString[idx] : (idx == 1 ? "1" : "0")) : labelsString[idx]
                lo.labelIndex.append(Int32(idx))
            }
        }
    }
}

/// ai.onnx.ml LinearRegressor: y = X · coefficientsᵀ + intercepts (targets columns).
struct LinearRegressorKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the input rows and the `[N, targets]` output.
    let x: Int, out: Int
    /// `coefficients`: one row of features per target, row-major.
    let coefficients: [Float]
    /// One intercept per target (zeros when the attribute is absent).
    let intercepts: [Float]
    /// Number of output columns (`targets`, 1 by default).
    let targets: Int
    /// Applied per row; with one target only PROBIT applies.
    let post: PostTransform

    /// Reads coefficients, intercepts, targets and the post-transform, and types the output `[N, targets]`.
    ///
    /// - Throws: ``EngineError`` naming the node when the coefficients are not a multiple of the targets, the intercept
    ///   count differs, or the input width does not match.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...1)
        try nb.requireOutputs(1)
        _ = try nb.inputKind(0, allowed: [.float, .double, .int64])
        let targets = Int(try nb.int("targets", default: 1))
        guard targets >= 1 else { throw nb.fail("targets must be at least 1") }
        guard let coef = try nb.floats("coefficients"), !coef.isEmpty, coef.count % targets == 0 else {
            throw nb.fail("coefficients must be a non-empty multiple of targets (\(targets))")
        }
        var intercepts = try nb.floats("intercepts") ?? []
        if intercepts.isEmpty { intercepts = [Float](repeating: 0, count: targets) }
        guard intercepts.count == targets else {
            throw nb.fail("\(intercepts.count) intercepts for \(targets) targets")
        }
        let post = try PostTransform.parse(nb)
        if let d = try nb.input(0).lastDim, d * targets != coef.count {
            throw nb.fail("input has \(d) features, coefficients expect \(coef.count / targets)")
        }
        nb.setOutput(0, ValueType(.float, shape: [try nb.input(0).shape?.first ?? nil, targets], onnxType: .float))
        return LinearRegressorKernel(
            name: nb.node.name, x: nb.inputs[0], out: nb.outputs[0], coefficients: coef, intercepts: intercepts,
            targets: targets, post: post)
    }

    /// One row's prediction in onnxruntime's order: its LinearRegressor is a GEMM with the intercepts as the
    /// bias, which MLAS computes as fused multiply-adds from 0 over the features in blocks of 128 (its K stride),
    /// each block's sum added to the output that starts as the intercept. A plain `s += x * w` differs from it by
    /// float32 roundings, more than the parity tolerance when large coefficients cancel (Spark's MinMaxScaler +
    /// LinearRegression).
    @inline(__always)
    static func dot(_ x: UnsafePointer<Float>, _ w: [Float], _ offset: Int, _ f: Int, _ intercept: Float) -> Float {
        var out = intercept
        var start = 0
        while start < f {
            let end = min(f, start + 128)
            var s: Float = 0
            for j in start..<end { s = s.addingProduct(x[j], w[offset + j]) }
            out += s
            start = end
        }
        return out
    }

    /// Computes every row's targets with ``dot(_:_:_:_:_:)`` and applies the post-transform.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` when the input's width does not match the coefficients.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let xs = ctx.slots[x], o = ctx.slots[out]
        let (n, f, converted) = floatMatrix(xs, &ctx.scratch)
        guard f * targets == coefficients.count else {
            throw EngineError.eval(name, "input has \(f) features, the model expects \(coefficients.count / targets)")
        }
        o.kind = .float
        o.setShape(n, targets)
        o.resizeF(n * targets)
        let input = converted ? ctx.scratch : xs.f
        input.withUnsafeBufferPointer { xp in
            o.f.withUnsafeMutableBufferPointer { op in
                for r in 0..<n {
                    for t in 0..<targets {
                        op[r * targets + t] = Self.dot(xp.baseAddress! + r * f, coefficients, t * f, f, intercepts[t])
                    }
                    if targets == 1 {
                        if post == .probit { op[r] = PostTransform.probit(op[r]) }
                    } else {
                        post.apply(op.baseAddress! + r * targets, targets)
                    }
                }
            }
        }
    }
}
