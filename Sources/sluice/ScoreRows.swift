import FoundationEssentials
import InferenceEngine

/// A table's rows laid out as the serving path takes them: numeric features row-major in signature order, string
/// features column by column, plus the ids of `--id-column`.
struct FeatureMatrix {
    /// The number of rows (the table's rows; the fixture's first dimension).
    var rows: Int
    /// rows × `numericFeatureCount` values.
    var numeric: [Float]
    /// One array of `rows` values per string feature.
    var strings: [[String]]
    /// The id of each row, when an id column was named.
    var ids: [String]?

    /// Matches the table's columns to the model's features by name (a one-column input may also be named after
    /// the input) and converts every cell; errors name the file, the row and the column.
    ///
    /// A feature of a multi-column input (`X[2]`) may also come from element 2 of a list cell in a column named
    /// after the input (`{"X": [...]}`). Text that parses as a number is accepted for numeric features; a missing
    /// cell becomes NaN, which is an error unless the model handles missing values. String features take numbers as
    /// their text and missing cells as `""`.
    ///
    /// - Throws: ``ScoreInputError`` for features without a column (listing both sides, with a `--feature-names`
    ///   hint when the counts match), a cell of the wrong kind, a NaN the model cannot take, or an unknown
    ///   `idColumn`.
    init(table: ScoreTable, signature: ModelSignature, path: String, idColumn: String?) throws(ScoreInputError) {
        rows = table.rows.count
        let features = signature.features
        // Where each feature comes from: a column, or an element of a list cell named after the input.
        var columnOf: [Int] = []
        var elementOf: [Int?] = []
        var missing: [String] = []
        for feature in features {
            let input = signature.inputs[feature.inputIndex]
            let alone = features.filter { $0.inputIndex == feature.inputIndex }.count == 1
            if let column = table.column(feature.name) ?? (alone ? table.column(input.name) : nil) {
                columnOf.append(column)
                elementOf.append(nil)
            } else if !alone, let column = table.column(input.name) {
                columnOf.append(column)
                elementOf.append(feature.column)
            } else {
                missing.append(feature.name)
                columnOf.append(-1)
                elementOf.append(nil)
            }
        }
        if !missing.isEmpty {
            let available = table.columns.filter { $0 != idColumn }
            var hint = ""
            if signature.stringFeatureCount == 0, available.count == signature.numericFeatureCount {
                hint =
                    "; if your columns are these features in order, pass --feature-names \(available.joined(separator: ","))"
            }
            throw ScoreInputError(
                description:
                    "\(path): no column for feature\(missing.count == 1 ? "" : "s") \(missing.map { "\"\($0)\"" }.joined(separator: ", ")) (the model's features: \(features.map(\.name).joined(separator: ", ")); the file's columns: \(table.columns.joined(separator: ", ")))\(hint)"
            )
        }
        let numericCount = signature.numericFeatureCount
        numeric = [Float](repeating: 0, count: rows * numericCount)
        strings = Array(repeating: [String](repeating: "", count: rows), count: signature.stringFeatureCount)
        for (r, row) in table.rows.enumerated() {
            for (k, feature) in features.enumerated() {
                var cell = row[columnOf[k]]
                if let element = elementOf[k] {
                    guard case .list(let items) = cell, element < items.count else {
                        throw ScoreInputError(
                            description:
                                "\(path): \(table.origins[r]): column \"\(table.columns[columnOf[k]])\" must be a list of at least \(element + 1) values for feature \(feature.name)"
                        )
                    }
                    cell = items[element]
                }
                if case .list = cell {
                    throw ScoreInputError(
                        description:
                            "\(path): \(table.origins[r]): column \"\(table.columns[columnOf[k]])\" holds a list; feature \(feature.name) takes one value"
                    )
                }
                switch feature.kind {
                case .numeric:
                    let value: Float
                    switch cell {
                    case .number(let d): value = Float(d)
                    case .missing, .list: value = .nan
                    case .text(let s):
                        guard let d = Double(s) else {
                            throw ScoreInputError(
                                description:
                                    "\(path): \(table.origins[r]): column \"\(table.columns[columnOf[k]])\": \"\(s)\" is not a number"
                            )
                        }
                        value = Float(d)
                    }
                    if value.isNaN && !signature.acceptsNaN {
                        throw ScoreInputError(
                            description:
                                "\(path): \(table.origins[r]): column \"\(table.columns[columnOf[k]])\" is missing or NaN, and this model cannot take missing values"
                        )
                    }
                    numeric[r * numericCount + feature.position] = value
                case .string:
                    switch cell {
                    case .text(let s): strings[feature.position][r] = s
                    case .number(let d): strings[feature.position][r] = Self.text(d)
                    case .missing, .list: strings[feature.position][r] = ""
                    }
                }
            }
        }
        if let idColumn {
            guard let column = table.column(idColumn) else {
                throw ScoreInputError(
                    description:
                        "\(path): no column \"\(idColumn)\" for --id-column (the file's columns: \(table.columns.joined(separator: ", ")))"
                )
            }
            ids = table.rows.map { row in
                switch row[column] {
                case .text(let s): return s
                case .number(let d): return Self.text(d)
                case .missing, .list: return ""
                }
            }
        }
    }

    /// A number as an id or string feature: integers without a fraction (`42`, not `42.0`).
    static func text(_ d: Double) -> String {
        if d.isFinite, d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return "\(d)"
    }

    /// The rows as named input tensors, for the general (tensor) path.
    ///
    /// Each input gets shape `[rows]` when the model declares it one-dimensional, else `[rows, features]`, and the
    /// element type its ONNX type names: double, float (also when the type is unknown) or int64 (NaN and
    /// infinities become 0).
    func tensors(_ signature: ModelSignature) -> [String: Tensor] {
        var feeds: [String: Tensor] = [:]
        for (k, input) in signature.inputs.enumerated() {
            let features = signature.features.filter { $0.inputIndex == k }.sorted { $0.column < $1.column }
            let width = max(features.count, 1)
            let shape = input.shape?.count == 1 ? [rows] : [rows, width]
            if features.first?.kind == .string {
                var values: [String] = []
                for r in 0..<rows { for f in features { values.append(strings[f.position][r]) } }
                feeds[input.name] = .string(values, shape: shape)
                continue
            }
            let numericCount = signature.numericFeatureCount
            var values: [Float] = []
            for r in 0..<rows { for f in features { values.append(numeric[r * numericCount + f.position]) } }
            // `type` is the ONNX type text, e.g. `tensor(float)`.
            if input.type.contains("(double)") {
                feeds[input.name] = Tensor(shape: shape, values: .double(values.map(Double.init)))
            } else if input.type.contains("(float)") || input.type.isEmpty {
                feeds[input.name] = .float(values, shape: shape)
            } else {
                feeds[input.name] = .int64(values.map { $0.isFinite ? Int64($0) : 0 }, shape: shape)
            }
        }
        return feeds
    }
}

extension ScoreTable {
    /// The fixture layout's tensors as a table with one column per feature.
    ///
    /// Rows are named `row N` in messages. Feeds of missing inputs leave their cells `missing`; map-valued tensors
    /// are not representable as cells and stay `missing` too.
    static func fromTensors(_ feeds: [String: Tensor], rows: Int, signature: ModelSignature) -> ScoreTable {
        var table = ScoreTable()
        table.columns = signature.features.map(\.name)
        table.rows = Array(repeating: [Cell](repeating: .missing, count: table.columns.count), count: rows)
        table.origins = (0..<rows).map { "row \($0 + 1)" }
        for (k, feature) in signature.features.enumerated() {
            guard let tensor = feeds[signature.inputs[feature.inputIndex].name], rows > 0 else { continue }
            let width = tensor.elementCount / rows
            for r in 0..<rows {
                let index = r * width + feature.column
                switch tensor.values {
                case .float(let v): table.rows[r][k] = .number(Double(v[index]))
                case .double(let v): table.rows[r][k] = .number(v[index])
                case .int64(let v): table.rows[r][k] = .number(Double(v[index]))
                case .bool(let v): table.rows[r][k] = .number(v[index] ? 1 : 0)
                case .string(let v): table.rows[r][k] = .text(v[index])
                case .maps: break
                }
            }
        }
        return table
    }
}

/// Renders one output row per input row: id, label, class scores, confidence (regressors: the value).
struct RowWriter {
    /// `json`, `jsonl` or `csv`.
    let format: OutputFormat
    let signature: ModelSignature
    /// Whether rows start with an `id` field (`--id-column` was given).
    let withID: Bool
    /// Class names in score order ("0", "1", or the string labels).
    let classes: [String]

    /// - Parameters:
    ///   - format: The row format (json, jsonl or csv); `tensors` output does not go through this writer.
    ///   - withID: Whether each row starts with the `--id-column` value (`id`).
    init(format: OutputFormat, signature: ModelSignature, withID: Bool) {
        self.format = format
        self.signature = signature
        self.withID = withID
        switch signature.classLabels {
        case .int64(let v): classes = v.map(String.init)
        case .string(let v): classes = v
        case .none: classes = (0..<signature.scoreColumns).map(String.init)
        }
    }

    /// Classifiers write label, per-class scores and confidence; everything else writes one `value`.
    private var isClassifier: Bool { signature.task == .classifier }

    /// What precedes the first row: `[` for JSON, the column names for CSV (`id`, `label`, `score_<class>`...,
    /// `confidence`, or `value` for a regressor), nothing for JSON Lines.
    func header() -> String {
        switch format {
        case .json: return "["
        case .csv:
            var columns = withID ? ["id"] : []
            if isClassifier {
                columns += ["label"] + classes.map { "score_" + $0 } + ["confidence"]
            } else {
                columns.append("value")
            }
            return columns.map(csvField).joined(separator: ",") + "\n"
        default: return ""
        }
    }

    /// What follows the last row: the closing `]` of a JSON array, nothing otherwise.
    func footer() -> String { format == .json ? "\n]\n" : "" }

    /// One row of `result` (row index within the last batch); `first` marks the first row of the whole output.
    func row(_ result: PredictionResult, row: Int, id: String?, first: Bool) -> String {
        let columns = result.scoreColumns
        if format == .csv {
            var fields: [String] = withID ? [csvField(id ?? "")] : []
            if isClassifier {
                fields.append(csvField(label(result, row)))
                for c in 0..<classes.count {
                    fields.append(c < columns ? number(result.scores[row * columns + c]) : "")
                }
                fields.append(number(result.confidences[row]))
            } else {
                fields.append(number(result.scores[row * max(columns, 1)]))
            }
            return fields.joined(separator: ",") + "\n"
        }
        var object = "{"
        if withID { object += "\"id\":\(quote(id ?? ""))," }
        if isClassifier {
            if case .int64 = signature.classLabels {
                object += "\"label\":\(label(result, row)),"
            } else {
                object += "\"label\":\(quote(label(result, row))),"
            }
            object += "\"scores\":{"
            for c in 0..<min(classes.count, columns) {
                if c > 0 { object += "," }
                object += "\(quote(classes[c])):\(jsonNumber(result.scores[row * columns + c]))"
            }
            object += "},\"confidence\":\(jsonNumber(result.confidences[row]))}"
        } else {
            object += "\"value\":\(jsonNumber(result.scores[row * max(columns, 1)]))}"
        }
        switch format {
        case .json: return (first ? "\n" : ",\n") + object
        default: return object + "\n"
        }
    }

    /// The predicted label of `row`: the string label by index for string labels, else the integer label as text.
    private func label(_ result: PredictionResult, _ row: Int) -> String {
        switch signature.classLabels {
        case .string(let labels):
            let index = Int(result.labelIndices[row])
            return labels.indices.contains(index) ? labels[index] : ""
        default: return String(result.labels[row])
        }
    }

    /// A CSV number; NaN becomes an empty field.
    private func number(_ v: Float) -> String { v.isNaN ? "" : "\(v)" }
    /// A JSON number; NaN and infinities, which JSON cannot hold, become `null`.
    private func jsonNumber(_ v: Float) -> String { v.isFinite ? "\(v)" : "null" }

    private func quote(_ s: String) -> String { StderrLogHandler.jsonString(s) }

    /// Quotes a CSV field that holds a comma, a quote or a line break, doubling the quotes inside (RFC 4180).
    private func csvField(_ s: String) -> String {
        if s.contains(",") || s.contains("\"") || s.contains("\n") {
            return "\"" + s.replacing("\"", with: "\"\"") + "\""
        }
        return s
    }
}
