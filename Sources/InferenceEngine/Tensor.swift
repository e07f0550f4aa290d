/// A named value going into or coming out of the general execution path (`CompiledModel.run`).
public struct Tensor: Sendable, Equatable {
    /// The elements of a tensor, row-major, in one typed array.
    ///
    /// Feeding converts between numeric cases (see `Slot.load(_:name:)`): float and double inputs accept `.float`,
    /// `.double` and `.int64`; int64 inputs accept the same when the values are whole numbers; bool inputs accept
    /// `.bool` and `.int64`; string inputs only `.string`.
    public enum Values: Sendable, Equatable {
        case float([Float])
        case double([Double])
        case int64([Int64])
        case bool([Bool])
        case string([String])
        /// A ZipMap output: one map per row, keys shared by every row, `values` row-major rows × keys.count.
        case maps(keys: ZipMapKeys, values: [Float])
    }

    /// Dimensions; `[]` is a scalar. The values' count must equal ``elementCount`` when fed to a model.
    public var shape: [Int]
    /// The elements, row-major.
    public var values: Values

    /// A tensor of the given shape; the count of `values` is checked only when it is fed to a model.
    public init(shape: [Int], values: Values) {
        self.shape = shape
        self.values = values
    }

    /// A float tensor.
    public static func float(_ v: [Float], shape: [Int]) -> Tensor { Tensor(shape: shape, values: .float(v)) }
    /// An int64 tensor.
    public static func int64(_ v: [Int64], shape: [Int]) -> Tensor { Tensor(shape: shape, values: .int64(v)) }
    /// A string tensor.
    public static func string(_ v: [String], shape: [Int]) -> Tensor { Tensor(shape: shape, values: .string(v)) }

    /// Number of elements the shape describes.
    public var elementCount: Int { shape.reduce(1, *) }

    /// Number of stored values.
    public var storedCount: Int {
        switch values {
        case .float(let v): return v.count
        case .double(let v): return v.count
        case .int64(let v): return v.count
        case .bool(let v): return v.count
        case .string(let v): return v.count
        case .maps(_, let v): return v.count
        }
    }
}

/// Conversions between a slot and the public ``Tensor`` for the general ``CompiledModel/run(_:context:)`` path.
extension Slot {
    /// Snapshot of the slot as a public tensor.
    ///
    /// The arrays are shared copy-on-write, so the tensor stays valid after the context runs again.
    func tensor() -> Tensor {
        switch kind {
        case .float: return Tensor(shape: shape, values: .float(f))
        case .double: return Tensor(shape: shape, values: .double(d))
        case .int64: return Tensor(shape: shape, values: .int64(i))
        case .bool: return Tensor(shape: shape, values: .bool(i.map { $0 != 0 }))
        case .string: return Tensor(shape: shape, values: .string(s))
        case .mapSequence: return Tensor(shape: shape, values: .maps(keys: mapKeys ?? .int64([]), values: f))
        }
    }

    /// Loads a public tensor into the slot, converting to the slot's kind.
    ///
    /// Float, double and int64 values convert into each other; a float or double fed to an int64 input must be a finite
    /// integer. Booleans load as 0/1.
    ///
    /// - Throws: ``EngineError`` with `.invalidInput` (naming the input `name`) when the value count does not match the
    ///   shape, a value is not an integer for an integer input, or the types cannot be converted.
    func load(_ t: Tensor, name: String) throws(EngineError) {
        guard t.storedCount == t.elementCount else {
            throw EngineError.input(
                "input \"\(name)\": shape \(t.shape) needs \(t.elementCount) values, got \(t.storedCount)")
        }
        setShape(t.shape)
        switch (kind, t.values) {
        case (.float, .float(let v)):
            f.removeAll(keepingCapacity: true)
            f.append(contentsOf: v)
        case (.float, .double(let v)):
            f.removeAll(keepingCapacity: true)
            for x in v { f.append(Float(x)) }
        case (.float, .int64(let v)):
            f.removeAll(keepingCapacity: true)
            for x in v { f.append(Float(x)) }
        case (.double, .double(let v)):
            d.removeAll(keepingCapacity: true)
            d.append(contentsOf: v)
        case (.double, .float(let v)):
            d.removeAll(keepingCapacity: true)
            for x in v { d.append(Double(x)) }
        case (.double, .int64(let v)):
            d.removeAll(keepingCapacity: true)
            for x in v { d.append(Double(x)) }
        case (.int64, .int64(let v)), (.bool, .int64(let v)):
            i.removeAll(keepingCapacity: true)
            i.append(contentsOf: v)
        case (.bool, .bool(let v)):
            i.removeAll(keepingCapacity: true)
            for x in v { i.append(x ? 1 : 0) }
        case (.int64, .float(let v)):
            i.removeAll(keepingCapacity: true)
            for x in v {
                guard x.isFinite, x == x.rounded(.towardZero), abs(x) < 9e18 else {
                    throw EngineError.input("input \"\(name)\" is int64; \(x) is not an integer")
                }
                i.append(Int64(x))
            }
        case (.int64, .double(let v)):
            i.removeAll(keepingCapacity: true)
            for x in v {
                guard x.isFinite, x == x.rounded(.towardZero), abs(x) < 9e18 else {
                    throw EngineError.input("input \"\(name)\" is int64; \(x) is not an integer")
                }
                i.append(Int64(x))
            }
        case (.string, .string(let v)):
            s.removeAll(keepingCapacity: true)
            s.append(contentsOf: v)
        default:
            throw EngineError.input("input \"\(name)\" expects \(kind) values")
        }
    }
}
