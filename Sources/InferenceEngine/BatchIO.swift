import ONNXFormat
import TextFormats

/// File formats of offline scoring (`sluice score`) and the parity tests: the JSON layout of
/// `Tests/fixtures/models/*/inputs.json` / `expected.json`, and CSV with a header row. Not used on the serving path.
public enum BatchIO {
    /// Reads `{"inputs": [{"name", "shape", "data", ...}]}` into named tensors. Values are converted to the
    /// element type of the matching model input.
    ///
    /// Nested `data` arrays give the shape when `shape` is absent; `null`, `"NaN"` and `""` read as NaN for float
    /// inputs. Returns the row count (the first dimension, equal across inputs) and the tensors by input name.
    ///
    /// - Throws: ``EngineError`` with `.invalidInput` for invalid JSON, an unknown or missing input, a shape that does
    ///   not match the data, differing row counts or a value of the wrong type.
    public static func readJSONInputs(_ bytes: [UInt8], signature: ModelSignature) throws(EngineError) -> (
        rows: Int, feeds: [String: Tensor]
    ) {
        let root: JSONValue
        do { root = try JSONParser.parse(bytes) } catch {
            throw EngineError.input("input is not valid JSON: \(error)")
        }
        guard case .array(let inputs)? = root["inputs"],
            inputs.allSatisfy({ if case .object = $0 { true } else { false } })
        else {
            throw EngineError.input("input JSON must be an object with an \"inputs\" array")
        }
        var feeds: [String: Tensor] = [:]
        var rows = -1
        for entry in inputs {
            guard let name = entry["name"]?.stringValue else { throw EngineError.input("an input has no \"name\"") }
            guard let sig = signature.inputs.first(where: { $0.name == name }) else {
                throw EngineError.input(
                    "the model has no input \"\(name)\" (inputs: \(signature.inputs.map(\.name).joined(separator: ", ")))"
                )
            }
            guard let data = entry["data"] else { throw EngineError.input("input \"\(name)\" has no \"data\"") }
            var flat: [JSONValue] = []
            var inferred: [Int] = []
            try flatten(data, &flat, &inferred, depth: 0, name: name)
            var shape = inferred
            if case .array(let dimensions)? = entry["shape"] { shape = dimensions.compactMap(Self.dimension) }
            if shape.isEmpty { shape = inferred }
            guard shape.reduce(1, *) == flat.count else {
                throw EngineError.input("input \"\(name)\": shape \(shape) does not match \(flat.count) values")
            }
            feeds[name] = try tensor(flat, shape: shape, type: sig.elementType, name: name)
            let r = shape.first ?? 1
            if rows >= 0 && r != rows { throw EngineError.input("inputs have different row counts (\(rows) and \(r))") }
            rows = r
        }
        for input in signature.inputs where feeds[input.name] == nil {
            throw EngineError.input("missing input \"\(input.name)\"")
        }
        return (max(rows, 0), feeds)
    }

    /// A `shape` entry as an `Int`: numbers truncate toward zero, booleans count as 1 and 0 (as Foundation's
    /// `NSNumber.intValue` read them); anything else is dropped.
    private static func dimension(_ value: JSONValue) -> Int? {
        switch value {
        case .number(let n): return n.isFinite && abs(n) < 9.2e18 ? Int(n) : nil
        case .bool(let flag): return flag ? 1 : 0
        default: return nil
        }
    }

    /// A value's numeric reading: numbers as they are, booleans as 1 and 0 (as Foundation's JSON reader gave them).
    private static func numeric(_ value: JSONValue) -> Double? {
        switch value {
        case .number(let n): return n
        case .bool(let flag): return flag ? 1 : 0
        default: return nil
        }
    }

    /// A value as error messages show it: numbers in their shortest form, `<null>` for null.
    private static func shown(_ value: JSONValue) -> String {
        switch value {
        case .null: return "<null>"
        case .bool(let flag): return flag ? "1" : "0"
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .string(let s): return s
        case .array(let items): return "[" + items.map(shown).joined(separator: ", ") + "]"
        case .object(let members):
            let shownMembers = members.keys.sorted().map { "\($0): \(shown(members[$0] ?? .null))" }
            return "{" + shownMembers.joined(separator: ", ") + "}"
        }
    }

    /// Appends the leaves of nested arrays to `out` in row-major order and records each level's length in `shape` (the
    /// first array seen at a depth sets that dimension); nesting deeper than 8 levels is refused.
    private static func flatten(
        _ v: JSONValue, _ out: inout [JSONValue], _ shape: inout [Int], depth: Int, name: String
    ) throws(EngineError) {
        guard depth < 8 else { throw EngineError.input("input \"\(name)\" is nested too deeply") }
        if case .array(let list) = v {
            if shape.count == depth { shape.append(list.count) }
            for item in list { try flatten(item, &out, &shape, depth: depth + 1, name: name) }
        } else {
            out.append(v)
        }
    }

    /// Converts flattened JSON values into a tensor of the model input's element type: strings, integers (exact
    /// integers only; every integral ONNX type and bool are stored as int64), doubles, or floats by default.
    private static func tensor(_ flat: [JSONValue], shape: [Int], type: ONNXDataType?, name: String)
        throws(EngineError)
        -> Tensor
    {
        switch type {
        case .string?:
            var v: [String] = []
            for x in flat {
                guard let s = x.stringValue else { throw EngineError.input("input \"\(name)\" expects strings") }
                v.append(s)
            }
            return .string(v, shape: shape)
        case .int64?, .int32?, .int16?, .int8?, .uint8?, .uint16?, .uint32?, .uint64?, .bool?:
            var v: [Int64] = []
            for x in flat {
                guard let n = numeric(x), let i = Int64(exactly: n) else {
                    throw EngineError.input("input \"\(name)\" expects integers, got \(shown(x))")
                }
                v.append(i)
            }
            return .int64(v, shape: shape)
        case .double?:
            var v: [Double] = []
            for x in flat { v.append(try number(x, name)) }
            return Tensor(shape: shape, values: .double(v))
        default:
            var v: [Float] = []
            for x in flat { v.append(Float(try number(x, name))) }
            return .float(v, shape: shape)
        }
    }

    /// Reads a numeric cell: numbers and booleans as they are, `null`, `""` and `"nan"` as NaN, other strings parsed as
    /// numbers; anything else throws.
    private static func number(_ x: JSONValue, _ name: String) throws(EngineError) -> Double {
        if let n = numeric(x) { return n }
        if case .null = x { return .nan }
        if let s = x.stringValue, let d = Double(s) { return d }
        if let s = x.stringValue, s.lowercased() == "nan" || s.isEmpty { return .nan }
        throw EngineError.input("input \"\(name)\" expects numbers, got \(shown(x))")
    }

    /// Reads CSV with a header row. Columns are matched by name to features (`age`, `X[0]`) or, for inputs with
    /// one column, to the input name. Empty cells are NaN for numeric features.
    ///
    /// Fields are trimmed; lines of only spaces are skipped. Returns the row count and the tensors by input name.
    ///
    /// - Throws: ``EngineError`` with `.invalidInput` for an empty file, a line whose field count differs from the
    ///   header, a missing column or a numeric cell that is not a number.
    public static func readCSV(_ text: String, signature: ModelSignature) throws(EngineError) -> (
        rows: Int, feeds: [String: Tensor]
    ) {
        var lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map { String($0) }.filter {
            !$0.trimmingSpaces().isEmpty
        }
        guard !lines.isEmpty else { throw EngineError.input("the CSV file is empty") }
        let header = splitCSV(lines.removeFirst())
        var columnOf: [String: Int] = [:]
        for (i, h) in header.enumerated() { columnOf[h.trimmingSpaces()] = i }
        let rows = lines.count
        let table = lines.map(splitCSV)
        for (n, row) in table.enumerated() where row.count != header.count {
            throw EngineError.input("CSV line \(n + 2) has \(row.count) fields, the header has \(header.count)")
        }
        var feeds: [String: Tensor] = [:]
        for (k, input) in signature.inputs.enumerated() {
            let feats = signature.features.filter { $0.inputIndex == k }
            var cols: [Int] = []
            for f in feats {
                guard let c = columnOf[f.name] ?? (feats.count == 1 ? columnOf[input.name] : nil) else {
                    throw EngineError.input(
                        "the CSV has no column \"\(f.name)\" (header: \(header.joined(separator: ",")))")
                }
                cols.append(c)
            }
            let width = max(cols.count, 1)
            let shape = input.shape?.count == 1 ? [rows] : [rows, width]
            var cells: [JSONValue] = []
            for row in table {
                for c in cols {
                    let cell = row[c].trimmingSpaces()
                    if input.elementType == .string {
                        cells.append(.string(cell))
                    } else if cell.isEmpty {
                        cells.append(.null)
                    } else {
                        guard let d = Double(cell) else {
                            throw EngineError.input("CSV column \"\(header[c])\": \"\(cell)\" is not a number")
                        }
                        cells.append(.number(d))
                    }
                }
            }
            feeds[input.name] = try tensor(cells, shape: shape, type: input.elementType, name: input.name)
        }
        return (rows, feeds)
    }

    /// Splits one CSV line, honouring double quotes.
    ///
    /// A doubled quote inside quotes is a literal quote and a trailing CR is dropped. Fields cannot span lines: the
    /// text is split into lines before fields are split.
    static func splitCSV(_ line: String) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        var chars = Array(line)
        if chars.last == "\r" { chars.removeLast() }
        var i = 0
        while i < chars.count {
            let ch = chars[i]
            if quoted {
                if ch == "\"" {
                    if i + 1 < chars.count && chars[i + 1] == "\"" {
                        current.append("\""); i += 1
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(ch)
                }
            } else if ch == "\"" {
                quoted = true
            } else if ch == "," {
                fields.append(current)
                current = ""
            } else {
                current.append(ch)
            }
            i += 1
        }
        fields.append(current)
        return fields
    }

    /// Writes outputs in the `expected.json` layout: `{"outputs": [{"name", "type", "dtype", "shape", "data"}]}`.
    ///
    /// ZipMap outputs become one JSON object per row keyed by class label; NaN and infinities are written as `NaN`,
    /// `Infinity` and `-Infinity` (as Python's `json` module does). `model`, when not empty, is written as a `"model"`
    /// member first. The result ends with a newline.
    public static func writeJSONOutputs(
        _ outputs: [(name: String, value: Tensor)], signature: ModelSignature, model: String = ""
    ) -> String {
        var s = "{"
        if !model.isEmpty { s += "\"model\":\(quote(model)),\n" }
        s += "\"outputs\":["
        for (k, o) in outputs.enumerated() {
            if k > 0 { s += ",\n" }
            let type = signature.outputs.first { $0.name == o.name }?.type ?? ""
            let t = o.value
            s += "{\"name\":\(quote(o.name)),\"type\":\(quote(type)),"
            switch t.values {
            case .maps(let keys, let values):
                let rows = t.shape.first ?? 0
                s += "\"dtype\":\"map\",\"shape\":[\(rows)],\"data\":["
                let c = keys.count
                for r in 0..<rows {
                    if r > 0 { s += "," }
                    s += "{"
                    for j in 0..<c {
                        if j > 0 { s += "," }
                        switch keys {
                        case .int64(let v): s += quote(String(v[j]))
                        case .string(let v): s += quote(v[j])
                        }
                        s += ":" + number(values[r * c + j])
                    }
                    s += "}"
                }
                s += "]}"
                continue
            case .float: s += "\"dtype\":\"float32\","
            case .double: s += "\"dtype\":\"float64\","
            case .int64: s += "\"dtype\":\"int64\","
            case .bool: s += "\"dtype\":\"bool\","
            case .string: s += "\"dtype\":\"string\","
            }
            s += "\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data\":"
            var k2 = 0
            nested(t, dim: 0, &s, &k2)
            s += "}"
        }
        s += "]}\n"
        return s
    }

    /// Appends the values of `t` as nested JSON arrays, one level per dimension; `k` is the next flat index.
    private static func nested(_ t: Tensor, dim: Int, _ s: inout String, _ k: inout Int) {
        if dim == t.shape.count {
            switch t.values {
            case .float(let v): s += number(v[k])
            case .double(let v): s += number(v[k])
            case .int64(let v): s += String(v[k])
            case .bool(let v): s += v[k] ? "true" : "false"
            case .string(let v): s += quote(v[k])
            case .maps: break
            }
            k += 1
            return
        }
        s += "["
        for i in 0..<t.shape[dim] {
            if i > 0 { s += "," }
            nested(t, dim: dim + 1, &s, &k)
        }
        s += "]"
    }

    /// A float as JSON text, with `NaN` and `±Infinity` for non-finite values.
    static func number(_ v: Float) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "Infinity" : "-Infinity" }
        return "\(v)"
    }

    /// A double as JSON text, with `NaN` and `±Infinity` for non-finite values.
    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "Infinity" : "-Infinity" }
        return "\(v)"
    }

    /// A string as a quoted, escaped JSON string.
    static func quote(_ v: String) -> String { JSONText.quoted(v) }
}
