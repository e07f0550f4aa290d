import ONNXFormat

/// Identity, and the pure reshapes Reshape / Flatten / Squeeze / Unsqueeze: copy the data, compute a new shape.
struct ReshapeKernel: Kernel {
    /// Which of the ops this kernel computes; all copy the data unchanged and differ only in the output shape.
    enum Op: Sendable { case identity, reshape, flatten, squeeze, unsqueeze }
    /// Node name, for error messages.
    let name: String
    /// Which of the ops this kernel computes.
    let op: Op
    /// Slots of the input and of the output.
    let x: Int, out: Int
    /// Reshape: target shape (from a constant) or the slot holding it; Flatten: axis; (Un)squeeze: axes.
    var target: [Int64] = []
    /// Slot of a Reshape target computed by the graph (-1 when the target is a constant).
    var targetSlot = -1
    /// Reshape's `allowzero`: a 0 in the target is a real 0 instead of "copy the input's dimension".
    var allowZero = false
    /// Flatten's `axis` (1 by default), normalised at load when the input's rank is known.
    var axis = 1

    /// The builder for one of the ops, for ``OpRegistry``. Squeeze and Unsqueeze read `axes` from the attribute before
    /// opset 13 and from a constant second input from opset 13 on.
    ///
    /// - Throws: ``EngineError`` naming the node for missing or computed axes, an axis out of range, or a squeezed axis
    ///   whose known size is not 1.
    static func build(_ op: Op) -> (inout NodeBuilder) throws(EngineError) -> any Kernel {
        return { (nb: inout NodeBuilder) throws(EngineError) -> any Kernel in
            try nb.requireOutputs(1)
            let t = try nb.input(0)
            var k = ReshapeKernel(name: nb.node.name, op: op, x: nb.inputs[0], out: nb.outputs[0])
            var shape: [Int?]? = nil
            switch op {
            case .identity:
                try nb.requireInputs(1...1)
                shape = t.shape
            case .reshape:
                try nb.requireInputs(2...2)
                k.allowZero = try nb.int("allowzero", default: 0) != 0
                if let c = nb.constantInts(1) {
                    k.target = c
                    if let s = t.shape, s.allSatisfy({ $0 != nil }) {
                        shape = try? ReshapeKernel.reshape(s.map { $0! }, c, allowZero: k.allowZero).map { $0 }
                    } else {
                        shape = c.enumerated().map { i, v in
                            v > 0
                                ? Int(v)
                                : (v == 0 && !k.allowZero ? (t.shape.flatMap { i < $0.count ? $0[i] : nil }) : nil)
                        }
                    }
                } else {
                    k.targetSlot = nb.inputs[1]
                }
            case .flatten:
                try nb.requireInputs(1...1)
                k.axis = Int(try nb.int("axis", default: 1))
                if let s = t.shape {
                    let a = try nb.axis(Int64(k.axis), rank: s.count + 1)
                    k.axis = a
                    let left = s[0..<a].reduce(Optional(1)) { p, d in p.flatMap { p in d.map { p * $0 } } }
                    let right = s[a...].reduce(Optional(1)) { p, d in p.flatMap { p in d.map { p * $0 } } }
                    shape = [left, right]
                } else {
                    shape = [nil, nil]
                }
            case .squeeze, .unsqueeze:
                try nb.requireInputs(1...2)
                if nb.opset >= 13 && op == .unsqueeze || nb.opset >= 13 && nb.inputs.count > 1 {
                    if nb.inputs.count > 1 {
                        guard let c = nb.constantInts(1) else { throw nb.fail("axes must be a constant initializer") }
                        k.target = c
                    }
                } else {
                    k.target = try nb.ints("axes") ?? []
                }
                if op == .unsqueeze && k.target.isEmpty { throw nb.fail("axes are required") }
                if let s = t.shape {
                    if op == .unsqueeze {
                        let rank = s.count + k.target.count
                        var axes = Set<Int>()
                        for a in k.target { axes.insert(try nb.axis(a, rank: rank)) }
                        var out: [Int?] = []
                        var j = 0
                        for d in 0..<rank {
                            if axes.contains(d) { out.append(1) } else { out.append(j < s.count ? s[j] : nil); j += 1 }
                        }
                        shape = out
                    } else if !k.target.isEmpty {
                        var axes = Set<Int>()
                        for a in k.target { axes.insert(try nb.axis(a, rank: s.count)) }
                        for a in axes where s[a] != nil && s[a] != 1 {
                            throw nb.fail("cannot squeeze axis \(a) of size \(s[a]!)")
                        }
                        shape = s.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
                    } else if s.allSatisfy({ $0 != nil }) {
                        shape = s.filter { $0 != 1 }
                    }
                }
            }
            nb.setOutput(0, ValueType(t.kind, shape: shape, onnxType: t.onnxType))
            return k
        }
    }

    /// Resolves a Reshape target (0 = copy, -1 = infer) against an input shape.
    static func reshape(_ input: [Int], _ target: [Int64], allowZero: Bool) throws(EngineError) -> [Int] {
        var out: [Int] = []
        try reshape(input, target, allowZero: allowZero, into: &out)
        return out
    }

    /// Same, writing into `out` (keeps its capacity: no allocation on the serving path).
    static func reshape(_ input: [Int], _ target: [Int64], allowZero: Bool, into out: inout [Int]) throws(EngineError) {
        let total = input.reduce(1, *)
        out.removeAll(keepingCapacity: true)
        var infer = -1
        var known = 1
        for (i, v) in target.enumerated() {
            if v == -1 {
                guard infer < 0 else { throw EngineError.input("Reshape target \(target) has two -1 entries") }
                infer = i
                out.append(1)
            } else if v == 0 && !allowZero {
                guard i < input.count else {
                    throw EngineError.input("Reshape target \(target) copies a missing dimension")
                }
                out.append(input[i])
                known *= input[i]
            } else if v >= 0 {
                let (product, overflow) = known.multipliedReportingOverflow(by: Int(v))
                guard !overflow, v <= Int64(Int32.max) else { throw EngineError.input("Reshape target \(target) is too large") }
                out.append(Int(v))
                known = product
            } else {
                throw EngineError.input("Reshape target \(target) has a negative entry")
            }
        }
        if infer >= 0 {
            guard known > 0, total % known == 0 else {
                throw EngineError.input("cannot reshape \(input) to \(target)")
            }
            out[infer] = total / known
        } else if known != total {
            throw EngineError.input("cannot reshape \(input) (\(total) elements) to \(target)")
        }
    }

    /// Copies the input and sets the output shape.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` when a Reshape target does not fit the element count or a squeezed
    ///   axis is not of size 1.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let i = ctx.slots[x], o = ctx.slots[out]
        o.copy(from: i)
        switch op {
        case .identity: break
        case .reshape:
            let t = targetSlot >= 0 ? ctx.slots[targetSlot].i : target
            do {
                try ReshapeKernel.reshape(i.shape, t, allowZero: allowZero, into: &o.shape)
            } catch {
                throw EngineError.eval(name, error.message)
            }
        case .flatten:
            let a = min(axis, i.shape.count)
            let left = i.shape[0..<a].reduce(1, *)
            o.setShape(left, left == 0 ? 0 : i.count / max(left, 1))
        case .squeeze:
            var shape: [Int] = []
            let rank = i.shape.count
            let axes = target.map { Int($0 < 0 ? $0 + Int64(rank) : $0) }
            for (d, n) in i.shape.enumerated() {
                if axes.isEmpty ? n == 1 : axes.contains(d) {
                    if n != 1 { throw EngineError.eval(name, "cannot squeeze axis \(d) of size \(n)") }
                    continue
                }
                shape.append(n)
            }
            o.setShape(shape)
        case .unsqueeze:
            let rank = i.shape.count + target.count
            let axes = Set(target.map { Int($0 < 0 ? $0 + Int64(rank) : $0) })
            var shape: [Int] = []
            var j = 0
            for d in 0..<rank {
                if axes.contains(d) { shape.append(1) } else if j < i.shape.count { shape.append(i.shape[j]); j += 1 }
            }
            o.setShape(shape)
        }
    }
}

/// Cast between float, double, integer, bool and string.
struct CastKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the input and of the output (same shape).
    let x: Int, out: Int
    /// Storage kind of the target type.
    let to: ElementKind
    /// The ONNX target type (`to`); narrower integer types are wrapped after conversion.
    let toType: ONNXDataType

    /// Reads `to`; an element type the engine cannot store, or a ZipMap input, is refused.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...1)
        try nb.requireOutputs(1)
        let raw = try nb.int("to", default: 0)
        guard let dt = ONNXDataType(rawValue: Int32(truncatingIfNeeded: raw)), let kind = ElementKind(dt) else {
            throw nb.fail("cast to element type \(raw) is not supported")
        }
        let t = try nb.input(0)
        guard t.kind != .mapSequence else { throw nb.fail("cannot cast a sequence of maps") }
        nb.setOutput(0, ValueType(kind, shape: t.shape, onnxType: dt))
        return CastKernel(name: nb.node.name, x: nb.inputs[0], out: nb.outputs[0], to: kind, toType: dt)
    }

    /// Converts every element. Strings parse as numbers (NaN, or 0 for integers, when they do not); numbers format with
    /// Swift's shortest representation; a non-zero number is `true`.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let i = ctx.slots[x], o = ctx.slots[out]
        o.kind = to
        o.setShape(i.shape)
        switch (i.kind, to) {
        case (.float, .float):
            o.f.removeAll(keepingCapacity: true)
            o.f.append(contentsOf: i.f)
        case (_, .float):
            i.floats(into: &o.f)
            if i.kind == .string { o.f.removeAll(keepingCapacity: true); for s in i.s { o.f.append(Float(s) ?? .nan) } }
        case (_, .double):
            o.d.removeAll(keepingCapacity: true)
            switch i.kind {
            case .float: for v in i.f { o.d.append(Double(v)) }
            case .double: o.d.append(contentsOf: i.d)
            case .string: for s in i.s { o.d.append(Double(s) ?? .nan) }
            default: for v in i.i { o.d.append(Double(v)) }
            }
        case (_, .int64), (_, .bool):
            o.i.removeAll(keepingCapacity: true)
            let toBool = to == .bool
            switch i.kind {
            case .float: for v in i.f { o.i.append(toBool ? (v != 0 ? 1 : 0) : CastKernel.truncate(Double(v))) }
            case .double: for v in i.d { o.i.append(toBool ? (v != 0 ? 1 : 0) : CastKernel.truncate(v)) }
            case .string: for s in i.s { o.i.append(Int64(s) ?? CastKernel.truncate(Double(s) ?? 0)) }
            default: for v in i.i { o.i.append(toBool ? (v != 0 ? 1 : 0) : v) }
            }
            if !toBool && toType != .int64 { CastKernel.wrap(&o.i, toType) }
        case (_, .string):
            o.s.removeAll(keepingCapacity: true)
            switch i.kind {
            case .float: for v in i.f { o.s.append(String(v)) }
            case .double: for v in i.d { o.s.append(String(v)) }
            case .string: o.s.append(contentsOf: i.s)
            default: for v in i.i { o.s.append(String(v)) }
            }
        default:
            throw EngineError.eval(name, "cannot cast \(i.kind) to \(to)")
        }
    }

    /// Float to integer conversion: truncation toward zero; NaN and values outside Int64's range give `Int64.min`
    /// instead of trapping.
    @inline(__always) static func truncate(_ v: Double) -> Int64 {
        if v.isNaN { return Int64.min }
        if v >= 9.2233720368547758e18 { return Int64.min }
        if v < -9.2233720368547758e18 { return Int64.min }
        return Int64(v)
    }

    /// Wraps values to a narrower integer type, as a C cast would.
    static func wrap(_ values: inout [Int64], _ type: ONNXDataType) {
        for k in values.indices {
            let v = values[k]
            switch type {
            case .int32: values[k] = Int64(Int32(truncatingIfNeeded: v))
            case .int16: values[k] = Int64(Int16(truncatingIfNeeded: v))
            case .int8: values[k] = Int64(Int8(truncatingIfNeeded: v))
            case .uint8: values[k] = Int64(UInt8(truncatingIfNeeded: v))
            case .uint16: values[k] = Int64(UInt16(truncatingIfNeeded: v))
            case .uint32: values[k] = Int64(UInt32(truncatingIfNeeded: v))
            default: break
            }
        }
    }
}

/// Concat along an axis (any element type; inputs must share it).
///
/// At load the compiler drops a Concat that only glues back the pieces of one Split, and the serving plan may feed a
/// Concat of input columns straight from the caller's block (see `PredictBinder.feedConcatenatedBlocks`).
struct ConcatKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the inputs, in order.
    let inputs: [Int]
    /// Slot of the concatenation.
    let out: Int
    /// Axis as written (may be negative); normalised against the run-time rank.
    let axis: Int64

    /// Requires `axis` and one element kind for all inputs; the output length along the axis is known when every
    /// input's is.
    ///
    /// - Throws: ``EngineError`` naming the node when kinds differ or known shapes disagree outside the axis.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        guard !nb.inputs.isEmpty, nb.inputs.allSatisfy({ $0 >= 0 }) else { throw nb.fail("needs at least one input") }
        try nb.requireOutputs(1)
        let first = try nb.input(0)
        for k in 1..<nb.inputs.count where try nb.input(k).kind != first.kind {
            throw nb.fail("input \(k) has type \(try nb.input(k).kind), input 0 has \(first.kind)")
        }
        guard let axisAttr = nb.attr("axis") else { throw nb.fail("attribute axis is required") }
        guard case .int(let axis) = axisAttr else { throw nb.fail("attribute axis must be an int") }
        var shape: [Int?]? = nil
        if let s0 = first.shape {
            let a = try nb.axis(axis, rank: s0.count)
            var out = s0
            var total: Int? = 0
            for k in 0..<nb.inputs.count {
                guard let s = try nb.input(k).shape, s.count == s0.count else { total = nil; continue }
                for d in 0..<s.count where d != a {
                    if let x = s[d], let y = out[d], x != y {
                        throw nb.fail(
                            "input \(k) has shape \(s.map { $0.map(String.init) ?? "?" }) which does not match input 0 outside axis \(a)"
                        )
                    }
                }
                total = total.flatMap { t in s[a].map { t + $0 } }
            }
            out[a] = total
            shape = out
        }
        nb.setOutput(0, ValueType(first.kind, shape: shape, onnxType: first.onnxType))
        return ConcatKernel(name: nb.node.name, inputs: nb.inputs, out: nb.outputs[0], axis: axis)
    }

    /// Concatenates the inputs along the axis.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` for scalars, an axis out of range, or shapes that differ in rank or
    ///   outside the axis.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let first = ctx.slots[inputs[0]], o = ctx.slots[out]
        let rank = first.shape.count
        guard rank > 0 else { throw EngineError.eval(name, "cannot concatenate scalars") }
        let a = Int(axis < 0 ? axis + Int64(rank) : axis)
        guard a >= 0, a < rank else { throw EngineError.eval(name, "axis \(axis) out of range for rank \(rank)") }
        let outer = first.shape[0..<a].reduce(1, *)
        var total = 0
        for s in inputs {
            let sh = ctx.slots[s].shape
            guard sh.count == rank else { throw EngineError.eval(name, "inputs have different ranks") }
            for d in 0..<rank where d != a && sh[d] != first.shape[d] {
                throw EngineError.eval(name, "input shapes \(first.shape) and \(sh) differ outside axis \(a)")
            }
            total += sh[a]
        }
        o.kind = first.kind
        o.setShape(first.shape)
        o.shape[a] = total
        let inner = first.shape[(a + 1)...].reduce(1, *)
        switch first.kind {
        case .float, .mapSequence: concat(\.f, ctx, o, outer: outer, inner: inner, axis: a)
        case .double: concat(\.d, ctx, o, outer: outer, inner: inner, axis: a)
        case .string: concat(\.s, ctx, o, outer: outer, inner: inner, axis: a)
        default: concat(\.i, ctx, o, outer: outer, inner: inner, axis: a)
        }
    }

    /// Appends, for each of the `outer` blocks, each input's `length × inner` elements, reading the buffer at `kp`.
    @inline(__always)
    private func concat<T>(
        _ kp: ReferenceWritableKeyPath<Slot, [T]>, _ ctx: ExecutionContext, _ o: Slot, outer: Int, inner: Int, axis: Int
    ) {
        o[keyPath: kp].removeAll(keepingCapacity: true)
        if outer == 1 {
            for s in inputs { o[keyPath: kp].append(contentsOf: ctx.slots[s][keyPath: kp]) }
            return
        }
        if inner == 1, let fill = ctx.slots[inputs[0]][keyPath: kp].first {
            // Common case: [N,1] columns (or [N,k] blocks) concatenated on axis 1: strided copies.
            var total = 0
            for s in inputs { total += ctx.slots[s].shape[axis] }
            o[keyPath: kp].append(contentsOf: repeatElement(fill, count: outer * total))
            o[keyPath: kp].withUnsafeMutableBufferPointer { dst in
                var offset = 0
                for s in inputs {
                    let slot = ctx.slots[s]
                    let w = slot.shape[axis]
                    slot[keyPath: kp].withUnsafeBufferPointer { src in
                        for r in 0..<outer {
                            for j in 0..<w { dst[r * total + offset + j] = src[r * w + j] }
                        }
                    }
                    offset += w
                }
            }
            return
        }
        for r in 0..<outer {
            for s in inputs {
                let slot = ctx.slots[s]
                let w = slot.shape[axis] * inner
                o[keyPath: kp].append(contentsOf: slot[keyPath: kp][(r * w)..<(r * w + w)])
            }
        }
    }
}

/// Gather(data, indices) along an axis.
struct GatherKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the data, of the int64 indices and of the output.
    let data: Int, indices: Int, out: Int
    /// Axis as written (0 by default; may be negative); normalised against the run-time rank.
    let axis: Int64

    /// Checks constant indices against a known axis size; the output shape is the data's with the axis replaced by
    /// the indices' shape.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(2...2)
        try nb.requireOutputs(1)
        let t = try nb.input(0)
        _ = try nb.inputKind(1, allowed: [.int64])
        let axis = try nb.int("axis", default: 0)
        var shape: [Int?]? = nil
        if let ds = t.shape, let isx = try nb.input(1).shape {
            let a = try nb.axis(axis, rank: ds.count)
            if let c = nb.constantInts(1), let n = ds[a] {
                for v in c where v < -Int64(n) || v >= Int64(n) {
                    throw nb.fail("index \(v) is out of range for axis \(a) of size \(n)")
                }
            }
            shape = Array(ds[0..<a]) + isx + Array(ds[(a + 1)...])
        }
        nb.setOutput(0, ValueType(t.kind, shape: shape, onnxType: t.onnxType))
        return GatherKernel(
            name: nb.node.name, data: nb.inputs[0], indices: nb.inputs[1], out: nb.outputs[0], axis: axis)
    }

    /// Gathers along the axis; negative indices count from the end.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` for a scalar, an axis out of range or an index outside the axis.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let x = ctx.slots[data], ix = ctx.slots[indices], o = ctx.slots[out]
        let rank = x.shape.count
        guard rank > 0 else { throw EngineError.eval(name, "cannot gather from a scalar") }
        let a = Int(axis < 0 ? axis + Int64(rank) : axis)
        guard a >= 0, a < rank else { throw EngineError.eval(name, "axis \(axis) out of range") }
        let n = x.shape[a]
        for v in ix.i where v < -Int64(n) || v >= Int64(n) {
            throw EngineError.eval(name, "index \(v) is out of range for axis \(a) of size \(n)")
        }
        let outer = x.shape[0..<a].reduce(1, *)
        let inner = x.shape[(a + 1)...].reduce(1, *)
        o.kind = x.kind
        o.shape.removeAll(keepingCapacity: true)
        for d in 0..<a { o.shape.append(x.shape[d]) }
        o.shape.append(contentsOf: ix.shape)
        for d in (a + 1)..<rank { o.shape.append(x.shape[d]) }
        switch x.kind {
        case .float, .mapSequence: gather(\.f, x, ix, o, outer: outer, inner: inner, n: n)
        case .double: gather(\.d, x, ix, o, outer: outer, inner: inner, n: n)
        case .string: gather(\.s, x, ix, o, outer: outer, inner: inner, n: n)
        default: gather(\.i, x, ix, o, outer: outer, inner: inner, n: n)
        }
    }

    /// Copies the `inner`-element runs selected by the indices for each of the `outer` blocks, moving the output array
    /// out of the slot while it is filled so that it is not copied on write.
    @inline(__always)
    private func gather<T>(
        _ kp: ReferenceWritableKeyPath<Slot, [T]>, _ x: Slot, _ ix: Slot, _ o: Slot, outer: Int, inner: Int, n: Int
    ) {
        let src = x[keyPath: kp]
        let idx = ix.i
        var out = o[keyPath: kp]
        o[keyPath: kp] = []
        out.removeAll(keepingCapacity: true)
        let total = outer * idx.count * inner
        if total > 0, let fill = src.first {
            out.append(contentsOf: repeatElement(fill, count: total))
            src.withUnsafeBufferPointer { sp in
                out.withUnsafeMutableBufferPointer { op in
                    var w = 0
                    for r in 0..<outer {
                        for v in idx {
                            let k = Int(v < 0 ? v + Int64(n) : v)
                            let start = (r * n + k) * inner
                            for j in 0..<inner { op[w + j] = sp[start + j] }
                            w += inner
                        }
                    }
                }
            }
        }
        o[keyPath: kp] = out
    }
}
