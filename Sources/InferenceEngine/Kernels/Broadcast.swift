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
    /// vector (row broadcast).
    @inline(__always)
    static func binary<T, R>(
        _ a: [T], _ ashape: [Int], _ b: [T], _ bshape: [Int], out: inout [R], outShape: [Int], _ op: (T, T) -> R
    ) {
        let n = outShape.reduce(1, *)
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(n)
        if a.count == n && b.count == n && ashape == bshape {
            for k in 0..<n { out.append(op(a[k], b[k])) }
        } else if b.count == 1 && a.count == n {
            let y = b[0]
            for k in 0..<n { out.append(op(a[k], y)) }
        } else if a.count == 1 && b.count == n {
            let x = a[0]
            for k in 0..<n { out.append(op(x, b[k])) }
        } else if a.count == n && b.count > 0 && n % b.count == 0 && isTrailing(bshape, of: outShape) {
            let m = b.count
            var k = 0
            while k < n {
                for j in 0..<m { out.append(op(a[k + j], b[j])) }
                k += m
            }
        } else if b.count == n && a.count > 0 && n % a.count == 0 && isTrailing(ashape, of: outShape) {
            let m = a.count
            var k = 0
            while k < n {
                for j in 0..<m { out.append(op(a[j], b[k + j])) }
                k += m
            }
        } else {
            forEach(out: outShape, a: ashape, b: bshape) { _, ia, ib in out.append(op(a[ia], b[ib])) }
        }
    }

    /// True when `shape` (leading 1s ignored) equals the trailing dimensions of `outShape`.
    static func isTrailing(_ shape: [Int], of outShape: [Int]) -> Bool {
        var s = shape[...]
        while let f = s.first, f == 1, s.count > 1 { s = s.dropFirst() }
        guard s.count <= outShape.count else { return false }
        return Array(s) == Array(outShape.suffix(s.count))
    }
}
