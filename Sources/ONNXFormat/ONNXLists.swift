/// A list-of-ints attribute (`AttributeProto.ints`), stored as 32-bit integers when every value fits.
///
/// A tree ensemble's node attributes (`nodes_treeids`, `nodes_nodeids`, `nodes_featureids`, the child ids, the
/// leaf weights' ids) are one int64 per node and hold small numbers. Kept as `[Int64]` they made the parsed model
/// bigger than its file (eight arrays of 70,628 values: 4.5 MB for a 2.7 MB forest), and the parsed model is alive
/// while the forest compiles, so it set the load's peak memory. Narrow storage halves that; reading an element
/// gives the same `Int64` either way.
public struct ONNXIntList: RandomAccessCollection, Sendable, Equatable, ExpressibleByArrayLiteral {
    private enum Storage: Sendable {
        case narrow([Int32])
        case wide([Int64])
    }

    private var storage: Storage

    /// The values, narrowed to 32 bits when they all fit.
    public init(_ values: [Int64]) {
        if values.allSatisfy({ Int64(Int32(truncatingIfNeeded: $0)) == $0 }) {
            storage = .narrow(values.map { Int32(truncatingIfNeeded: $0) })
        } else {
            storage = .wide(values)
        }
    }

    public init(arrayLiteral elements: Int64...) { self.init(elements) }

    /// An empty list with room for `capacity` values (all assumed to fit in 32 bits until one does not).
    init(reservingCapacity capacity: Int) {
        var values: [Int32] = []
        values.reserveCapacity(capacity)
        storage = .narrow(values)
    }

    /// Appends `value`, widening the storage the first time a value does not fit in 32 bits.
    mutating func append(_ value: Int64) {
        switch storage {
        case .narrow(var values):
            let narrow = Int32(truncatingIfNeeded: value)
            storage = .wide([])  // drop the reference so `values` is uniquely owned while it grows
            if Int64(narrow) == value {
                values.append(narrow)
                storage = .narrow(values)
            } else {
                var wide = [Int64]()
                wide.reserveCapacity(values.capacity)
                for v in values { wide.append(Int64(v)) }
                wide.append(value)
                storage = .wide(wide)
            }
        case .wide(var values):
            storage = .narrow([])
            values.append(value)
            storage = .wide(values)
        }
    }

    public var startIndex: Int { 0 }

    public var endIndex: Int {
        switch storage {
        case .narrow(let v): return v.count
        case .wide(let v): return v.count
        }
    }

    public subscript(position: Int) -> Int64 {
        switch storage {
        case .narrow(let v): return Int64(v[position])
        case .wide(let v): return v[position]
        }
    }

    /// Bytes the values occupy (4 per value when narrow, 8 when wide), for memory accounting and tests.
    public var storageBytes: Int {
        switch storage {
        case .narrow(let v): return v.count * 4
        case .wide(let v): return v.count * 8
        }
    }

    public static func == (a: ONNXIntList, b: ONNXIntList) -> Bool { a.elementsEqual(b) }
}

/// A list-of-strings attribute (`AttributeProto.strings`), stored as a table of the distinct strings and one
/// 32-bit code per element.
///
/// `nodes_modes` repeats a handful of words (`BRANCH_LEQ`, `LEAF`) once per node: 16 bytes per element as
/// `[String]`, 4 bytes here plus the few distinct strings. Reading an element gives the same `String`.
public struct ONNXStringList: RandomAccessCollection, Sendable, Equatable, ExpressibleByArrayLiteral {
    /// The distinct strings, in order of first appearance.
    public private(set) var table: [String] = []
    /// Per element, its index in `table`.
    public private(set) var codes: [Int32] = []
    /// Finds a string's code once the table outgrows a linear scan.
    private var lookup: [String: Int32] = [:]

    public init(_ values: [String]) {
        codes.reserveCapacity(values.count)
        for v in values { append(v) }
    }

    public init(arrayLiteral elements: String...) { self.init(elements) }

    /// An empty list with room for `capacity` elements.
    init(reservingCapacity capacity: Int) { codes.reserveCapacity(capacity) }

    /// Appends `value`, adding it to the table if it is new.
    mutating func append(_ value: String) {
        if table.count <= 8 {
            if let k = table.firstIndex(of: value) {
                codes.append(Int32(k))
                return
            }
        } else if let k = lookup[value] {
            codes.append(k)
            return
        }
        let code = Int32(table.count)
        table.append(value)
        if table.count > 8 {
            if lookup.isEmpty {
                for (k, s) in table.enumerated() { lookup[s] = Int32(k) }
            } else {
                lookup[value] = code
            }
        }
        codes.append(code)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { codes.count }
    public subscript(position: Int) -> String { table[Int(codes[position])] }

    public static func == (a: ONNXStringList, b: ONNXStringList) -> Bool { a.elementsEqual(b) }
}
