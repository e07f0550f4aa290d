import ArgumentParser
import Foundation
import InferenceEngine

/// `sluice score`: scores a file of rows offline through the same engine the server uses.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score rows from a JSON or CSV file with an ONNX model (no server).",
        discussion: """
            Input: the JSON layout of Tests/fixtures/models/*/inputs.json ({"inputs": [{"name", "shape", "data"}]}) \
            or CSV with a header row (columns named after the model's features or inputs). Output: the \
            expected.json layout ({"outputs": [{"name", "type", "dtype", "shape", "data"}]}), to --output \
            or standard output.
            """
    )

    @Option(name: .long, help: "Path of the .onnx model.")
    var model: String

    @Option(name: .long, help: "Rows to score: .json (inputs.json layout) or .csv with a header row.")
    var input: String

    @Option(name: .long, help: "Where to write predictions (JSON); standard output when omitted.")
    var output: String?

    @Option(name: .long, help: "Rows per engine call (default: all rows in one call; 1 scores rows one by one).")
    var batchSize: Int?

    func run() throws {
        do {
            let compiled = try CompiledModel(contentsOf: model)
            let bytes = try readInput()
            let isJSON =
                bytes.first(where: { ![0x20, 0x09, 0x0a, 0x0d, 0xef, 0xbb, 0xbf].contains($0) }) == UInt8(ascii: "{")
            let (rows, feeds) =
                isJSON
                ? try BatchIO.readJSONInputs(bytes, signature: compiled.signature)
                : try BatchIO.readCSV(String(decoding: bytes, as: UTF8.self), signature: compiled.signature)
            let outputs = try score(compiled, rows: rows, feeds: feeds)
            let text = BatchIO.writeJSONOutputs(outputs, signature: compiled.signature)
            if let output {
                try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
            } else {
                FileHandle.standardOutput.write(Data(text.utf8))
            }
        } catch let error as EngineError {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
    }

    private func readInput() throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: input) else {
            throw EngineError(.invalidInput, "cannot read \(input)")
        }
        return [UInt8](data)
    }

    /// Runs the general path in batches and concatenates the outputs.
    private func score(_ m: CompiledModel, rows: Int, feeds: [String: Tensor]) throws -> [(name: String, value: Tensor)]
    {
        let batch = max(1, batchSize ?? max(rows, 1))
        if batch >= rows { return try m.run(feeds) }
        guard batchSize.map({ $0 >= 1 }) ?? true else {
            throw EngineError(.invalidInput, "--batch-size must be at least 1")
        }
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
