import TextFormats

/// Rows of training data read from CSV (header row) or JSON Lines (one object per line), by column name.
///
/// Used offline by `sluice models profile`; not on the serving path. Parquet is converted first (see
/// docs/monitoring.md).
public struct TabularFile: Sendable {
    /// One cell as read: a number (JSON), text (CSV cells and JSON strings) or missing (empty CSV cell, JSON null
    /// or absent key).
    public enum Cell: Sendable, Equatable {
        case number(Double)
        case text(String)
        case missing
    }

    public private(set) var columns: [String: [Cell]] = [:]
    public private(set) var rows = 0

    /// Parses `bytes`: JSON Lines when the first non-blank character is `{`, CSV otherwise.
    public init(bytes: [UInt8]) throws(ProfileError) {
        let text = String(decoding: bytes, as: UTF8.self)
        let first = text.first { !$0.isWhitespace && $0 != "\u{FEFF}" }
        if first == "{" { try readJSONLines(text) } else { try readCSV(text) }
    }

    private mutating func readCSV(_ text: String) throws(ProfileError) {
        var lines = text.split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
        guard !lines.isEmpty else { throw ProfileError("the data file is empty") }
        let header = Self.splitCSV(String(lines.removeFirst())).map {
            $0.trimmingSpaces().replacing("\u{FEFF}", with: "")
        }
        guard Set(header).count == header.count else { throw ProfileError("the CSV header names a column twice") }
        var cells = header.map { _ in [Cell]() }
        for (index, line) in lines.enumerated() {
            let fields = Self.splitCSV(String(line))
            if fields.count == 1 && fields[0].trimmingSpaces().isEmpty { continue }
            guard fields.count == header.count else {
                throw ProfileError("CSV line \(index + 2) has \(fields.count) fields; the header has \(header.count)")
            }
            for (column, field) in fields.enumerated() {
                let trimmed = field.trimmingSpaces()
                cells[column].append(trimmed.isEmpty ? .missing : .text(trimmed))
            }
            rows += 1
        }
        for (column, name) in header.enumerated() { columns[name] = cells[column] }
    }

    private mutating func readJSONLines(_ text: String) throws(ProfileError) {
        var cells: [String: [Cell]] = [:]
        for (index, line) in text.split(separator: "\n").enumerated() {
            let trimmed = line.trimmingWhitespace()
            if trimmed.isEmpty { continue }
            let object: JSONValue
            do { object = try JSONParser.parse(Array(trimmed.utf8)) } catch {
                throw ProfileError("JSON Lines line \(index + 1) is not valid JSON")
            }
            guard case .object(let row) = object else {
                // A bare number, string or literal is not a JSON document to a strict reader.
                if case .array = object { throw ProfileError("JSON Lines line \(index + 1) is not an object") }
                throw ProfileError("JSON Lines line \(index + 1) is not valid JSON")
            }
            for (key, value) in row {
                let cell: Cell
                switch value {
                case .number(let number): cell = .number(number)
                // A JSON boolean counts as the number 1 or 0, as Foundation's JSON reader gave it.
                case .bool(let flag): cell = .number(flag ? 1 : 0)
                case .string(let string): cell = .text(string)
                case .null: cell = .missing
                case .array, .object:
                    throw ProfileError("JSON Lines line \(index + 1): \"\(key)\" must be a number, a string or null")
                }
                if cells[key] == nil { cells[key] = Array(repeating: .missing, count: rows) }
                cells[key]!.append(cell)
            }
            rows += 1
            for key in cells.keys where cells[key]!.count < rows { cells[key]!.append(.missing) }
        }
        guard rows > 0 else { throw ProfileError("the data file is empty") }
        columns = cells
    }

    /// A numeric column (missing cells are NaN), converted through Float as the server does with requests.
    public func numbers(_ name: String) throws(ProfileError) -> [Double] {
        guard let column = columns[name] else { throw missingColumn(name) }
        var out: [Double] = []
        out.reserveCapacity(column.count)
        for (row, cell) in column.enumerated() {
            switch cell {
            case .number(let value): out.append(Double(Float(value)))
            case .missing: out.append(.nan)
            case .text(let text):
                guard let value = Double(text) else {
                    throw ProfileError("row \(row + 1), column \"\(name)\": \"\(text)\" is not a number")
                }
                out.append(Double(Float(value)))
            }
        }
        return out
    }

    /// A categorical column (missing cells are the empty string; JSON numbers as their shortest text).
    public func strings(_ name: String) throws(ProfileError) -> [String] {
        guard let column = columns[name] else { throw missingColumn(name) }
        return column.map { cell in
            switch cell {
            case .text(let text): return text
            case .missing: return ""
            case .number(let value):
                return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
            }
        }
    }

    private func missingColumn(_ name: String) -> ProfileError {
        ProfileError("the data has no column \"\(name)\" (columns: \(columns.keys.sorted().joined(separator: ", ")))")
    }

    /// Splits one CSV line, honouring double quotes ("" inside quotes is a quote).
    static func splitCSV(_ line: String) -> [String] {
        var fields: [String] = []
        var field = ""
        var quoted = false
        var iterator = line.makeIterator()
        while let character = iterator.next() {
            if quoted {
                if character == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" { field.append("\"") } else {
                            quoted = false
                            if next == "," { fields.append(field); field = "" } else { field.append(next) }
                        }
                    } else { quoted = false }
                } else { field.append(character) }
            } else if character == "," {
                fields.append(field)
                field = ""
            } else if character == "\"" && field.isEmpty {
                quoted = true
            } else {
                field.append(character)
            }
        }
        fields.append(field)
        return fields
    }
}
