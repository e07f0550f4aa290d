import ONNXFormat

/// Scaler: y = (x − offset[j]) · scale[j] in float32 (offset/scale of length 1 broadcast).
///
/// The output is float whatever the input (float, double or int64); columns are along the last dimension.
struct ScalerKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the input and of the float output (same shape).
    let x: Int, out: Int
    /// Per-column `offset` and `scale` (one value applies to every column); default `[0]` and `[1]`.
    let offset: [Float], scale: [Float]

    /// Checks that `offset` and `scale` have one value or one per input column.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...1)
        try nb.requireOutputs(1)
        _ = try nb.inputKind(0, allowed: [.float, .double, .int64])
        let offset = try nb.floats("offset") ?? [0]
        let scale = try nb.floats("scale") ?? [1]
        let t = try nb.input(0)
        guard !offset.isEmpty, !scale.isEmpty else { throw nb.fail("offset and scale must not be empty") }
        if let c = t.lastDim {
            for (n, v) in [("offset", offset), ("scale", scale)] where v.count != 1 && v.count != c {
                throw nb.fail("\(n) has \(v.count) values for \(c) input columns")
            }
        }
        nb.setOutput(0, ValueType(.float, shape: t.shape, onnxType: .float))
        return ScalerKernel(name: nb.node.name, x: nb.inputs[0], out: nb.outputs[0], offset: offset, scale: scale)
    }

    /// Scales every element into a float output.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` when the run-time column count does not match the parameters.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let i = ctx.slots[x], o = ctx.slots[out]
        let c = i.lastDim
        guard (offset.count == 1 || offset.count == c) && (scale.count == 1 || scale.count == c) else {
            throw EngineError.eval(name, "input has \(c) columns, the scaler has \(max(offset.count, scale.count))")
        }
        o.kind = .float
        o.setShape(i.shape)
        if i.kind != .float { i.floats(into: &ctx.scratch) }
        let n = i.count
        o.resizeF(n)
        let src = i.kind == .float ? i.f : ctx.scratch
        src.withUnsafeBufferPointer { sp in
            o.f.withUnsafeMutableBufferPointer { op in
                offset.withUnsafeBufferPointer { off in
                    scale.withUnsafeBufferPointer { sc in
                        let perColumn = off.count > 1 || sc.count > 1
                        if !perColumn {
                            for k in 0..<n { op[k] = (sp[k] - off[0]) * sc[0] }
                            return
                        }
                        var k = 0
                        while k < n {
                            for j in 0..<c {
                                op[k + j] = (sp[k + j] - off[off.count == 1 ? 0 : j]) * sc[sc.count == 1 ? 0 : j]
                            }
                            k += c
                        }
                    }
                }
            }
        }
    }
}

/// Normalizer: per row MAX, L1 or L2 norm (float output), as onnxruntime computes it.
struct NormalizerKernel: Kernel {
    /// The `norm` attribute: divide each row by its largest value, by the sum of absolute values, or by the L2 norm
    /// (a row whose divisor is 0 is left as it is).
    enum Norm: Sendable { case max, l1, l2 }
    /// Node name, for error messages.
    let name: String
    /// Slots of the input and of the float output (same shape; rows are along the last axis).
    let x: Int, out: Int
    /// The norm each row is divided by.
    let norm: Norm

    /// Reads `norm` (`MAX` by default); any other value than MAX, L1 and L2 is refused.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...1)
        try nb.requireOutputs(1)
        _ = try nb.inputKind(0, allowed: [.float, .double, .int64])
        let n = try nb.string("norm", default: "MAX")
        let norm: Norm
        switch n {
        case "MAX": norm = .max
        case "L1": norm = .l1
        case "L2": norm = .l2
        default: throw nb.fail("norm \(n) is not supported (MAX, L1, L2)")
        }
        nb.setOutput(0, ValueType(.float, shape: try nb.input(0).shape, onnxType: .float))
        return NormalizerKernel(name: nb.node.name, x: nb.inputs[0], out: nb.outputs[0], norm: norm)
    }

    /// Copies the input as floats and normalises each row (the last axis) in place.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let i = ctx.slots[x], o = ctx.slots[out]
        o.kind = .float
        o.setShape(i.shape)
        i.floats(into: &o.f)
        let c = i.lastDim
        guard c > 0 else { return }
        let norm = self.norm
        if norm == .l1 {
            // The common case (class probabilities after a LOGISTIC classifier): its own loop, no switch per row.
            o.f.withUnsafeMutableBufferPointer { p in
                var r = 0
                while r < p.count {
                    var s: Float = 0
                    for j in 0..<c { s += Swift.abs(p[r + j]) }
                    if s != 0 { for j in 0..<c { p[r + j] /= s } }
                    r += c
                }
            }
            return
        }
        o.f.withUnsafeMutableBufferPointer { p in
            var r = 0
            while r < p.count {
                switch norm {
                case .max:
                    var m = -Float.greatestFiniteMagnitude
                    for j in 0..<c { m = Swift.max(m, p[r + j]) }
                    if m != 0 { for j in 0..<c { p[r + j] /= m } }
                case .l1:
                    var s: Float = 0
                    for j in 0..<c { s += Swift.abs(p[r + j]) }
                    if s != 0 { for j in 0..<c { p[r + j] /= s } }
                case .l2:
                    var s: Float = 0
                    for j in 0..<c { s += p[r + j] * p[r + j] }
                    if s != 0 {
                        for j in 0..<c {
                            let v = p[r + j]
                            let q = (v * v / s).squareRoot()
                            p[r + j] = v < 0 ? -q : q
                        }
                    }
                }
                r += c
            }
        }
    }
}

/// Binarizer: 1 where x > threshold, else 0 (same element type as the input).
struct BinarizerKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the input and of the output (same shape and element type).
    let x: Int, out: Int
    /// `threshold` (0 by default); an element strictly greater becomes 1.
    let threshold: Float

    /// Accepts float, double or int64 inputs; the output keeps the input's element type.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...1)
        try nb.requireOutputs(1)
        let k = try nb.inputKind(0, allowed: [.float, .double, .int64])
        nb.setOutput(0, ValueType(k, shape: try nb.input(0).shape, onnxType: try nb.input(0).onnxType))
        return BinarizerKernel(
            name: nb.node.name, x: nb.inputs[0], out: nb.outputs[0], threshold: try nb.float("threshold", default: 0))
    }

    /// Writes 1 where an element is greater than ``threshold`` and 0 elsewhere (NaN gives 0).
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let i = ctx.slots[x], o = ctx.slots[out]
        o.kind = i.kind
        o.setShape(i.shape)
        switch i.kind {
        case .float:
            o.f.removeAll(keepingCapacity: true)
            for v in i.f { o.f.append(v > threshold ? 1 : 0) }
        case .double:
            o.d.removeAll(keepingCapacity: true)
            for v in i.d { o.d.append(v > Double(threshold) ? 1 : 0) }
        default:
            o.i.removeAll(keepingCapacity: true)
            for v in i.i { o.i.append(Float(v) > threshold ? 1 : 0) }
        }
    }
}

/// Imputer: replaces the missing marker (NaN or `replaced_value_*`) with per-column imputed values.
///
/// Float and double inputs produce floats, integer inputs int64; columns are along the last dimension.
/// `FusedTreePlan` folds an Imputer in front of a tree classifier into its row gathering.
struct ImputerKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the input and of the output (int64 for integer inputs, float otherwise; same shape).
    let x: Int, out: Int
    /// `imputed_value_floats` (one value or one per column) and `replaced_value_float`, the marker replaced in float
    /// and double inputs (0 by default; NaN matches NaN).
    let imputedFloats: [Float], replacedFloat: Float
    /// `imputed_value_int64s` (one value or one per column) and `replaced_value_int64`, the marker replaced in integer
    /// inputs (0 by default).
    let imputedInts: [Int64], replacedInt: Int64

    /// Requires the imputed values for the input's kind, one or one per column; a double input produces floats.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...1)
        try nb.requireOutputs(1)
        let k = try nb.inputKind(0, allowed: [.float, .double, .int64])
        let f = try nb.floats("imputed_value_floats") ?? []
        let i = try nb.ints("imputed_value_int64s") ?? []
        if k == .int64 {
            guard !i.isEmpty else { throw nb.fail("imputed_value_int64s is required for int64 input") }
        } else {
            guard !f.isEmpty else { throw nb.fail("imputed_value_floats is required for float input") }
        }
        if let c = try nb.input(0).lastDim {
            let n = k == .int64 ? i.count : f.count
            if n != 1 && n != c { throw nb.fail("\(n) imputed values for \(c) columns") }
        }
        nb.setOutput(
            0,
            ValueType(k == .double ? .float : k, shape: try nb.input(0).shape, onnxType: k == .int64 ? .int64 : .float))
        return ImputerKernel(
            name: nb.node.name, x: nb.inputs[0], out: nb.outputs[0], imputedFloats: f,
            replacedFloat: try nb.float("replaced_value_float", default: 0), imputedInts: i,
            replacedInt: try nb.int("replaced_value_int64", default: 0))
    }

    /// Copies the input, replacing each marker by its column's imputed value.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` when the imputed values do not match the run-time column count.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let i = ctx.slots[x], o = ctx.slots[out]
        let c = i.lastDim
        if i.kind == .int64 || i.kind == .bool {
            guard imputedInts.count == 1 || imputedInts.count == c else {
                throw EngineError.eval(name, "\(imputedInts.count) imputed values for \(c) columns")
            }
            o.kind = .int64
            o.setShape(i.shape)
            o.i.removeAll(keepingCapacity: true)
            for (k, v) in i.i.enumerated() {
                o.i.append(v == replacedInt ? imputedInts[imputedInts.count == 1 ? 0 : k % c] : v)
            }
            return
        }
        guard imputedFloats.count == 1 || imputedFloats.count == c else {
            throw EngineError.eval(name, "\(imputedFloats.count) imputed values for \(c) columns")
        }
        o.kind = .float
        o.setShape(i.shape)
        i.floats(into: &o.f)
        let nanMarker = replacedFloat.isNaN
        for k in o.f.indices {
            let v = o.f[k]
            if nanMarker ? v.isNaN : v == replacedFloat {
                o.f[k] = imputedFloats[imputedFloats.count == 1 ? 0 : k % c]
            }
        }
    }
}

/// OneHotEncoder: appends a category axis; unknown categories give all zeros (or fail when zeros = 0).
struct OneHotEncoderKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the input and of the float output, whose shape is the input's plus one axis of ``categories``.
    let x: Int, out: Int
    /// Position of each integer category (its first occurrence in `cats_int64s`).
    let intIndex: [Int64: Int]
    /// Position of each string category (its first occurrence in `cats_strings`).
    let stringIndex: [String: Int]
    /// The string categories in order; few categories are found faster by comparison than by hashing.
    let stringList: [String]
    /// The integer categories in order; likewise scanned when there are few (≤ 16).
    let intList: [Int64]
    /// Number of categories: the length of the one category list that is set.
    let categories: Int
    /// `zeros` (1 by default): an unknown category gives a row of zeros; with 0 it fails the call.
    let zeros: Bool

    /// Requires exactly one of `cats_int64s` (numeric input) and `cats_strings` (string input).
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...1)
        try nb.requireOutputs(1)
        let ints = try nb.ints("cats_int64s") ?? []
        let strings = try nb.strings("cats_strings") ?? []
        guard ints.isEmpty != strings.isEmpty else {
            throw nb.fail("exactly one of cats_int64s and cats_strings must be set")
        }
        let k = try nb.inputKind(0, allowed: strings.isEmpty ? [.int64, .float, .double] : [.string])
        var ii: [Int64: Int] = [:]
        for (n, v) in ints.enumerated() where ii[v] == nil { ii[v] = n }
        var si: [String: Int] = [:]
        for (n, v) in strings.enumerated() where si[v] == nil { si[v] = n }
        let count = max(ints.count, strings.count)
        var shape: [Int?]? = nil
        if let s = try nb.input(0).shape { shape = s + [count] }
        _ = k
        nb.setOutput(0, ValueType(.float, shape: shape, onnxType: .float))
        return OneHotEncoderKernel(
            name: nb.node.name, x: nb.inputs[0], out: nb.outputs[0], intIndex: ii, stringIndex: si, stringList: strings,
            intList: ints, categories: count,
            zeros: try nb.int("zeros", default: 1) != 0)
    }

    /// Writes one one-hot row per input element; float inputs are truncated to an integer category.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` for an unknown category when ``zeros`` is false.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let i = ctx.slots[x], o = ctx.slots[out]
        let n = i.count
        o.kind = .float
        o.shape.removeAll(keepingCapacity: true)
        o.shape.append(contentsOf: i.shape)
        o.shape.append(categories)
        o.f.removeAll(keepingCapacity: true)
        o.f.append(contentsOf: repeatElement(0, count: n * categories))
        let strings = i.s, list = stringList
        let scan = list.count <= 16
        for k in 0..<n {
            let hit: Int?
            switch i.kind {
            case .string:
                if scan {
                    let v = strings[k]
                    var found: Int? = nil
                    for (c, s) in list.enumerated() where s == v {
                        found = c
                        break
                    }
                    hit = found
                } else {
                    hit = stringIndex[strings[k]]
                }
            case .float: hit = Self.integral(Double(i.f[k])).flatMap(category)
            case .double: hit = Self.integral(i.d[k]).flatMap(category)
            default: hit = category(i.i[k])
            }
            if let hit {
                o.f[k * categories + hit] = 1
            } else if !zeros {
                throw EngineError.eval(name, "unknown category and zeros = 0")
            }
        }
    }

    /// The position of an integer category (its first occurrence), by scanning when there are few.
    @inline(__always) private func category(_ v: Int64) -> Int? {
        if intList.count > 16 { return intIndex[v] }
        for c in 0..<intList.count where intList[c] == v { return c }
        return nil
    }

    /// A float input as an integer category (truncated), or nil when it is not finite or out of Int64's range
    /// (an unknown category, never a trap).
    @inline(__always) static func integral(_ v: Double) -> Int64? {
        guard v.isFinite, v > -9.223_372_036_854_775_8e18, v < 9.223_372_036_854_775_8e18 else { return nil }
        return Int64(v)
    }
}

/// LabelEncoder (opset 1: classes_strings; opset ≥ 2: keys_* → values_*), and CategoryMapper.
struct LabelEncoderKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the input and of the output (same shape, element kind ``outKind``).
    let x: Int, out: Int
    /// Entry index of each string key (first occurrence wins).
    let stringKeys: [String: Int]
    /// Entry index of each integer key (first occurrence wins).
    let intKeys: [Int64: Int]
    /// Entry index of each float key, by ``floatKey(_:)``.
    let floatKeys: [UInt32: Int]
    /// String values by entry (empty unless ``outKind`` is `.string`).
    let valuesString: [String]
    /// Integer values by entry (empty unless ``outKind`` is `.int64`).
    let valuesInt: [Int64]
    /// Float values by entry (empty unless ``outKind`` is `.float`).
    let valuesFloat: [Float]
    /// Kind of the values, hence of the output.
    let outKind: ElementKind
    /// Value for a key not in the map when the output is strings (`default_string`, `_Unused` by default).
    let defaultString: String
    /// Value for a key not in the map when the output is int64 (`default_int64`, -1 by default).
    let defaultInt: Int64
    /// Value for a key not in the map when the output is float (`default_float`, -0.0 by default).
    let defaultFloat: Float
    /// The string keys and their entries, when there are few (≤ 16): a Spark `StringIndexer` has a handful of
    /// categories, found faster by comparison than by hashing every row's string. Same equality as the dictionary.
    var fewStringKeys: [String] = []
    /// The entry index of each key in ``fewStringKeys``.
    var fewStringHits: [Int] = []

    /// Builds a LabelEncoder: opset 1 maps `classes_strings` to their indices (or back, for an integer input); opset 2
    /// on reads one `keys_*` and one `values_*` list (or the `*_tensor` forms) and the defaults.
    ///
    /// - Throws: ``EngineError`` naming the node when there is not exactly one key list and one value list of the same
    ///   length, or the input's kind differs from the keys'.
    static func buildLabelEncoder(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...1)
        try nb.requireOutputs(1)
        let inKind = try nb.inputKind(0, allowed: [.string, .int64, .float])
        var keysS: [String] = [], keysI: [Int64] = [], keysF: [Float] = []
        var valsS: [String] = [], valsI: [Int64] = [], valsF: [Float] = []
        if nb.opset < 2 {
            let classes = try nb.strings("classes_strings") ?? []
            if inKind == .string {
                keysS = classes
                valsI = (0..<classes.count).map(Int64.init)
            } else {
                keysI = (0..<classes.count).map(Int64.init)
                valsS = classes
            }
        } else {
            keysS = try nb.strings("keys_strings") ?? []
            keysI = try nb.ints("keys_int64s") ?? []
            keysF = try nb.floats("keys_floats") ?? []
            valsS = try nb.strings("values_strings") ?? []
            valsI = try nb.ints("values_int64s") ?? []
            valsF = try nb.floats("values_floats") ?? []
            if case .tensor(let t)? = nb.attr("keys_tensor") {
                switch t.storage {
                case .string(let v): keysS = v
                case .int64(let v): keysI = v
                default: keysF = t.floatValues
                }
            }
            if case .tensor(let t)? = nb.attr("values_tensor") {
                switch t.storage {
                case .string(let v): valsS = v
                case .int64(let v): valsI = v
                default: valsF = t.floatValues
                }
            }
        }
        let keyCount = [keysS.count, keysI.count, keysF.count].filter { $0 > 0 }
        let valCount = [valsS.count, valsI.count, valsF.count].filter { $0 > 0 }
        guard keyCount.count == 1, valCount.count == 1, keyCount[0] == valCount[0] else {
            throw nb.fail("needs exactly one key list and one value list of the same length")
        }
        let expectedIn: ElementKind = !keysS.isEmpty ? .string : (!keysI.isEmpty ? .int64 : .float)
        guard inKind == expectedIn else { throw nb.fail("input is \(inKind) but the keys are \(expectedIn)") }
        let outKind: ElementKind = !valsS.isEmpty ? .string : (!valsI.isEmpty ? .int64 : .float)
        var defaultString = try nb.string("default_string", default: "_Unused")
        var defaultInt = try nb.int("default_int64", default: -1)
        var defaultFloat = try nb.float("default_float", default: -0.0)
        if case .tensor(let t)? = nb.attr("default_tensor") {
            switch t.storage {
            case .string(let v): defaultString = v.first ?? defaultString
            case .int64(let v): defaultInt = v.first ?? defaultInt
            default: defaultFloat = t.floatValues.first ?? defaultFloat
            }
        }
        return try make(
            &nb, keysS, keysI, keysF, valsS, valsI, valsF, outKind, defaultString, defaultInt, defaultFloat)
    }

    /// Builds a CategoryMapper as a LabelEncoder: strings map to `cats_int64s`, integers to `cats_strings`.
    static func buildCategoryMapper(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...1)
        try nb.requireOutputs(1)
        let inKind = try nb.inputKind(0, allowed: [.string, .int64])
        let s = try nb.strings("cats_strings") ?? []
        let i = try nb.ints("cats_int64s") ?? []
        guard s.count == i.count, !s.isEmpty else {
            throw nb.fail("cats_strings and cats_int64s must have the same, non-zero length")
        }
        let ds = try nb.string("default_string", default: "_Unused")
        let di = try nb.int("default_int64", default: -1)
        if inKind == .string {
            return try make(&nb, s, [], [], [], i, [], .int64, ds, di, 0)
        }
        return try make(&nb, [], i, [], s, [], [], .string, ds, di, 0)
    }

    /// Indexes the keys and types the output; shared by both builders.
    private static func make(
        _ nb: inout NodeBuilder, _ keysS: [String], _ keysI: [Int64], _ keysF: [Float], _ valsS: [String],
        _ valsI: [Int64], _ valsF: [Float], _ outKind: ElementKind, _ ds: String, _ di: Int64, _ df: Float
    ) throws(EngineError) -> any Kernel {
        var sk: [String: Int] = [:]
        for (n, k) in keysS.enumerated() where sk[k] == nil { sk[k] = n }
        var ik: [Int64: Int] = [:]
        for (n, k) in keysI.enumerated() where ik[k] == nil { ik[k] = n }
        var fk: [UInt32: Int] = [:]
        for (n, k) in keysF.enumerated() where fk[LabelEncoderKernel.floatKey(k)] == nil {
            fk[LabelEncoderKernel.floatKey(k)] = n
        }
        nb.setOutput(
            0,
            ValueType(
                outKind, shape: try nb.input(0).shape,
                onnxType: outKind == .string ? .string : (outKind == .int64 ? .int64 : .float)))
        var kernel = LabelEncoderKernel(
            name: nb.node.name, x: nb.inputs[0], out: nb.outputs[0], stringKeys: sk, intKeys: ik, floatKeys: fk,
            valuesString: valsS, valuesInt: valsI, valuesFloat: valsF, outKind: outKind, defaultString: ds,
            defaultInt: di, defaultFloat: df)
        if !sk.isEmpty, sk.count <= 16 {
            for (key, hit) in sk {
                kernel.fewStringKeys.append(key)
                kernel.fewStringHits.append(hit)
            }
        }
        return kernel
    }

    /// The entry of a string key, by comparison when the keys are few, else by hashing.
    @inline(__always) private func lookup(_ key: String) -> Int? {
        if fewStringKeys.isEmpty { return stringKeys[key] }
        for k in 0..<fewStringKeys.count where fewStringKeys[k] == key { return fewStringHits[k] }
        return nil
    }

    /// Float keys compare by value; all NaNs are one key and -0 equals 0.
    static func floatKey(_ v: Float) -> UInt32 {
        if v.isNaN { return Float.nan.bitPattern }
        return v == 0 ? 0 : v.bitPattern
    }

    /// Maps every element through the table, writing the default for a key that is not in it.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let i = ctx.slots[x], o = ctx.slots[out]
        o.kind = outKind
        o.setShape(i.shape)
        let n = i.count
        o.s.removeAll(keepingCapacity: true)
        o.i.removeAll(keepingCapacity: true)
        o.f.removeAll(keepingCapacity: true)
        for k in 0..<n {
            let hit: Int?
            switch i.kind {
            case .string: hit = lookup(i.s[k])
            case .float: hit = floatKeys[LabelEncoderKernel.floatKey(i.f[k])]
            default: hit = intKeys[i.i[k]]
            }
            switch outKind {
            case .string: o.s.append(hit.map { valuesString[$0] } ?? defaultString)
            case .int64: o.i.append(hit.map { valuesInt[$0] } ?? defaultInt)
            default: o.f.append(hit.map { valuesFloat[$0] } ?? defaultFloat)
            }
        }
    }
}

/// ArrayFeatureExtractor(X, indices): picks columns of the last axis.
struct ArrayFeatureExtractorKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the data, of the int64 column indices and of the output.
    let x: Int, indices: Int, out: Int

    /// Checks constant indices against a known column count; the output replaces the last axis with the index count
    /// (`[1, k]` for a rank-0 or rank-1 input).
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(2...2)
        try nb.requireOutputs(1)
        let t = try nb.input(0)
        _ = try nb.inputKind(1, allowed: [.int64])
        var shape: [Int?]? = nil
        let k: Int? = nb.constantInts(1).map { $0.count }
        if let s = t.shape {
            if let c = s.last ?? nil, let idx = nb.constantInts(1) {
                for v in idx where v < 0 || v >= Int64(c) {
                    throw nb.fail("index \(v) is out of range for \(c) columns")
                }
            }
            shape = s.count <= 1 ? [1, k] : Array(s.dropLast()) + [k]
        }
        nb.setOutput(0, ValueType(t.kind, shape: shape, onnxType: t.onnxType))
        return ArrayFeatureExtractorKernel(
            name: nb.node.name, x: nb.inputs[0], indices: nb.inputs[1], out: nb.outputs[0])
    }

    /// Gathers the indexed columns of every row.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` for an index outside the last axis.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let i = ctx.slots[x], ix = ctx.slots[indices], o = ctx.slots[out]
        let c = i.lastDim
        for v in ix.i where v < 0 || v >= Int64(c) {
            throw EngineError.eval(name, "index \(v) is out of range for \(c) columns")
        }
        let k = ix.i.count
        let rows = c == 0 ? 0 : i.count / c
        o.kind = i.kind
        if i.shape.count <= 1 {
            o.setShape(1, k)
        } else {
            o.shape.removeAll(keepingCapacity: true)
            o.shape.append(contentsOf: i.shape.dropLast())
            o.shape.append(k)
        }
        switch i.kind {
        case .float, .mapSequence: pick(\.f, i, ix, o, rows, c)
        case .double: pick(\.d, i, ix, o, rows, c)
        case .string: pick(\.s, i, ix, o, rows, c)
        default: pick(\.i, i, ix, o, rows, c)
        }
    }

    /// Copies the indexed columns of the buffer at `kp`, moving the output array out of the slot while it is filled so
    /// that it is not copied on write.
    @inline(__always)
    private func pick<T>(
        _ kp: ReferenceWritableKeyPath<Slot, [T]>, _ i: Slot, _ ix: Slot, _ o: Slot, _ rows: Int, _ c: Int
    ) {
        let src = i[keyPath: kp]
        let idx = ix.i
        var out = o[keyPath: kp]
        o[keyPath: kp] = []
        out.removeAll(keepingCapacity: true)
        if rows * idx.count > 0, let fill = src.first {
            out.append(contentsOf: repeatElement(fill, count: rows * idx.count))
            src.withUnsafeBufferPointer { sp in
                out.withUnsafeMutableBufferPointer { op in
                    var w = 0
                    for r in 0..<rows {
                        for v in idx {
                            op[w] = sp[r * c + Int(v)]
                            w += 1
                        }
                    }
                }
            }
        }
        o[keyPath: kp] = out
    }
}

/// FeatureVectorizer: concatenates inputs (as float) with the declared widths, padding or truncating.
struct FeatureVectorizerKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the inputs, in order.
    let inputs: [Int]
    /// `inputdimensions`: the columns each input takes in the output.
    let widths: [Int]
    /// Slot of the `[N, sum of widths]` float output.
    let out: Int

    /// Requires one width per input in `inputdimensions`.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireOutputs(1)
        guard !nb.inputs.isEmpty else { throw nb.fail("needs at least one input") }
        for k in 0..<nb.inputs.count { _ = try nb.inputKind(k, allowed: [.float, .double, .int64]) }
        let dims = try nb.ints("inputdimensions") ?? []
        guard dims.count == nb.inputs.count, dims.allSatisfy({ $0 >= 0 && $0 < 1 << 24 }) else {
            throw nb.fail("inputdimensions must give one width per input")
        }
        let total = dims.reduce(0, +)
        nb.setOutput(0, ValueType(.float, shape: [try nb.input(0).shape?.first ?? nil, Int(total)], onnxType: .float))
        return FeatureVectorizerKernel(
            name: nb.node.name, inputs: nb.inputs, widths: dims.map { Int($0) }, out: nb.outputs[0])
    }

    /// Writes each input's first columns (up to its width) at its offset; missing columns stay 0.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` when the inputs' row counts differ.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let o = ctx.slots[out]
        let first = ctx.slots[inputs[0]]
        let rows = first.shape.count <= 1 ? 1 : first.shape[0]
        let total = widths.reduce(0, +)
        o.kind = .float
        o.setShape(rows, total)
        o.f.removeAll(keepingCapacity: true)
        o.f.append(contentsOf: repeatElement(0, count: rows * total))
        var offset = 0
        for (n, s) in inputs.enumerated() {
            let slot = ctx.slots[s]
            let srows = slot.shape.count <= 1 ? 1 : slot.shape[0]
            guard srows == rows else {
                throw EngineError.eval(name, "input \(n) has \(srows) rows, input 0 has \(rows)")
            }
            let w = rows == 0 ? 0 : slot.count / rows
            slot.floats(into: &ctx.scratch)
            let take = min(w, widths[n])
            for r in 0..<rows {
                for j in 0..<take { o.f[r * total + offset + j] = ctx.scratch[r * w + j] }
            }
            offset += widths[n]
        }
    }
}

/// ZipMap: rows × classes scores → a sequence of maps keyed by class label.
struct ZipMapKernel: Kernel {
    /// Node name, for error messages.
    let name: String
    /// Slots of the `[N, classes]` float scores and of the `.mapSequence` output.
    let x: Int, out: Int
    /// The class labels, one per score column.
    let keys: ZipMapKeys

    /// Requires exactly one label list, as long as the input's known column count.
    static func build(_ nb: inout NodeBuilder) throws(EngineError) -> any Kernel {
        try nb.requireInputs(1...1)
        try nb.requireOutputs(1)
        _ = try nb.inputKind(0, allowed: [.float])
        let ints = try nb.ints("classlabels_int64s") ?? []
        let strings = try nb.strings("classlabels_strings") ?? []
        guard ints.isEmpty != strings.isEmpty else {
            throw nb.fail("exactly one of classlabels_int64s and classlabels_strings must be set")
        }
        let keys: ZipMapKeys = ints.isEmpty ? .string(strings) : .int64(ints)
        if let c = try nb.input(0).lastDim, c != keys.count {
            throw nb.fail("input has \(c) columns for \(keys.count) class labels")
        }
        nb.setOutput(0, ValueType(.mapSequence, shape: [try nb.input(0).shape?.first ?? nil, keys.count]))
        return ZipMapKernel(name: nb.node.name, x: nb.inputs[0], out: nb.outputs[0], keys: keys)
    }

    /// Copies the scores into the output and attaches the keys: the maps are stored as the float block plus the keys.
    ///
    /// - Throws: ``EngineError`` with `.evaluation` when the column count differs from the number of labels.
    func run(_ ctx: ExecutionContext) throws(EngineError) {
        let i = ctx.slots[x], o = ctx.slots[out]
        guard i.lastDim == keys.count else {
            throw EngineError.eval(name, "input has \(i.lastDim) columns for \(keys.count) class labels")
        }
        o.kind = .mapSequence
        o.mapKeys = keys
        o.setShape(i.shape.count <= 1 ? 1 : i.shape[0], keys.count)
        o.f.removeAll(keepingCapacity: true)
        o.f.append(contentsOf: i.f)
    }
}
