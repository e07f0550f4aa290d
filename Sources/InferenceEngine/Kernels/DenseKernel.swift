import ONNXFormat

/// MatMul followed by a bias Add and optionally Relu, fused at compile time (the layers of an MLP). The float
/// operations are the same as the three separate kernels — the dot product, then `+ bias`, then `max(·, 0)` —
/// so results are identical; the intermediate tensors are simply never written.
struct DenseKernel: Kernel {
    /// Name of the MatMul node, for error messages.
    let name: String
    /// Slots of the input [N, k], of the constant weights [k, m] and of the output [N, m] (the Relu's or the Add's
    /// output).
    let x: Int, weights: Int, out: Int
    /// The Add's constant bias, `m` values.
    let bias: [Float]
    /// Whether a following Relu was fused in.
    let relu: Bool

    /// Computes `x · weights + bias` (and Relu) into the output in one pass.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` when the input is not 2-D or its width does not match the weights.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let xs = ctx.slots[x], w = ctx.slots[weights], o = ctx.slots[out]
        guard xs.shape.count == 2, w.shape.count == 2, xs.shape[1] == w.shape[0], w.shape[1] == bias.count else {
            throw EngineError.eval(name, "MatMul of shapes \(xs.shape) and \(w.shape) is not supported")
        }
        let n = xs.shape[0], k = xs.shape[1], m = w.shape[1]
        o.kind = .float
        o.setShape(n, m)
        o.resizeF(n * m)
        gemm(xs.f, w.f, &o.f, n: n, k: k, m: m, bias: bias, relu: relu)
    }
}

/// Placeholder left where a fused node used to run.
struct FusedAwayKernel: Kernel {
    /// Does nothing: the fused kernel before it writes this node's output.
    func run(_ ctx: ExecutionContext) throws(EngineError) {}
}

/// Compile-time kernel fusions over the plan, applied by ``Compiler`` before the serving plan is bound.
enum Fusion {
    /// Rewrites MatMul → Add(bias) [→ Relu] chains in place. `consumers` counts node inputs per slot; protected
    /// slots (graph outputs) are never fused away. Indices stay aligned with the original plan.
    static func fuseDense(
        _ plan: inout [any Kernel], consumers: [Int: Int], protected: Set<Int>, constants: [Int: ONNXTensor]
    ) {
        var i = 0
        while i + 1 < plan.count {
            defer { i += 1 }
            guard let mm = plan[i] as? MatMulKernel, let wc = constants[mm.b], wc.dims.count == 2,
                case .float = wc.storage, consumers[mm.out] == 1, !protected.contains(mm.out),
                let add = plan[i + 1] as? BinaryArithmeticKernel, add.op == .add
            else { continue }
            let m = wc.dims[1]
            let biasSlot = add.a == mm.out ? add.b : (add.b == mm.out ? add.a : -1)
            guard biasSlot >= 0, let bc = constants[biasSlot], case .float(let bias) = bc.storage, bias.count == m,
                bc.dims == [m] || bc.dims == [1, m]
            else { continue }
            var out = add.out
            var relu = false
            if i + 2 < plan.count, let r = plan[i + 2] as? UnaryKernel, r.op == .relu, r.x == add.out,
                consumers[add.out] == 1, !protected.contains(add.out)
            {
                out = r.out
                relu = true
                plan[i + 2] = FusedAwayKernel()
            }
            plan[i] = DenseKernel(name: mm.name, x: mm.a, weights: mm.b, out: out, bias: bias, relu: relu)
            plan[i + 1] = FusedAwayKernel()
        }
    }
}
