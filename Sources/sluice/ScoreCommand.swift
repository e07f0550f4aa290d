import ArgumentParser
import FoundationEssentials
import InferenceEngine
import TextFormats

#if canImport(Glibc)
    import Glibc
#endif

/// `sluice score`: scores a file of rows offline through the same engine the server uses.
///
/// The whole input is read into memory, converted to a ``FeatureMatrix`` and scored in batches of `--batch-size`
/// rows on the calling thread; the output text is built in memory and written in one piece at the end.
/// Every user error is a ``ScoreInputError`` (or a file or engine error) printed as `error: ...` with exit status 1.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score rows from a JSON, JSON Lines or CSV file with an ONNX model (no server).",
        discussion: """
            Input (detected from the content; .jsonl/.ndjson and .csv/.tsv by extension):
              records     [{"age": 42, "income": 51000, ...}, ...]  (pandas: orient="records")
              JSON Lines  one {"age": 42, ...} object per line
              CSV         a header row, then one row per line
              fixture     {"inputs": [{"name", "shape", "data"}]}   (Tests/fixtures/models/*/inputs.json)

            Columns are matched to the model's features by name (`sluice inspect MODEL` lists them). A model \
            with one multi-column input (X[N,4]) has features X[0]...X[3]: --feature-names \
            age,income,tenure,score names them after your columns instead, and JSON rows may hold the whole \
            input as one list ({"X": [42, 51000, 17, 640]}).

            Output, one row per input row: the id (--id-column), the label, the class scores and the \
            confidence (regressors: the value). --format json (an array), jsonl or csv; by default from the \
            --output extension, else json. --format tensors writes the raw model outputs in the expected.json \
            layout (the default for fixture input).

            Progress goes to stderr when the input has more than 100,000 rows and stderr is a terminal. Every \
            error names the file, the line or record, and the cause.
            """
    )

    /// Loaded as a ``CompiledModel``, the engine the server uses.
    @Option(name: .long, help: "Path of the .onnx model.")
    var model: String

    /// The format is detected from the extension and the content (``ScoreInputKind/detect(_:path:)``).
    @Option(name: .long, help: "Rows to score: JSON records, JSON Lines, CSV, or the fixture layout.")
    var input: String

    /// Opened (and truncated) before scoring; removed again when scoring or writing fails.
    @Option(name: .long, help: "Where to write predictions; standard output when omitted.")
    var output: String?

    /// One of ``OutputFormat``'s raw values; `nil` infers it with ``OutputFormat/infer(_:fixture:)``.
    @Option(name: .long, help: "Output format: json, jsonl, csv or tensors. (default: from --output, else json)")
    var format: String?

    /// Replaces the names of the numeric features in order, so columns can be matched by their own names.
    @Option(
        name: .customLong("feature-names"),
        help: "Comma-separated names for the model's numeric columns in order (e.g. for an X[N,4] input).")
    var featureNames: String?

    /// Row output only: `--format tensors` refuses it.
    @Option(name: .customLong("id-column"), help: "Input column copied to each output row as its id.")
    var idColumn: String?

    /// Rows per engine call, at least 1; `nil`: 10,000 rows for row output, all rows in one call for tensors.
    @Option(name: .long, help: "Rows per engine call. (default: 10000; tensors: all rows in one call)")
    var batchSize: Int?

    /// Rejects an unknown `--format` and a `--batch-size` below 1 before the model is loaded.
    func validate() throws {
        if let format, OutputFormat(rawValue: format) == nil {
            throw ValidationError("--format must be json, jsonl, csv or tensors")
        }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
    }

    /// Scores the input and writes the result; a failure the user can fix prints `error: MESSAGE` on stderr and exits
    /// 1.
    ///
    /// Only input, file and engine errors are caught here; anything else propagates to ArgumentParser.
    func run() throws {
        do {
            try score()
        } catch let error as ScoreInputError {
            fail(error.description)
        } catch let error as FileAccess.Failure {
            fail(error.description)
        } catch let error as EngineError {
            fail(error.message)
        }
    }

    /// Prints `error: message` on stderr and exits the process with status 1.
    private func fail(_ message: String) -> Never {
        FileAccess.writeStandardError("error: \(message)\n")
        Glibc.exit(1)
    }

    /// Loads the model, reads and detects the input, scores it and writes the text in one piece.
    ///
    /// The output file is opened before scoring, so an unwritable path fails at once; when anything fails after that,
    /// the partly written output file is removed, so no truncated predictions are left behind.
    ///
    /// - Throws: ``ScoreInputError`` (naming the file and the line or record), `FileAccess.Failure`, or `EngineError`.
    private func score() throws {
        let names = featureNames.map { $0.split(separator: ",").map { $0.trimmingSpaces() } }
        let compiled: CompiledModel
        do { compiled = try CompiledModel(contentsOf: model, featureNames: names) } catch {
            throw ScoreInputError(description: "\(model): \(error.message)")
        }
        let bytes = try FileAccess.read(input)
        let kind = ScoreInputKind.detect(bytes, path: input)
        let chosen =
            format.flatMap(OutputFormat.init(rawValue:)) ?? OutputFormat.infer(output, fixture: kind == .fixture)
        if chosen == .tensors && idColumn != nil {
            throw ScoreInputError(description: "--id-column needs row output (--format json, jsonl or csv)")
        }
        // Fail on an unwritable output before scoring anything.
        let sink = try output.map(FileAccess.openForWriting)
        do {
            let text: String
            if chosen == .tensors {
                text = try tensorOutput(compiled, bytes: bytes, kind: kind)
            } else {
                let table = try readTable(bytes, kind: kind, signature: compiled.signature)
                text = try rowOutput(compiled, table: table, format: chosen)
            }
            if let sink {
                guard sink.write(text) else {
                    throw FileAccess.Failure(description: "cannot write \(output ?? ""): \(FileAccess.reason())")
                }
            } else {
                FileAccess.writeStandardOutput(text)
            }
        } catch {
            if let output { unlink(output) }
            throw error
        }
    }

    /// Reads records, JSON Lines or CSV into a table; the fixture layout is turned into one too.
    ///
    /// The fixture layout is parsed twice: first by ``JSONReader`` for syntax errors with line and column, then by
    /// `BatchIO` for the tensors.
    private func readTable(_ bytes: [UInt8], kind: ScoreInputKind, signature: ModelSignature) throws -> ScoreTable {
        switch kind {
        case .records: return try ScoreTable.records(bytes, path: input)
        case .jsonLines: return try ScoreTable.jsonLines(bytes, path: input)
        case .csv: return try ScoreTable.csv(bytes, path: input)
        case .fixture:
            var reader = JSONReader(bytes: bytes, path: input)
            _ = try reader.parseDocument()  // precise syntax errors first
            let (rows, feeds): (Int, [String: Tensor])
            do { (rows, feeds) = try BatchIO.readJSONInputs(bytes, signature: signature) } catch {
                throw ScoreInputError(description: "\(input): \(error.message)")
            }
            return ScoreTable.fromTensors(feeds, rows: rows, signature: signature)
        }
    }

    /// The raw outputs in the expected.json layout (fixture input or CSV, all rows through the general path).
    private func tensorOutput(_ compiled: CompiledModel, bytes: [UInt8], kind: ScoreInputKind) throws -> String {
        let rows: Int
        let feeds: [String: Tensor]
        if kind == .fixture {
            var reader = JSONReader(bytes: bytes, path: input)
            _ = try reader.parseDocument()
            do { (rows, feeds) = try BatchIO.readJSONInputs(bytes, signature: compiled.signature) } catch {
                throw ScoreInputError(description: "\(input): \(error.message)")
            }
        } else {
            let table = try readTable(bytes, kind: kind, signature: compiled.signature)
            let matrix = try FeatureMatrix(table: table, signature: compiled.signature, path: input, idColumn: nil)
            (rows, feeds) = (matrix.rows, matrix.tensors(compiled.signature))
        }
        let outputs: [(name: String, value: Tensor)]
        do { outputs = try runTensors(compiled, rows: rows, feeds: feeds) } catch {
            throw ScoreInputError(description: "\(input): \(error.message)")
        }
        return BatchIO.writeJSONOutputs(outputs, signature: compiled.signature)
    }

    /// Scores the table in batches through the serving path and renders one output row per input row.
    ///
    /// One ``ExecutionContext`` and one ``PredictionResult`` are reused for every batch.
    ///
    /// - Throws: ``ScoreInputError`` for a column mismatch (from ``FeatureMatrix``) or an engine error, naming the
    ///   rows of the failed batch; an unsupported model gets a hint to use `--format tensors`.
    private func rowOutput(_ compiled: CompiledModel, table: ScoreTable, format: OutputFormat) throws -> String {
        let signature = compiled.signature
        let matrix = try FeatureMatrix(table: table, signature: signature, path: input, idColumn: idColumn)
        let writer = RowWriter(format: format, signature: signature, withID: idColumn != nil)
        var text = writer.header()
        let context = compiled.makeContext()
        let result = PredictionResult()
        let batch = batchSize ?? 10_000
        let progress = Progress(total: matrix.rows)
        var start = 0
        while start < matrix.rows {
            let count = min(batch, matrix.rows - start)
            let width = signature.numericFeatureCount
            do {
                try matrix.numeric.withUnsafeBufferPointer { all in
                    let slice = UnsafeBufferPointer(rebasing: all[(start * width)..<((start + count) * width)])
                    let strings = matrix.strings.map { Array($0[start..<(start + count)]) }
                    try compiled.predict(rows: count, numeric: slice, strings: strings, context: context, into: result)
                }
            } catch let error as EngineError {
                let origin =
                    count == 1 ? table.origins[start] : "\(table.origins[start]) to \(table.origins[start + count - 1])"
                let hint = error.kind == .unsupported ? "; --format tensors writes its raw outputs instead" : ""
                throw ScoreInputError(description: "\(input): \(origin): \(error.message)\(hint)")
            }
            for row in 0..<count {
                text += writer.row(result, row: row, id: matrix.ids.map { $0[start + row] }, first: start + row == 0)
            }
            start += count
            progress.update(start)
        }
        progress.finish()
        return text + writer.footer()
    }

    /// Runs the general path, in batches when `--batch-size` is given, and concatenates the outputs.
    private func runTensors(_ m: CompiledModel, rows: Int, feeds: [String: Tensor]) throws(EngineError) -> [(
        name: String, value: Tensor
    )] {
        let batch = batchSize ?? max(rows, 1)
        if batch >= rows { return try m.run(feeds) }
        let ctx = m.makeContext()
        var parts: [[(name: String, value: Tensor)]] = []
        var start = 0
        while start < rows {
            let n = min(batch, rows - start)
            parts.append(try m.run(Self.slice(feeds, start, n), context: ctx))
            start += n
        }
        return Self.concatenate(parts)
    }

    /// Rows `start..<start + count` of every feed: the first dimension is the row; the others stay as they are.
    static func slice(_ feeds: [String: Tensor], _ start: Int, _ count: Int) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, t) in feeds {
            let rows = t.shape.first ?? 1
            let per = rows == 0 ? 0 : t.elementCount / rows
            var shape = t.shape
            if !shape.isEmpty { shape[0] = count }
            let r = (start * per)..<((start + count) * per)
            switch t.values {
            case .float(let v): out[name] = Tensor(shape: shape, values: .float(Array(v[r])))
            case .double(let v): out[name] = Tensor(shape: shape, values: .double(Array(v[r])))
            case .int64(let v): out[name] = Tensor(shape: shape, values: .int64(Array(v[r])))
            case .bool(let v): out[name] = Tensor(shape: shape, values: .bool(Array(v[r])))
            case .string(let v): out[name] = Tensor(shape: shape, values: .string(Array(v[r])))
            case .maps(let k, let v): out[name] = Tensor(shape: shape, values: .maps(keys: k, values: Array(v[r])))
            }
        }
        return out
    }

    /// Joins the outputs of consecutive batches along the first dimension, output by output.
    ///
    /// Every part must list the same outputs in the same order (one model run each); a pair of tensors whose element
    /// types differ keeps the first part's values.
    static func concatenate(_ parts: [[(name: String, value: Tensor)]]) -> [(name: String, value: Tensor)] {
        guard var result = parts.first else { return [] }
        for part in parts.dropFirst() {
            for k in result.indices {
                var t = result[k].value
                let u = part[k].value
                if !t.shape.isEmpty { t.shape[0] += u.shape.first ?? 0 }
                switch (t.values, u.values) {
                case (.float(let a), .float(let b)): t.values = .float(a + b)
                case (.double(let a), .double(let b)): t.values = .double(a + b)
                case (.int64(let a), .int64(let b)): t.values = .int64(a + b)
                case (.bool(let a), .bool(let b)): t.values = .bool(a + b)
                case (.string(let a), .string(let b)): t.values = .string(a + b)
                case (.maps(let k, let a), .maps(_, let b)): t.values = .maps(keys: k, values: a + b)
                default: break
                }
                result[k].value = t
            }
        }
        return result
    }
}

/// How `sluice score` writes its answers.
enum OutputFormat: String {
    /// `json`: one array of row objects; `jsonl`: one row object per line; `csv`: a header and one line per row;
    /// `tensors`: the raw model outputs in the fixture's expected.json layout.
    case json, jsonl, csv, tensors

    /// From the output file's extension; fixture input keeps the tensor layout it always had.
    static func infer(_ output: String?, fixture: Bool) -> OutputFormat {
        let lower = output?.lowercased() ?? ""
        if lower.hasSuffix(".csv") { return .csv }
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") { return .jsonl }
        return fixture ? .tensors : .json
    }
}

/// Progress on stderr for inputs over 100,000 rows, only when stderr is a terminal.
final class Progress {
    private let total: Int
    private let enabled: Bool
    /// The percentage last written, so the line is rewritten at most 101 times.
    private var lastShown = -1

    /// - Parameter total: The number of rows to score; progress is shown only above 100,000 rows on a terminal.
    init(total: Int) {
        self.total = total
        enabled = total > 100_000 && isatty(2) == 1
    }

    /// Rewrites the progress line (`\r`) when the whole percentage of `done` rows out of the total has changed.
    func update(_ done: Int) {
        guard enabled else { return }
        let percent = done * 100 / max(total, 1)
        guard percent != lastShown else { return }
        lastShown = percent
        FileAccess.writeStandardError("\rscored \(done) of \(total) rows (\(percent)%)")
    }

    /// Ends the progress line, so later stderr output starts on a line of its own.
    func finish() {
        if enabled { FileAccess.writeStandardError("\n") }
    }
}
