import ONNXFormat

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Add, Sub, Mul, Div with broadcasting (float, double, int64).
struct BinaryArithmeticKernel: Kernel {
    /// The arithmetic operator.
    enum Op: Sendable { case add, sub, mul, div }
    /// Node name, for error messages.
    let name: String
    /// Which operator this kernel applies.
    let op: Op
    /// Slots of the two operands and of the result.
    let a: Int, b: Int, out: Int

    /// The builder for one operator, for ``OpRegistry``; both inputs must have the same element kind.
    static func build(_ op: Op) -> (inout NodeBuilder) throws(EngineError) -> any Kernel {
        return { (nb: inout NodeBuilder) throws(EngineError) -> any Kernel in
            try nb.requireInputs(2...2)
            try nb.requireOutputs(1)
            let ka = try nb.inputKind(0, allowed: [.float, .double, .int64])
            let kb = try nb.inputKind(1, allowed: [.float, .double, .int64])
            guard ka == kb else { throw nb.fail("inputs have different types (\(ka), \(kb))") }
            let t0 = try nb.input(0), t1 = try nb.input(1)
            nb.setOutput(0, ValueType(ka, shape: Broadcast.staticShape(t0.shape, t1.shape), onnxType: t0.onnxType))
            return BinaryArithmeticKernel(
                name: nb.node.name, op: op, a: nb.inputs[0], b: nb.inputs[1], out: nb.outputs[0])
        }
    }

    /// Applies the operator element by element after NumPy-style broadcasting. Integer arithmetic wraps on overflow.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` when the shapes cannot be broadcast or an integer divisor is 0.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let x = ctx.slots[a], y = ctx.slots[b], o = ctx.slots[out]
        guard Broadcast.shape(into: &o.shape, x.shape, y.shape) else {
            throw EngineError.eval(name, "shapes \(x.shape) and \(y.shape) cannot be broadcast")
        }
        let shape = o.shape
        switch x.kind {
        case .float:
            switch op {
            case .add: Broadcast.binary(x.f, x.shape, y.f, y.shape, out: &o.f, outShape: shape, +)
            case .sub: Broadcast.binary(x.f, x.shape, y.f, y.shape, out: &o.f, outShape: shape, -)
            case .mul: Broadcast.binary(x.f, x.shape, y.f, y.shape, out: &o.f, outShape: shape, *)
            case .div: Broadcast.binary(x.f, x.shape, y.f, y.shape, out: &o.f, outShape: shape, /)
            }
        case .double:
            switch op {
            case .add: Broadcast.binary(x.d, x.shape, y.d, y.shape, out: &o.d, outShape: shape, +)
            case .sub: Broadcast.binary(x.d, x.shape, y.d, y.shape, out: &o.d, outShape: shape, -)
            case .mul: Broadcast.binary(x.d, x.shape, y.d, y.shape, out: &o.d, outShape: shape, *)
            case .div: Broadcast.binary(x.d, x.shape, y.d, y.shape, out: &o.d, outShape: shape, /)
            }
        default:
            if op == .div, y.i.contains(0) { throw EngineError.eval(name, "integer division by zero") }
            switch op {
            case .add: Broadcast.binary(x.i, x.shape, y.i, y.shape, out: &o.i, outShape: shape, &+)
            case .sub: Broadcast.binary(x.i, x.shape, y.i, y.shape, out: &o.i, outShape: shape, &-)
            case .mul: Broadcast.binary(x.i, x.shape, y.i, y.shape, out: &o.i, outShape: shape, &*)
            case .div:
                Broadcast.binary(x.i, x.shape, y.i, y.shape, out: &o.i, outShape: shape) { $1 == 0 ? 0 : $0 / $1 }
            }
        }
    }
}

/// Less, Greater, Equal with broadcasting; output bool.
struct CompareKernel: Kernel {
    /// The comparison; only Equal accepts bool and string inputs.
    enum Op: Sendable { case less, greater, equal }
    /// Node name, for error messages.
    let name: String
    /// Which comparison this kernel applies.
    let op: Op
    /// Slots of the two operands and of the bool result.
    let a: Int, b: Int, out: Int

    /// The builder for one comparison, for ``OpRegistry``; both inputs must have the same element kind.
    static func build(_ op: Op) -> (inout NodeBuilder) throws(EngineError) -> any Kernel {
        return { (nb: inout NodeBuilder) throws(EngineError) -> any Kernel in
            try nb.requireInputs(2...2)
            try nb.requireOutputs(1)
            let allowed: [ElementKind] =
                op == .equal ? [.float, .double, .int64, .bool, .string] : [.float, .double, .int64]
            let ka = try nb.inputKind(0, allowed: allowed)
            let kb = try nb.inputKind(1, allowed: allowed)
            guard ka == kb else { throw nb.fail("inputs have different types (\(ka), \(kb))") }
            nb.setOutput(
                0, ValueType(.bool, shape: Broadcast.staticShape(try nb.input(0).shape, try nb.input(1).shape)))
            return CompareKernel(name: nb.node.name, op: op, a: nb.inputs[0], b: nb.inputs[1], out: nb.outputs[0])
        }
    }

    /// Compares element by element after broadcasting (NaN compares false).
    ///
    /// - Throws: ``EngineError`` with `.evaluation` when the shapes cannot be broadcast.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let x = ctx.slots[a], y = ctx.slots[b], o = ctx.slots[out]
        guard Broadcast.shape(into: &o.shape, x.shape, y.shape) else {
            throw EngineError.eval(name, "shapes \(x.shape) and \(y.shape) cannot be broadcast")
        }
        let shape = o.shape
        let op = self.op
        switch x.kind {
        case .float:
            Broadcast.binary(x.f, x.shape, y.f, y.shape, out: &o.i, outShape: shape) { (p: Float, q: Float) -> Int64 in
                (op == .less ? p < q : op == .greater ? p > q : p == q) ? 1 : 0
            }
        case .double:
            Broadcast.binary(x.d, x.shape, y.d, y.shape, out: &o.i, outShape: shape) {
                (p: Double, q: Double) -> Int64 in
                (op == .less ? p < q : op == .greater ? p > q : p == q) ? 1 : 0
            }
        case .string:
            Broadcast.binary(x.s, x.shape, y.s, y.shape, out: &o.i, outShape: shape) {
                (p: String, q: String) -> Int64 in
                p == q ? 1 : 0
            }
        default:
            Broadcast.binary(x.i, x.shape, y.i, y.shape, out: &o.i, outShape: shape) { (p: Int64, q: Int64) -> Int64 in
                (op == .less ? p < q : op == .greater ? p > q : p == q) ? 1 : 0
            }
        }
    }
}

/// Where(condition, X, Y) with broadcasting of all three inputs.
struct WhereKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the condition, of X, of Y and of the result.
    let c: Int, a: Int, b: Int, out: Int

    /// Requires a bool (or int64) condition and X and Y of the same element kind.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(3...3)
        try nb.requireOutputs(1)
        _ = try nb.inputKind(0, allowed: [.bool, .int64])
        let ka = try nb.inputKind(1, allowed: [.float, .double, .int64, .bool, .string])
        let kb = try nb.inputKind(2, allowed: [ka])
        let shape = Broadcast.staticShape(
            Broadcast.staticShape(try nb.input(0).shape, try nb.input(1).shape), try nb.input(2).shape)
        nb.setOutput(0, ValueType(kb, shape: shape, onnxType: try nb.input(1).onnxType))
        return WhereKernel(name: nb.node.name, c: nb.inputs[0], a: nb.inputs[1], b: nb.inputs[2], out: nb.outputs[0])
    }

    /// Broadcasts the condition, X and Y to the common shape and picks X where the condition is non-zero, else Y.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` when the three shapes cannot be broadcast.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let cs = ctx.slots[c], x = ctx.slots[a], y = ctx.slots[b], o = ctx.slots[out]
        guard let s1 = Broadcast.shape(cs.shape, x.shape), let shape = Broadcast.shape(s1, y.shape) else {
            throw EngineError.eval(name, "shapes \(cs.shape), \(x.shape), \(y.shape) cannot be broadcast")
        }
        o.kind = x.kind
        o.setShape(shape)
        // Broadcast the condition, X and Y to the output shape, then select.
        var cond: [Int64] = []
        Broadcast.binary(cs.i, cs.shape, [Int64(0)], [1], out: &cond, outShape: shape) { p, _ in p }
        func select<T>(_ xs: [T], _ ys: [T], _ zero: T, _ out: inout [T]) {
            var bx: [T] = [], by: [T] = []
            Broadcast.binary(xs, x.shape, [zero], [1], out: &bx, outShape: shape) { p, _ in p }
            Broadcast.binary(ys, y.shape, [zero], [1], out: &by, outShape: shape) { p, _ in p }
            out.removeAll(keepingCapacity: true)
            for k in 0..<cond.count { out.append(cond[k] != 0 ? bx[k] : by[k]) }
        }
        switch x.kind {
        case .float: select(x.f, y.f, 0, &o.f)
        case .double: select(x.d, y.d, 0, &o.d)
        case .string: select(x.s, y.s, "", &o.s)
        default: select(x.i, y.i, 0, &o.i)
        }
    }
}

/// Relu, Sigmoid, Tanh, Abs, Exp, Log, Sqrt, Neg, Reciprocal and Clip (float and double; Abs/Relu/Neg/Clip also
/// int64). Neg and Reciprocal appear in onnxmltools' conversion of Spark's GBTClassifier (its sigmoid written out).
struct UnaryKernel: Kernel {
    /// The function applied to every element.
    enum Op: Sendable { case relu, sigmoid, tanh, abs, exp, log, sqrt, neg, reciprocal, clip }
    /// Node name, for error messages.
    let name: String
    /// Which function this kernel applies.
    let op: Op
    /// Slots of the input and of the output (same shape and element kind).
    let x: Int, out: Int
    /// Clip from opset 11: slots of the optional `min` and `max` inputs (-1 when omitted); their first element is used.
    var minInput = -1, maxInput = -1
    /// Clip before opset 11: the `min` and `max` attributes (unbounded when the kernel is not a Clip).
    var minValue = -Float.infinity, maxValue = Float.infinity

    /// The builder for one function, for ``OpRegistry``; only Relu, Abs, Neg and Clip accept int64 inputs.
    static func build(_ op: Op) -> (inout NodeBuilder) throws(EngineError) -> any Kernel {
        return { (nb: inout NodeBuilder) throws(EngineError) -> any Kernel in
            try nb.requireInputs(op == .clip ? 1...3 : 1...1)
            try nb.requireOutputs(1)
            let intOK = op == .relu || op == .abs || op == .neg || op == .clip
            let k = try nb.inputKind(0, allowed: intOK ? [.float, .double, .int64] : [.float, .double])
            nb.setOutput(0, ValueType(k, shape: try nb.input(0).shape, onnxType: try nb.input(0).onnxType))
            var kernel = UnaryKernel(name: nb.node.name, op: op, x: nb.inputs[0], out: nb.outputs[0])
            if op == .clip {
                if nb.opset < 11 {
                    kernel.minValue = try nb.float("min", default: -Float.greatestFiniteMagnitude)
                    kernel.maxValue = try nb.float("max", default: Float.greatestFiniteMagnitude)
                } else {
                    if nb.inputs.count > 1 { kernel.minInput = nb.inputs[1] }
                    if nb.inputs.count > 2 { kernel.maxInput = nb.inputs[2] }
                }
            }
            return kernel
        }
    }

    /// Applies the function element by element in the input's precision; Clip keeps NaN, integer Abs and Neg wrap
    /// `Int64.min` to itself.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let i = ctx.slots[x], o = ctx.slots[out]
        o.kind = i.kind
        o.setShape(i.shape)
        var lo = minValue, hi = maxValue
        var loI = Int64.min, hiI = Int64.max
        if minInput >= 0 {
            let s = ctx.slots[minInput]
            if s.kind == .float, let v = s.f.first { lo = v }
            if s.kind == .double, let v = s.d.first { lo = Float(v) }
            if s.kind == .int64, let v = s.i.first { loI = v; lo = Float(v) }
        }
        if maxInput >= 0 {
            let s = ctx.slots[maxInput]
            if s.kind == .float, let v = s.f.first { hi = v }
            if s.kind == .double, let v = s.d.first { hi = Float(v) }
            if s.kind == .int64, let v = s.i.first { hiI = v; hi = Float(v) }
        }
        switch i.kind {
        case .float:
            let n = i.f.count
            o.resizeF(n)
            let op = self.op
            i.f.withUnsafeBufferPointer { src in
                o.f.withUnsafeMutableBufferPointer { dst in
                    guard n > 0 else { return }
                    let x = src.baseAddress!, y = dst.baseAddress!
                    switch op {
                    case .relu: for k in 0..<n { y[k] = Swift.max(x[k], 0) }
                    case .sigmoid: for k in 0..<n { y[k] = UnaryKernel.sigmoid(x[k]) }
                    case .tanh: for k in 0..<n { y[k] = tanhf(x[k]) }
                    case .abs: for k in 0..<n { y[k] = Swift.abs(x[k]) }
                    case .exp: for k in 0..<n { y[k] = expf(x[k]) }
                    case .log: for k in 0..<n { y[k] = logf(x[k]) }
                    case .sqrt: for k in 0..<n { y[k] = x[k].squareRoot() }
                    case .neg: for k in 0..<n { y[k] = -x[k] }
                    case .reciprocal: for k in 0..<n { y[k] = 1 / x[k] }
                    case .clip: for k in 0..<n { y[k] = x[k].isNaN ? x[k] : Swift.min(Swift.max(x[k], lo), hi) }
                    }
                }
            }
        case .double:
            o.d.removeAll(keepingCapacity: true)
            let dlo =
                minInput >= 0 && ctx.slots[minInput].kind == .double
                ? ctx.slots[minInput].d.first ?? -.infinity : Double(lo)
            let dhi =
                maxInput >= 0 && ctx.slots[maxInput].kind == .double
                ? ctx.slots[maxInput].d.first ?? .infinity : Double(hi)
            switch op {
            case .relu: for v in i.d { o.d.append(Swift.max(v, 0)) }
            case .sigmoid: for v in i.d { o.d.append(1 / (1 + Glibc.exp(-v))) }
            case .tanh: for v in i.d { o.d.append(Glibc.tanh(v)) }
            case .abs: for v in i.d { o.d.append(Swift.abs(v)) }
            case .exp: for v in i.d { o.d.append(Glibc.exp(v)) }
            case .log: for v in i.d { o.d.append(Glibc.log(v)) }
            case .sqrt: for v in i.d { o.d.append(v.squareRoot()) }
            case .neg: for v in i.d { o.d.append(-v) }
            case .reciprocal: for v in i.d { o.d.append(1 / v) }
            case .clip: for v in i.d { o.d.append(v.isNaN ? v : Swift.min(Swift.max(v, dlo), dhi)) }
            }
        default:
            o.i.removeAll(keepingCapacity: true)
            switch op {
            case .relu: for v in i.i { o.i.append(Swift.max(v, 0)) }
            case .abs: for v in i.i { o.i.append(v == .min ? v : Swift.abs(v)) }
            // Two's-complement wrap like onnxruntime: -Int64.min stays Int64.min.
            case .neg: for v in i.i { o.i.append(0 &- v) }
            default:
                if minInput < 0, lo.isFinite { loI = Self.int64Bound(lo) }
                if maxInput < 0, hi.isFinite { hiI = Self.int64Bound(hi) }
                for v in i.i { o.i.append(Swift.min(Swift.max(v, loI), hiI)) }
            }
        }
    }

    /// A finite float Clip bound (an attribute of Clip before opset 11) as an int64 bound: truncated toward zero,
    /// and saturated to `Int64.min`/`Int64.max` beyond their range, where `Int64(_:)` would trap. The attributes'
    /// defaults, ±`Float.greatestFiniteMagnitude`, are such values: they mean "no bound".
    static func int64Bound(_ bound: Float) -> Int64 {
        if bound >= 9_223_372_036_854_775_808 { return .max }  // 2^63, the first float above Int64.max
        if bound < -9_223_372_036_854_775_808 { return .min }
        return Int64(bound)
    }

    /// onnxruntime's float sigmoid: 1 / (1 + e^-x), computed for |x| to stay stable.
    @inline(__always) static func sigmoid(_ v: Float) -> Float {
        if v >= 0 { return 1 / (1 + expf(-v)) }
        let e = expf(v)
        return e / (1 + e)
    }
}
