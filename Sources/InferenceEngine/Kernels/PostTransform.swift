#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `post_transform` of the ai.onnx.ml classifiers and regressors, in onnxruntime's float32 arithmetic.
enum PostTransform: Sendable, Equatable {
    /// `NONE`, `LOGISTIC`, `SOFTMAX`, `SOFTMAX_ZERO` (entries near 0 are not exponentiated) and `PROBIT`.
    case none, logistic, softmax, softmaxZero, probit

    /// The transform named by an ONNX `post_transform` string; nil for an unknown name.
    init?(_ name: String) {
        switch name {
        case "NONE": self = .none
        case "LOGISTIC": self = .logistic
        case "SOFTMAX": self = .softmax
        case "SOFTMAX_ZERO": self = .softmaxZero
        case "PROBIT": self = .probit
        default: return nil
        }
    }

    /// Reads the node's `post_transform` attribute (`NONE` by default).
    ///
    /// - Throws: ``EngineError`` naming the node for an unsupported transform.
    static func parse(_ nb: NodeBuilder) throws(EngineError) -> PostTransform {
        let name = try nb.string("post_transform", default: "NONE")
        guard let t = PostTransform(name) else { throw nb.fail("post_transform \(name) is not supported") }
        return t
    }

    /// Applies the transform to one row of scores (two or more entries).
    @inline(__always)
    func apply(_ row: UnsafeMutablePointer<Float>, _ n: Int) {
        switch self {
        case .none: break
        case .logistic: for k in 0..<n { row[k] = PostTransform.logistic(row[k]) }
        case .probit: for k in 0..<n { row[k] = PostTransform.probit(row[k]) }
        case .softmax:
            var m = -Float.greatestFiniteMagnitude
            for k in 0..<n where row[k] > m { m = row[k] }
            var sum: Float = 0
            for k in 0..<n {
                row[k] = expf(row[k] - m)
                sum += row[k]
            }
            for k in 0..<n { row[k] /= sum }
        case .softmaxZero:
            var m = -Float.greatestFiniteMagnitude
            for k in 0..<n where row[k] > m { m = row[k] }
            let expNegMax = expf(-m)
            var sum: Float = 0
            for k in 0..<n {
                let v = row[k]
                if v > 0.0000001 || v < -0.0000001 {
                    row[k] = expf(v - m)
                    sum += row[k]
                } else {
                    row[k] = v * expNegMax
                }
            }
            for k in 0..<n { row[k] /= sum }
        }
    }

    /// `1 / (1 + e^-v)`, computed on `|v|` and mirrored for negative `v`, as onnxruntime does, so that large magnitudes
    /// do not overflow.
    @inline(__always) static func logistic(_ v: Float) -> Float {
        let e = 1 / (1 + expf(-Swift.abs(v)))
        return v < 0 ? 1 - e : e
    }

    /// sqrt(2) · erfinv(2v − 1) with onnxruntime's erfinv approximation.
    @inline(__always) static func probit(_ v: Float) -> Float {
        Float(2).squareRoot() * erfInv(2 * v - 1)
    }

    /// The inverse error function by the closed-form approximation with `a = 0.147`, step for step as onnxruntime's
    /// `ErfInv` computes it in `Float` (so PROBIT outputs match its bits): `sgn(x) · sqrt(sqrt(t² − ln(1 − x²)/a) − t)`
    /// with `t = 2/(πa) + ln(1 − x²)/2`. NaN outside (−1, 1), as there.
    static func erfInv(_ x0: Float) -> Float {
        let sgn: Float = x0 < 0 ? -1 : 1
        let x = (1 - x0) * (1 + x0)
        let lg = logf(x)
        let v = 2 / (Float.pi * 0.147) + 0.5 * lg
        let v2 = 1 / 0.147 * lg
        let v3 = -v + (v * v - v2).squareRoot()
        return sgn * v3.squareRoot()
    }
}
