import FoundationEssentials
import TextFormats

/// Rows read from a file for `sluice score`: named columns and, per row, where it came from (for messages).
///
/// Readers: JSON records (`[{"age": 42, ...}]`, what pandas' `to_json(orient="records")` writes), JSON Lines (one
/// object per line) and CSV with a header row. The fixture layout (`{"inputs": [...]}`) is read by the engine's
/// `BatchIO` and turned into a table by the caller when rows are wanted.
struct ScoreTable {
    /// One cell: a number, text, or nothing (JSON `null`, an empty CSV field, an absent key).
    enum Cell: Equatable {
        case number(Double)
        case text(String)
        case missing
        /// A JSON array: the columns of a multi-column input in one cell (`{"X": [42, 51000, 17, 640]}`).
        case list([Cell])
    }

    /// Column names, in first-seen order.
    var columns: [String] = []
    /// Rows of cells, aligned with `columns`.
    var rows: [[Cell]] = []
    /// For each row, how to name it in a message: `line 7` (CSV, JSON Lines) or `record 3` (JSON array).
    var origins: [String] = []

    /// The index of column `name`.
    func column(_ name: String) -> Int? { columns.firstIndex(of: name) }
}

/// A problem with an input file, already phrased as `FILE: where: cause`.
struct ScoreInputError: Error, CustomStringConvertible {
    let description: String
}

/// Which reader a file needs.
enum ScoreInputKind {
    /// `fixture`: `{"inputs": [{"name", "shape", "data"}]}`, read by the engine's `BatchIO`; `records`: a JSON
    /// array of objects; `jsonLines`: one object per line; `csv`: a header row, then the rows (also TSV).
    case fixture, records, jsonLines, csv

    /// Decides from the first non-blank byte and, for JSON objects, whether a second object follows on its own
    /// line (JSON Lines) or the object holds `inputs` (the fixture layout).
    static func detect(_ bytes: [UInt8], path: String) -> ScoreInputKind {
        let lower = path.lowercased()
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") { return .jsonLines }
        if lower.hasSuffix(".csv") || lower.hasSuffix(".tsv") { return .csv }
        var i = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { i = 3 }
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        guard i < bytes.count else { return .csv }
        if bytes[i] == UInt8(ascii: "[") { return .records }
        if bytes[i] == UInt8(ascii: "{") {
            // One top-level object that spans the file: the fixture layout; several lines of objects: JSON Lines.
            var parser = JSONReader(bytes: bytes, path: path)
            if let first = try? parser.parseValue(at: i), case .object(let members) = first.value {
                return members.contains(where: { $0.0 == "inputs" }) ? .fixture : .jsonLines
            }
            return .fixture  // let the full parse report the error
        }
        return .csv
    }
}

extension ScoreTable {
    /// Reads a JSON array of objects.
    ///
    /// Each record's origin is `record N (line L)`. Keys may differ between records: the columns are the union of
    /// the keys, and a record without a key has a `missing` cell there.
    ///
    /// - Throws: ``ScoreInputError`` for a JSON syntax error, a root that is not an array, or an item that is not
    ///   an object.
    static func records(_ bytes: [UInt8], path: String) throws(ScoreInputError) -> ScoreTable {
        var reader = JSONReader(bytes: bytes, path: path)
        let root = try reader.parseDocument()
        guard case .array(let items) = root else {
            throw ScoreInputError(description: "\(path): expected a JSON array of objects (records)")
        }
        var table = ScoreTable()
        var index: [String: Int] = [:]
        for (n, item) in items.enumerated() {
            guard case .object(let members) = item.value else {
                throw ScoreInputError(
                    description:
                        "\(path): line \(item.line): record \(n + 1) is not an object (records look like {\"age\": 42, ...})"
                )
            }
            table.append(members, index: &index, origin: "record \(n + 1) (line \(item.line))", path: path)
        }
        return table
    }

    /// Reads JSON Lines: one object per non-blank line.
    ///
    /// Each line is parsed on its own, so an error names the file's line; a row's origin is `line L`.
    ///
    /// - Throws: ``ScoreInputError`` for a line that is not valid JSON or not an object.
    static func jsonLines(_ bytes: [UInt8], path: String) throws(ScoreInputError) -> ScoreTable {
        var table = ScoreTable()
        var index: [String: Int] = [:]
        var start = 0
        var line = 1
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            let slice = Array(bytes[start..<end])
            if slice.contains(where: { ![0x20, 0x09, 0x0D].contains($0) }) {
                var reader = JSONReader(bytes: slice, path: path, firstLine: line)
                let value = try reader.parseDocument()
                guard case .object(let members) = value else {
                    throw ScoreInputError(description: "\(path): line \(line): expected a JSON object")
                }
                table.append(members, index: &index, origin: "line \(line)", path: path)
            }
            start = end + 1
            line += 1
        }
        return table
    }

    /// Adds one record, widening the column list as new keys appear (earlier rows get `missing`).
    private mutating func append(
        _ members: [(String, JSONReader.Value)], index: inout [String: Int], origin: String, path: String
    ) {
        var row = [Cell](repeating: .missing, count: columns.count)
        for (key, value) in members {
            let column: Int
            if let known = index[key] {
                column = known
            } else {
                column = columns.count
                index[key] = column
                columns.append(key)
                for k in rows.indices { rows[k].append(.missing) }
                row.append(.missing)
            }
            switch value {
            case .number(let d): row[column] = .number(d)
            case .string(let s): row[column] = .text(s)
            case .bool(let b): row[column] = .number(b ? 1 : 0)
            case .null: row[column] = .missing
            case .array(let items):
                row[column] = .list(
                    items.map { item in
                        switch item.value {
                        case .number(let d): return .number(d)
                        case .string(let s): return .text(s)
                        case .bool(let b): return .number(b ? 1 : 0)
                        case .null: return .missing
                        default: return .text(JSONReader.describe(item.value))
                        }
                    })
            case .object: row[column] = .text(JSONReader.describe(value))
            }
        }
        rows.append(row)
        origins.append(origin)
    }

    /// Reads CSV (comma-separated, or tab-separated for `.tsv`) with a header row. Quoted fields may hold the
    /// separator, doubled quotes and line breaks.
    ///
    /// Fields and header names are trimmed of spaces; an empty field is `missing`, a field that parses as a
    /// `Double` is a number, anything else is text. A UTF-8 BOM is skipped and blank lines are ignored.
    ///
    /// - Throws: ``ScoreInputError`` for an empty file, a repeated header name, a row whose field count differs
    ///   from the header's, an unterminated quoted field, or bytes that are not UTF-8.
    static func csv(_ bytes: [UInt8], path: String) throws(ScoreInputError) -> ScoreTable {
        let separator: UInt8 = path.lowercased().hasSuffix(".tsv") ? 0x09 : UInt8(ascii: ",")
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false
        var line = 1
        var recordLine = 1
        var i = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { i = 3 }
        func text(_ raw: [UInt8]) throws(ScoreInputError) -> String {
            guard let s = String(validating: raw, as: UTF8.self) else {
                throw ScoreInputError(description: "\(path): line \(line): not UTF-8 text")
            }
            return s
        }
        while i < bytes.count {
            let b = bytes[i]
            if quoted {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") {
                        field.append(b)
                        i += 1
                    } else {
                        quoted = false
                    }
                } else {
                    if b == 0x0A { line += 1 }
                    field.append(b)
                }
            } else if b == UInt8(ascii: "\"") && field.isEmpty {
                quoted = true
            } else if b == separator {
                fields.append(try text(field))
                field = []
            } else if b == 0x0A || b == 0x0D {
                if b == 0x0D, i + 1 < bytes.count, bytes[i + 1] == 0x0A { i += 1 }
                fields.append(try text(field))
                field = []
                if !(fields.count == 1 && fields[0].isEmpty) { records.append((recordLine, fields)) }
                fields = []
                line += 1
                recordLine = line
            } else {
                field.append(b)
            }
            i += 1
        }
        if quoted { throw ScoreInputError(description: "\(path): line \(recordLine): unterminated quoted field") }
        if !field.isEmpty || !fields.isEmpty {
            fields.append(try text(field))
            records.append((recordLine, fields))
        }
        guard let header = records.first else { throw ScoreInputError(description: "\(path): the file is empty") }
        var table = ScoreTable()
        table.columns = header.fields.map { $0.trimmingSpaces() }
        var seen = Set<String>()
        for name in table.columns where !seen.insert(name).inserted {
            throw ScoreInputError(
                description: "\(path): line \(header.line): column \"\(name)\" appears twice in the header")
        }
        table.rows.reserveCapacity(records.count - 1)
        for record in records.dropFirst() {
            guard record.fields.count == table.columns.count else {
                throw ScoreInputError(
                    description:
                        "\(path): line \(record.line): \(record.fields.count) fields, but the header has \(table.columns.count)"
                )
            }
            table.rows.append(
                record.fields.map { raw in
                    let cell = raw.trimmingSpaces()
                    if cell.isEmpty { return .missing }
                    if let d = Double(cell) { return .number(d) }
                    return .text(cell)
                })
            table.origins.append("line \(record.line)")
        }
        return table
    }
}

/// A small JSON parser that knows where it is: errors say `FILE: line L, column C: cause`. Accepts `NaN`,
/// `Infinity` and `-Infinity` (Python's `json.dumps` writes them) as numbers.
struct JSONReader {
    /// A parsed value. Objects keep their members in file order.
    indirect enum Value {
        case null
        case bool(Bool)
        case number(Double)
        case string(String)
        case array([Located])
        case object([(String, Value)])
    }

    /// A value and the line it starts on.
    struct Located {
        var value: Value
        var line: Int
    }

    /// The whole document (or, for JSON Lines, one line of it) as UTF-8 bytes.
    let bytes: [UInt8]
    /// The file name used in error messages.
    let path: String
    /// The line number of `bytes[0]` in the file, so messages about a JSON Lines line name the file's line.
    let firstLine: Int
    /// The read position, an index into `bytes`.
    private var i = 0
    /// The current line number (1-based, counted from `firstLine`).
    private var line: Int
    /// The index of the first byte of the current line, for column numbers.
    private var lineStart = 0

    /// - Parameters:
    ///   - path: The file name used in error messages.
    ///   - firstLine: The line number of the first byte, for a slice of a larger file (one JSON Lines line).
    init(bytes: [UInt8], path: String, firstLine: Int = 1) {
        self.bytes = bytes
        self.path = path
        self.firstLine = firstLine
        self.line = firstLine
    }

    /// An error at the current position, as `PATH: line L, column C: what` (the column counts bytes from 1).
    private func fail(_ what: String) -> ScoreInputError {
        ScoreInputError(description: "\(path): line \(line), column \(i - lineStart + 1): \(what)")
    }

    /// Parses the whole input as one value.
    mutating func parseDocument() throws(ScoreInputError) -> Value {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { i = 3 }
        skip()
        guard i < bytes.count else { throw fail("the file is empty") }
        let v = try value()
        skip()
        guard i == bytes.count else { throw fail("unexpected text after the JSON value") }
        return v
    }

    /// Parses one value starting at `offset`; returns it and where it ended.
    mutating func parseValue(at offset: Int) throws(ScoreInputError) -> (value: Value, end: Int) {
        i = offset
        let v = try value()
        return (v, i)
    }

    /// Skips JSON whitespace, counting lines.
    private mutating func skip() {
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x0A {
                line += 1
                lineStart = i + 1
            } else if b != 0x20 && b != 0x09 && b != 0x0D {
                return
            }
            i += 1
        }
    }

    /// Parses the value that starts at the next non-blank byte.
    private mutating func value() throws(ScoreInputError) -> Value {
        skip()
        guard i < bytes.count else { throw fail("unexpected end of the file") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try word("true"); return .bool(true)
        case UInt8(ascii: "f"): try word("false"); return .bool(false)
        case UInt8(ascii: "n"): try word("null"); return .null
        case UInt8(ascii: "N"): try word("NaN"); return .number(.nan)
        case UInt8(ascii: "I"): try word("Infinity"); return .number(.infinity)
        default: return .number(try number())
        }
    }

    /// Consumes the literal `w` (`true`, `NaN`, `Infinity`...) or fails naming it.
    private mutating func word(_ w: String) throws(ScoreInputError) {
        let u = Array(w.utf8)
        guard i + u.count <= bytes.count, Array(bytes[i..<(i + u.count)]) == u else {
            throw fail("unexpected character '\(Self.show(bytes[i]))'")
        }
        i += u.count
    }

    /// Parses an object from its `{`; members keep their file order and a repeated key is kept twice.
    private mutating func object() throws(ScoreInputError) -> Value {
        i += 1
        var members: [(String, Value)] = []
        skip()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            return .object(members)
        }
        while true {
            skip()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
                throw fail("expected a member name in quotes")
            }
            let key = try string()
            skip()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':' after \"\(key)\"") }
            i += 1
            members.append((key, try value()))
            skip()
            guard i < bytes.count else { throw fail("unexpected end of the file inside an object") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            guard bytes[i] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
            i += 1
            return .object(members)
        }
    }

    /// Parses an array from its `[`, recording the line each item starts on.
    private mutating func array() throws(ScoreInputError) -> Value {
        i += 1
        var items: [Located] = []
        skip()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            i += 1
            return .array(items)
        }
        while true {
            skip()
            let at = line
            items.append(Located(value: try value(), line: at))
            skip()
            guard i < bytes.count else { throw fail("unexpected end of the file inside an array") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            guard bytes[i] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
            i += 1
            return .array(items)
        }
    }

    /// Parses a string from its opening quote, decoding escapes.
    ///
    /// A `\u` escape that is not a Unicode scalar on its own (half of a surrogate pair) becomes U+FFFD. Raw control
    /// characters and invalid UTF-8 are errors.
    private mutating func string() throws(ScoreInputError) -> String {
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw fail("unterminated string") }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                break
            }
            if b < 0x20 { throw fail("control character inside a string") }
            if b == UInt8(ascii: "\\") {
                i += 1
                guard i < bytes.count else { throw fail("unterminated escape") }
                switch bytes[i] {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard i + 4 < bytes.count,
                        let code = UInt32(String(decoding: bytes[(i + 1)...(i + 4)], as: UTF8.self), radix: 16)
                    else { throw fail("invalid \\u escape") }
                    i += 4
                    let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw fail("invalid escape")
                }
                i += 1
                continue
            }
            out.append(b)
            i += 1
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
        return s
    }

    /// Parses a number, including `-Infinity`; the digits are checked by `Double.init`, so its rules apply (more
    /// lenient than strict JSON about leading zeros).
    private mutating func number() throws(ScoreInputError) -> Double {
        let start = i
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "I") {
                try word("Infinity")
                return -.infinity
            }
        }
        while i < bytes.count,
            (bytes[i] >= 0x30 && bytes[i] <= 0x39) || bytes[i] == UInt8(ascii: ".")
                || bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") || bytes[i] == UInt8(ascii: "+")
                || bytes[i] == UInt8(ascii: "-")
        {
            i += 1
        }
        guard i > start, let d = Double(String(decoding: bytes[start..<i], as: UTF8.self)) else {
            if i == start, i < bytes.count { throw fail("unexpected character '\(Self.show(bytes[i]))'") }
            throw fail("invalid number")
        }
        return d
    }

    /// A byte for an error message: printable ASCII as is, anything else as `\xNN`.
    static func show(_ b: UInt8) -> String {
        b >= 0x20 && b < 0x7F ? String(UnicodeScalar(b)) : "\\x\(String(b, radix: 16))"
    }

    /// A short text form of a nested value (arrays and objects in cells).
    static func describe(_ value: Value) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d): return "\(d)"
        case .string(let s): return s
        case .array(let items): return "[" + items.map { describe($0.value) }.joined(separator: ",") + "]"
        case .object(let members): return "{" + members.map { "\($0.0):\(describe($0.1))" }.joined(separator: ",") + "}"
        }
    }
}
