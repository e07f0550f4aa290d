import ONNXFormat

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Softmax over one axis (opset ≥ 13) or over the flattened trailing block from `axis` (opset < 13).
struct SoftmaxKernel: Kernel {
    let name: String
    let x: Int, out: Int
    let axis: Int64
    let legacy: Bool

    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...1)
        try nb.requireOutputs(1)
        let k = try nb.inputKind(0, allowed: [.float, .double])
        let legacy = nb.opset < 13
        let axis = try nb.int("axis", default: legacy ? 1 : -1)
        nb.setOutput(0, ValueType(k, shape: try nb.input(0).shape, onnxType: try nb.input(0).onnxType))
        return SoftmaxKernel(name: nb.node.name, x: nb.inputs[0], out: nb.outputs[0], axis: axis, legacy: legacy)
    }

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
    let name: String
    let x: Int, out: Int
    let axis: Int64
    let keepDims: Bool
    let selectLast: Bool

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
    let name: String
    let x: Int, out: Int
    let mean: Bool
    let axes: [Int64]
    let axesSlot: Int
    let keepDims: Bool
    let noopWithEmptyAxes: Bool

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
                shape = keep ? s.enumerated().map { set.contains($0.offset) ? 1 : $0.element }
                    : s.enumerated().filter { !set.contains($0.offset) }.map(\.element)
            }
            nb.setOutput(0, ValueType(k, shape: shape, onnxType: try nb.input(0).onnxType))
            return ReduceKernel(
                name: nb.node.name, x: nb.inputs[0], out: nb.outputs[0], mean: mean, axes: axes, axesSlot: axesSlot,
                keepDims: keep, noopWithEmptyAxes: try nb.int("noop_with_empty_axes", default: 0) != 0)
        }
    }

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
