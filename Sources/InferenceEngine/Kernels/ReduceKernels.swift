import ONNXFormat

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Softmax over one axis (opset ≥ 13) or over the flattened trailing block from `axis` (opset < 13).
struct SoftmaxKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the input and of the output (same shape and element kind).
    let x: Int, out: Int
    /// `axis` as written (1 before opset 13, -1 from 13 on, by default); normalised against the run-time rank.
    let axis: Int64
    /// Opset below 13: normalise over everything from `axis` on as one block, not over that axis alone.
    let legacy: Bool

    /// Accepts float or double inputs and reads `axis` with the default of the node's opset.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...1)
        try nb.requireOutputs(1)
        let k = try nb.inputKind(0, allowed: [.float, .double])
        let legacy = nb.opset < 13
        let axis = try nb.int("axis", default: legacy ? 1 : -1)
        nb.setOutput(0, ValueType(k, shape: try nb.input(0).shape, onnxType: try nb.input(0).onnxType))
        return SoftmaxKernel(name: nb.node.name, x: nb.inputs[0], out: nb.outputs[0], axis: axis, legacy: legacy)
    }

    /// Computes `exp(x - max) / sum` over each group, in the input's precision; a scalar becomes 1.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` when the axis is out of range for the run-time rank.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let i = ctx.slots[x], o = ctx.slots[out]
        let rank = i.shape.count
        let a = Int(axis < 0 ? axis + Int64(rank) : axis)
        guard rank == 0 || (a >= 0 && a < rank) else { throw EngineError.eval(name, "axis \(axis) out of range") }
        o.copy(from: i)
        guard rank > 0 else {
            if o.kind == .float { o.f[0] = 1 } else { o.d[0] = 1 }
            return
        }
        let outer = i.shape[0..<a].reduce(1, *)
        let n = legacy ? i.shape[a...].reduce(1, *) : i.shape[a]
        let inner = legacy ? 1 : i.shape[(a + 1)...].reduce(1, *)
        if o.kind == .float {
            o.f.withUnsafeMutableBufferPointer { p in
                for r in 0..<outer {
                    for c in 0..<inner {
                        let base = r * n * inner + c
                        var m = -Float.infinity
                        for k in 0..<n where p[base + k * inner] > m { m = p[base + k * inner] }
                        var sum: Float = 0
                        for k in 0..<n {
                            let e = expf(p[base + k * inner] - m)
                            p[base + k * inner] = e
                            sum += e
                        }
                        for k in 0..<n { p[base + k * inner] /= sum }
                    }
                }
            }
        } else {
            o.d.withUnsafeMutableBufferPointer { p in
                for r in 0..<outer {
                    for c in 0..<inner {
                        let base = r * n * inner + c
                        var m = -Double.infinity
                        for k in 0..<n where p[base + k * inner] > m { m = p[base + k * inner] }
                        var sum: Double = 0
                        for k in 0..<n {
                            let e = Glibc.exp(p[base + k * inner] - m)
                            p[base + k * inner] = e
                            sum += e
                        }
                        for k in 0..<n { p[base + k * inner] /= sum }
                    }
                }
            }
        }
    }
}

/// ArgMax along an axis; ties go to the first index unless select_last_index = 1.
struct ArgMaxKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the input and of the int64 index output.
    let x: Int, out: Int
    /// `axis` as written (0 by default; may be negative).
    let axis: Int64
    /// `keepdims` (1 by default): keep the reduced axis with size 1 instead of removing it.
    let keepDims: Bool
    /// `select_last_index`: on ties, report the last maximal index instead of the first.
    let selectLast: Bool

    /// Reads `axis`, `keepdims` and `select_last_index` and types the int64 output.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...1)
        try nb.requireOutputs(1)
        _ = try nb.inputKind(0, allowed: [.float, .double, .int64])
        let axis = try nb.int("axis", default: 0)
        let keep = try nb.int("keepdims", default: 1) != 0
        var shape: [Int?]? = nil
        if let s = try nb.input(0).shape {
            let a = try nb.axis(axis, rank: s.count)
            var o = s
            if keep { o[a] = 1 } else { o.remove(at: a) }
            shape = o
        }
        nb.setOutput(0, ValueType(.int64, shape: shape, onnxType: .int64))
        return ArgMaxKernel(
            name: nb.node.name, x: nb.inputs[0], out: nb.outputs[0], axis: axis, keepDims: keep,
            selectLast: try nb.int("select_last_index", default: 0) != 0)
    }

    /// Writes the index of the maximum along the axis for every other position (NaN never compares greater).
    ///
    /// - Throws: ``EngineError`` with `.evaluation` for an axis out of range or an empty axis.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let i = ctx.slots[x], o = ctx.slots[out]
        let rank = i.shape.count
        let a = Int(axis < 0 ? axis + Int64(rank) : axis)
        guard a >= 0, a < rank else { throw EngineError.eval(name, "axis \(axis) out of range for shape \(i.shape)") }
        let n = i.shape[a]
        guard n > 0 else { throw EngineError.eval(name, "cannot take ArgMax over an empty axis") }
        let outer = i.shape[0..<a].reduce(1, *)
        let inner = i.shape[(a + 1)...].reduce(1, *)
        o.kind = .int64
        o.setShape(i.shape)
        if keepDims { o.shape[a] = 1 } else { o.shape.remove(at: a) }
        o.resizeI(outer * inner)
        let last = selectLast
        let f = i.f, dd = i.d, ii = i.i
        let kind = i.kind
        o.i.withUnsafeMutableBufferPointer { out in
            for r in 0..<outer {
                for c in 0..<inner {
                    let base = r * n * inner + c
                    var best = 0
                    switch kind {
                    case .float:
                        var m = f[base]
                        for k in 1..<max(n, 1) {
                            let v = f[base + k * inner]
                            if v > m || (last && v == m) { m = v; best = k }
                        }
                    case .double:
                        var m = dd[base]
                        for k in 1..<max(n, 1) {
                            let v = dd[base + k * inner]
                            if v > m || (last && v == m) { m = v; best = k }
                        }
                    default:
                        var m = ii[base]
                        for k in 1..<max(n, 1) {
                            let v = ii[base + k * inner]
                            if v > m || (last && v == m) { m = v; best = k }
                        }
                    }
                    out[r * inner + c] = Int64(best)
                }
            }
        }
    }
}

/// ReduceSum / ReduceMean over a set of axes (attribute before opset 13/18, input after).
struct ReduceKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the input and of the output (same element kind).
    let x: Int, out: Int
    /// ReduceMean (divide by the number of reduced elements) rather than ReduceSum.
    let mean: Bool
    /// Axes from the attribute or a constant input; empty means all axes unless ``noopWithEmptyAxes``.
    let axes: [Int64]
    /// Slot of an axes input computed by the graph (-1 when the axes are known at load).
    let axesSlot: Int
    /// `keepdims` (1 by default): keep reduced axes with size 1 instead of removing them.
    let keepDims: Bool
    /// `noop_with_empty_axes`: with no axes, copy the input instead of reducing over every axis.
    let noopWithEmptyAxes: Bool

    /// The builder of ReduceSum (`mean` false) or ReduceMean, for ``OpRegistry``. The output shape is known at load
    /// only when the axes are.
    static func build(mean: Bool) -> (inout NodeBuilder) throws(EngineError) -> any Kernel {
        return { (nb: inout NodeBuilder) throws(EngineError) -> any Kernel in
            try nb.requireInputs(1...2)
            try nb.requireOutputs(1)
            let k = try nb.inputKind(0, allowed: [.float, .double, .int64])
            var axes = try nb.ints("axes") ?? []
            var axesSlot = -1
            if nb.inputs.count > 1 && nb.inputs[1] >= 0 {
                if let c = nb.constantInts(1) { axes = c } else { axesSlot = nb.inputs[1] }
            }
            let keep = try nb.int("keepdims", default: 1) != 0
            var shape: [Int?]? = nil
            if let s = try nb.input(0).shape, axesSlot < 0 {
                var set = Set<Int>()
                for a in axes { set.insert(try nb.axis(a, rank: s.count)) }
                if set.isEmpty { set = Set(0..<s.count) }
                shape =
                    keep
                    ? s.enumerated().map { set.contains($0.offset) ? 1 : $0.element }
                    : s.enumerated().filter { !set.contains($0.offset) }.map(\.element)
            }
            nb.setOutput(0, ValueType(k, shape: shape, onnxType: try nb.input(0).onnxType))
            return ReduceKernel(
                name: nb.node.name, x: nb.inputs[0], out: nb.outputs[0], mean: mean, axes: axes, axesSlot: axesSlot,
                keepDims: keep, noopWithEmptyAxes: try nb.int("noop_with_empty_axes", default: 0) != 0)
        }
    }

    /// Sums (or averages) the input over the axes, in the input's element kind.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` for an axis out of range for the run-time rank.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let i = ctx.slots[x], o = ctx.slots[out]
        let rank = i.shape.count
        let rawAxes = axesSlot >= 0 ? ctx.slots[axesSlot].i : axes
        if rawAxes.isEmpty && noopWithEmptyAxes {
            o.copy(from: i)
            return
        }
        var reduce = [Bool](repeating: rawAxes.isEmpty, count: rank)
        for a in rawAxes {
            let n = Int(a < 0 ? a + Int64(rank) : a)
            guard n >= 0, n < rank else { throw EngineError.eval(name, "axis \(a) out of range for rank \(rank)") }
            reduce[n] = true
        }
        var outShape: [Int] = []
        var keptShape: [Int] = []
        for d in 0..<rank {
            if reduce[d] {
                if keepDims { outShape.append(1) }
                keptShape.append(1)
            } else {
                outShape.append(i.shape[d])
                keptShape.append(i.shape[d])
            }
        }
        let total = keptShape.reduce(1, *)
        let count = max(i.count / max(total, 1), 1)
        o.kind = i.kind
        o.setShape(outShape)
        // Accumulate each input element into its output cell (strides of the kept shape).
        var strides = [Int](repeating: 0, count: rank)
        var s = 1
        for d in stride(from: rank - 1, through: 0, by: -1) {
            strides[d] = reduce[d] ? 0 : s
            s *= keptShape[d]
        }
        var idx = [Int](repeating: 0, count: rank)
        switch i.kind {
        case .float:
            var acc = [Float](repeating: 0, count: total)
            var oi = 0
            for v in i.f {
                acc[oi] += v
                ReduceKernel.advance(&idx, &oi, i.shape, strides)
            }
            if mean { for k in acc.indices { acc[k] /= Float(count) } }
            o.f.removeAll(keepingCapacity: true)
            o.f.append(contentsOf: acc)
        case .double:
            var acc = [Double](repeating: 0, count: total)
            var oi = 0
            for v in i.d {
                acc[oi] += v
                ReduceKernel.advance(&idx, &oi, i.shape, strides)
            }
            if mean { for k in acc.indices { acc[k] /= Double(count) } }
            o.d.removeAll(keepingCapacity: true)
            o.d.append(contentsOf: acc)
        default:
            var acc = [Int64](repeating: 0, count: total)
            var oi = 0
            for v in i.i {
                acc[oi] &+= v
                ReduceKernel.advance(&idx, &oi, i.shape, strides)
            }
            if mean { for k in acc.indices { acc[k] /= Int64(count) } }
            o.i.removeAll(keepingCapacity: true)
            o.i.append(contentsOf: acc)
        }
    }

    /// Steps the multi-index `idx` over `shape` to the next input element in row-major order and moves the output index
    /// `oi` along by `strides` (0 on reduced axes).
    @inline(__always)
    static func advance(_ idx: inout [Int], _ oi: inout Int, _ shape: [Int], _ strides: [Int]) {
        var d = shape.count - 1
        while d >= 0 {
            idx[d] += 1
            oi += strides[d]
            if idx[d] < shape[d] { return }
            oi -= strides[d] * idx[d]
            idx[d] = 0
            d -= 1
        }
    }
}
