/// Numpy-style broadcasting helpers for the elementwise kernels.
enum Broadcast {
    /// The broadcast shape of two shapes, or nil when they are incompatible.
    static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for k in 0..<rank {
            let da = k < rank - a.count ? 1 : a[k - (rank - a.count)]
            let db = k < rank - b.count ? 1 : b[k - (rank - b.count)]
            if da == db || db == 1 { out[k] = da } else if da == 1 { out[k] = db } else { return nil }
        }
        return out
    }

    /// Compile-time version with unknown dimensions.
    static func staticShape(_ a: [Int?]?, _ b: [Int?]?) -> [Int?]? {
        guard let a, let b else { return nil }
        let rank = max(a.count, b.count)
        var out = [Int?](repeating: 1, count: rank)
        for k in 0..<rank {
            let da: Int? = k < rank - a.count ? 1 : a[k - (rank - a.count)]
            let db: Int? = k < rank - b.count ? 1 : b[k - (rank - b.count)]
            if da == 1 { out[k] = db } else if db == 1 { out[k] = da } else if da == db { out[k] = da } else { out[k] = nil }
        }
        return out
    }

    /// Strides of `shape` aligned to an output of rank `rank`, with 0 on broadcast dimensions.
    static func strides(_ shape: [Int], rank: Int, outShape: [Int]) -> [Int] {
        var strides = [Int](repeating: 0, count: rank)
        var s = 1
        for k in stride(from: shape.count - 1, through: 0, by: -1) {
            let o = k + rank - shape.count
            strides[o] = (shape[k] == 1 && outShape[o] != 1) ? 0 : s
            s *= shape[k]
        }
        return strides
    }

    /// Calls `body(outIndex, aIndex, bIndex)` for every output element.
    @inline(__always)
    static func forEach(
        out: [Int], a: [Int], b: [Int], _ body: (Int, Int, Int) -> Void
    ) {
        let rank = out.count
        let total = out.reduce(1, *)
        if total == 0 { return }
        let sa = strides(a, rank: rank, outShape: out)
        let sb = strides(b, rank: rank, outShape: out)
        var idx = [Int](repeating: 0, count: rank)
        var ia = 0
        var ib = 0
        for o in 0..<total {
            body(o, ia, ib)
            var k = rank - 1
            while k >= 0 {
                idx[k] += 1
                ia += sa[k]
                ib += sb[k]
                if idx[k] < out[k] { break }
                ia -= sa[k] * idx[k]
                ib -= sb[k] * idx[k]
                idx[k] = 0
                k -= 1
            }
        }
    }

    /// Binary op over two buffers with broadcasting; fast paths for equal shapes, a scalar, and a trailing
    /// vector (row broadcast). `out` is resized in place (no allocation once it has the capacity).
    @inline(__always)
    static func binary<T, R>(
        _ a: [T], _ ashape: [Int], _ b: [T], _ bshape: [Int], out: inout [R], outShape: [Int], _ op: (T, T) -> R
    ) {
        var n = 1
        for d in outShape { n &*= d }
        if a.isEmpty || b.isEmpty || n == 0 {
            out.removeAll(keepingCapacity: true)
            return
        }
        if out.count > n { out.removeLast(out.count - n) } else if out.count < n {
            out.reserveCapacity(n)
            let fill = a.count == 0 ? nil : Optional(op(a[0], b[0]))
            out.append(contentsOf: repeatElement(fill!, count: n - out.count))
        }
        let general = !(a.count == n && b.count == n && ashape == bshape) && !(b.count == 1 && a.count == n)
            && !(a.count == 1 && b.count == n)
            && !(a.count == n && n % b.count == 0 && isTrailing(bshape, of: outShape))
            && !(b.count == n && n % a.count == 0 && isTrailing(ashape, of: outShape))
        if general {
            var k = 0
            out.withUnsafeMutableBufferPointer { o in
                forEach(out: outShape, a: ashape, b: bshape) { _, ia, ib in
                    o[k] = op(a[ia], b[ib])
                    k += 1
                }
            }
            return
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { po in
                    let x = pa.baseAddress!, y = pb.baseAddress!, o = po.baseAddress!
                    if pa.count == n && pb.count == n {
                        for k in 0..<n { o[k] = op(x[k], y[k]) }
                    } else if pb.count == 1 && pa.count == n {
                        let v = y[0]
                        for k in 0..<n { o[k] = op(x[k], v) }
                    } else if pa.count == 1 && pb.count == n {
                        let v = x[0]
                        for k in 0..<n { o[k] = op(v, y[k]) }
                    } else if pa.count == n {
                        let m = pb.count
                        var k = 0
                        while k < n {
                            for j in 0..<m { o[k + j] = op(x[k + j], y[j]) }
                            k += m
                        }
                    } else {
                        let m = pa.count
                        var k = 0
                        while k < n {
                            for j in 0..<m { o[k + j] = op(x[j], y[k + j]) }
                            k += m
                        }
                    }
                }
            }
        }
    }

    /// True when `shape` (leading 1s ignored) equals the trailing dimensions of `outShape`.
    static func isTrailing(_ shape: [Int], of outShape: [Int]) -> Bool {
        var start = 0
        while start < shape.count - 1 && shape[start] == 1 { start += 1 }
        let len = shape.count - start
        guard len <= outShape.count else { return false }
        let base = outShape.count - len
        for k in 0..<len where shape[start + k] != outShape[base + k] { return false }
        return true
    }

    /// Writes the broadcast shape of `a` and `b` into `out` (no allocation once `out` has the capacity).
    /// Returns false when the shapes are incompatible.
    static func shape(into out: inout [Int], _ a: [Int], _ b: [Int]) -> Bool {
        let rank = max(a.count, b.count)
        out.removeAll(keepingCapacity: true)
        for k in 0..<rank {
            let da = k < rank - a.count ? 1 : a[k - (rank - a.count)]
            let db = k < rank - b.count ? 1 : b[k - (rank - b.count)]
            if da == db || db == 1 { out.append(da) } else if da == 1 { out.append(db) } else { return false }
        }
        return true
    }
}
