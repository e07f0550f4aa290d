/// Storage for one value of the graph inside an execution context.
///
/// Buffers keep their capacity between calls, so a context that is reused for batches of similar size stops
/// allocating after its first call.
///
/// Only the buffer that ``kind`` selects is meaningful; a kernel sets the kind, the shape and that buffer of each of
/// its outputs on every run.
final class Slot {
    /// Which buffer holds the values: `f` for float and ZipMap scores, `d` for double, `i` for int64 and bool, `s` for
    /// string. Only that buffer is meaningful.
    var kind: ElementKind
    /// Run-time dimensions; the element count is their product.
    var shape: [Int] = []
    /// Float values (`.float`, and the rows × classes block of `.mapSequence`), row-major.
    var f: [Float] = []
    /// Double values (`.double`), row-major.
    var d: [Double] = []
    /// Integer and boolean values (`.int64`, `.bool`; bools are 0 or 1), row-major.
    var i: [Int64] = []
    /// String values (`.string`), row-major.
    var s: [String] = []
    /// For `.mapSequence`: the ZipMap keys (int64 or string).
    var mapKeys: ZipMapKeys? = nil
    /// For string label outputs written by a classifier kernel: the class index of each row (valid when
    /// `hasLabelIndex`).
    var labelIndex: [Int32] = []
    /// Whether `labelIndex` holds a class index for each row of `s`; lets ``CompiledModel`` map string labels to
    /// classes without hashing strings.
    var hasLabelIndex = false

    /// An empty slot of `kind`; shapes and buffers are set when a value is written.
    init(kind: ElementKind) {
        self.kind = kind
    }

    /// Number of elements (product of the shape).
    var count: Int {
        var n = 1
        for d in shape { n &*= d }
        return n
    }

    /// Rows = first dimension (1 for a scalar or a 1-D value treated as one row by classic-ML ops).
    var rows: Int { shape.isEmpty ? 1 : shape[0] }

    /// Size of the last dimension (1 for a scalar).
    var lastDim: Int { shape.last ?? 1 }

    /// Sets a rank-1 shape, reusing the shape array's storage.
    func setShape(_ a: Int) {
        shape.removeAll(keepingCapacity: true)
        shape.append(a)
    }

    /// Sets a rank-2 shape `[a, b]`, reusing the shape array's storage.
    func setShape(_ a: Int, _ b: Int) {
        shape.removeAll(keepingCapacity: true)
        shape.append(a)
        shape.append(b)
    }

    /// Sets any shape, reusing the shape array's storage.
    func setShape(_ dims: [Int]) {
        shape.removeAll(keepingCapacity: true)
        shape.append(contentsOf: dims)
    }

    /// Resizes the float buffer to `n` elements without shrinking capacity (contents unspecified).
    @inline(__always) func resizeF(_ n: Int) {
        if f.count > n {
            f.removeLast(f.count - n)
        } else if f.count < n {
            f.append(contentsOf: repeatElement(0, count: n - f.count))
        }
    }

    /// Resizes the double buffer to `n` elements without shrinking capacity (contents unspecified).
    @inline(__always) func resizeD(_ n: Int) {
        if d.count > n {
            d.removeLast(d.count - n)
        } else if d.count < n {
            d.append(contentsOf: repeatElement(0, count: n - d.count))
        }
    }

    /// Resizes the int64 buffer to `n` elements without shrinking capacity (contents unspecified).
    @inline(__always) func resizeI(_ n: Int) {
        if i.count > n {
            i.removeLast(i.count - n)
        } else if i.count < n {
            i.append(contentsOf: repeatElement(0, count: n - i.count))
        }
    }

    /// Resizes the string buffer to `n` elements without shrinking capacity (new elements are empty).
    func resizeS(_ n: Int) {
        if s.count > n {
            s.removeLast(s.count - n)
        } else if s.count < n {
            s.append(contentsOf: repeatElement("", count: n - s.count))
        }
    }

    /// Copies kind, shape and contents of another slot.
    ///
    /// Used by kernels that pass a value through unchanged (Identity and the reshapes, Softmax before normalising, a
    /// Reduce with `noop_with_empty_axes` and no axes); the receiving buffers keep their capacity.
    func copy(from o: Slot) {
        kind = o.kind
        setShape(o.shape)
        switch o.kind {
        case .float, .mapSequence:
            f.removeAll(keepingCapacity: true)
            f.append(contentsOf: o.f)
            mapKeys = o.mapKeys
        case .double:
            d.removeAll(keepingCapacity: true)
            d.append(contentsOf: o.d)
        case .int64, .bool:
            i.removeAll(keepingCapacity: true)
            i.append(contentsOf: o.i)
        case .string:
            s.removeAll(keepingCapacity: true)
            s.append(contentsOf: o.s)
            hasLabelIndex = o.hasLabelIndex
            if o.hasLabelIndex {
                labelIndex.removeAll(keepingCapacity: true)
                labelIndex.append(contentsOf: o.labelIndex)
            }
        }
    }

    /// The values converted to Float into `out` (resized to count).
    ///
    /// A string slot gives an empty result.
    func floats(into out: inout [Float]) {
        out.removeAll(keepingCapacity: true)
        switch kind {
        case .float, .mapSequence: out.append(contentsOf: f)
        case .double: for v in d { out.append(Float(v)) }
        case .int64, .bool: for v in i { out.append(Float(v)) }
        case .string: break
        }
    }
}

/// Keys of a ZipMap output.
public enum ZipMapKeys: Sendable, Equatable {
    /// Integer class labels (`classlabels_int64s`).
    case int64([Int64])
    /// String class labels (`classlabels_strings`).
    case string([String])

    /// Number of keys, which is the number of score columns per row.
    public var count: Int {
        switch self {
        case .int64(let k): return k.count
        case .string(let k): return k.count
        }
    }
}
