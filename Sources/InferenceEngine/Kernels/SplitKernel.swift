import ONNXFormat

/// `Split`: cuts a tensor into consecutive pieces along one axis, one output per piece.
///
/// The piece sizes come from the `split` attribute (opsets 1–12), the optional second input (opset 13 on; a
/// constant or a value computed by the graph), or are equal (`num_outputs` from opset 18, else the number of
/// outputs). With equal pieces, opset 18 lets the last one be smaller (ceil division, as onnxruntime does);
/// earlier opsets need the axis to divide evenly. onnxmltools' `convert_sparkml` writes `Split` after `Imputer`
/// to hand each imputed column to the next stage.
struct SplitKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slot of the tensor to split.
    let x: Int
    /// Slot of each piece, in order (-1 for an omitted output).
    let outs: [Int]
    /// Axis as written (may be negative); normalised against the run-time rank.
    let axis: Int64
    /// Piece sizes known at load (attribute or constant input); empty when they are equal or read at run time.
    let sizes: [Int]
    /// Slot of a computed sizes input (opset 13 on), or -1.
    let sizesSlot: Int
    /// Whether equal pieces may leave a smaller last one (opset 18 on).
    let unevenLast: Bool

    /// Reads the axis and the piece sizes by opset and types each output (its length along the axis when known at
    /// load).
    ///
    /// - Throws: ``EngineError`` naming the node when sizes are negative, do not add up to a known dimension, or do not
    ///   match the number of outputs.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...2)
        guard !nb.outputs.isEmpty else { throw nb.fail("expects at least one output") }
        let t = try nb.input(0)
        let axis = try nb.int("axis", default: 0)
        var sizes: [Int64] = []
        var sizesSlot = -1
        if nb.opset < 13 {
            sizes = try nb.ints("split") ?? []
        } else if nb.inputs.count > 1, nb.inputs[1] >= 0 {
            guard try nb.input(1).kind == .int64 else { throw nb.fail("input 1 (split) must be int64") }
            if let c = nb.constantInts(1) { sizes = c } else { sizesSlot = nb.inputs[1] }
        }
        if nb.opset >= 18, nb.attr("num_outputs") != nil {
            let n = try nb.int("num_outputs", default: 0)
            guard sizes.isEmpty, sizesSlot < 0 else { throw nb.fail("num_outputs and split cannot both be given") }
            guard n == Int64(nb.outputs.count) else {
                throw nb.fail("num_outputs is \(n) but the node has \(nb.outputs.count) outputs")
            }
        }
        if !sizes.isEmpty {
            guard sizes.count == nb.outputs.count else {
                throw nb.fail("split has \(sizes.count) sizes for \(nb.outputs.count) outputs")
            }
            guard sizes.allSatisfy({ $0 >= 0 && $0 < 1 << 40 }) else {
                throw nb.fail("split sizes must be non-negative, got \(sizes)")
            }
        }
        var shapes: [[Int?]?] = Array(repeating: nil, count: nb.outputs.count)
        if let s = t.shape {
            let a = try nb.axis(axis, rank: s.count)
            let total = sizes.reduce(0, +)
            if !sizes.isEmpty, let d = s[a], Int64(d) != total {
                throw nb.fail("split sizes \(sizes) add up to \(total) but axis \(a) has \(d) elements")
            }
            for k in 0..<shapes.count {
                var o = s
                o[a] = sizes.isEmpty ? nil : Int(sizes[k])
                shapes[k] = o
            }
        }
        for k in 0..<nb.outputs.count { nb.setOutput(k, ValueType(t.kind, shape: shapes[k], onnxType: t.onnxType)) }
        return SplitKernel(
            name: nb.node.name, x: nb.inputs[0], outs: nb.outputs, axis: axis, sizes: sizes.map { Int($0) },
            sizesSlot: sizesSlot, unevenLast: nb.opset >= 18)
    }

    /// Size of piece `k` of `dim` elements (equal pieces, or the given sizes).
    @inline(__always)
    private func pieceSize(_ k: Int, dim: Int, _ ctx: ExecutionContext) -> Int {
        if !sizes.isEmpty { return sizes[k] }
        if sizesSlot >= 0 { return Int(ctx.slots[sizesSlot].i[k]) }
        let chunk = unevenLast ? (dim + outs.count - 1) / outs.count : dim / outs.count
        return max(0, min(chunk, dim - chunk * k))
    }

    /// Copies each piece into its output slot.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` for a scalar input, an axis out of range, or sizes that do not add
    ///   up to the run-time dimension.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let xs = ctx.slots[x]
        let rank = xs.shape.count
        guard rank > 0 else { throw EngineError.eval(name, "cannot split a scalar") }
        let a = Int(axis < 0 ? axis + Int64(rank) : axis)
        guard a >= 0, a < rank else { throw EngineError.eval(name, "axis \(axis) out of range for rank \(rank)") }
        let dim = xs.shape[a]
        if sizesSlot >= 0 {
            let given = ctx.slots[sizesSlot].i
            guard given.count == outs.count else {
                throw EngineError.eval(name, "split has \(given.count) sizes for \(outs.count) outputs")
            }
            var total: Int64 = 0
            for v in given {
                guard v >= 0 else { throw EngineError.eval(name, "split sizes must be non-negative, got \(given)") }
                total &+= v
            }
            guard total == Int64(dim) else {
                throw EngineError.eval(name, "split sizes \(given) add up to \(total) but axis \(a) has \(dim) elements")
            }
        } else if !sizes.isEmpty {
            var total = 0
            for v in sizes { total += v }
            guard total == dim else {
                throw EngineError.eval(name, "split sizes \(sizes) add up to \(total) but axis \(a) has \(dim) elements")
            }
        } else if !unevenLast, dim % outs.count != 0 {
            throw EngineError.eval(name, "axis \(a) has \(dim) elements, which \(outs.count) outputs cannot split evenly")
        }
        var outer = 1
        for d in 0..<a { outer *= xs.shape[d] }
        var inner = 1
        for d in (a + 1)..<rank { inner *= xs.shape[d] }
        var start = 0
        for k in 0..<outs.count {
            let size = pieceSize(k, dim: dim, ctx)
            defer { start += size }
            guard outs[k] >= 0 else { continue }
            let o = ctx.slots[outs[k]]
            o.kind = xs.kind
            o.setShape(xs.shape)
            o.shape[a] = size
            o.hasLabelIndex = false
            switch xs.kind {
            case .float, .mapSequence: copy(\.f, xs, o, outer: outer, inner: inner, dim: dim, start: start, size: size)
            case .double: copy(\.d, xs, o, outer: outer, inner: inner, dim: dim, start: start, size: size)
            case .string: copy(\.s, xs, o, outer: outer, inner: inner, dim: dim, start: start, size: size)
            case .int64, .bool: copy(\.i, xs, o, outer: outer, inner: inner, dim: dim, start: start, size: size)
            }
        }
    }

    /// Copies elements `start..<start+size` along the axis of every outer block into `o`.
    @inline(__always)
    private func copy<T>(
        _ kp: ReferenceWritableKeyPath<Slot, [T]>, _ xs: Slot, _ o: Slot, outer: Int, inner: Int, dim: Int,
        start: Int, size: Int
    ) {
        o[keyPath: kp].removeAll(keepingCapacity: true)
        let src = xs[keyPath: kp]
        let width = size * inner
        for r in 0..<outer {
            let base = (r * dim + start) * inner
            o[keyPath: kp].append(contentsOf: src[base..<(base + width)])
        }
    }
}
