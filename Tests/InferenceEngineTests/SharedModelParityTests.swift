import Foundation
import InferenceEngine
import Testing

/// Every model in Tests/fixtures/models reproduces onnxruntime's expected.json from inputs.json.
@Suite("Parity with onnxruntime on the shared fixtures")
struct SharedModelParityTests {
    static let models = Fixtures.modelNames()

    @Test("the shared fixtures are present")
    func fixturesPresent() {
        #expect(Self.models.count >= 6, "expected the six public fixtures under \(Fixtures.sharedModels.path)")
    }

    @Test("batch of 1,000 rows", arguments: models)
    func batch(_ name: String) throws {
        let dir = Fixtures.sharedModels.appendingPathComponent(name)
        let model = try CompiledModel(contentsOf: dir.appendingPathComponent("model.onnx").path)
        let (rows, feeds) = try BatchIO.readJSONInputs(
            try Fixtures.bytes(dir.appendingPathComponent("inputs.json")), signature: model.signature)
        #expect(rows == 1000)
        let out = try model.run(feeds)
        let problems = compare(out, try Fixtures.expected(dir.appendingPathComponent("expected.json")))
        #expect(problems.isEmpty, "\(name): \(problems)")
    }

    @Test("rows scored one by one", arguments: models)
    func oneByOne(_ name: String) throws {
        let dir = Fixtures.sharedModels.appendingPathComponent(name)
        let model = try CompiledModel(contentsOf: dir.appendingPathComponent("model.onnx").path)
        let (rows, feeds) = try BatchIO.readJSONInputs(
            try Fixtures.bytes(dir.appendingPathComponent("inputs.json")), signature: model.signature)
        let expected = try Fixtures.expected(dir.appendingPathComponent("expected.json"))
        let ctx = model.makeContext()
        var problems: [String] = []
        for r in 0..<rows {
            let out = try model.run(sliceRows(feeds, r, 1), context: ctx)
            problems += compare(out, expected, rowOffset: r, rows: rows).map { "row \(r): \($0)" }
            if problems.count > 5 { break }
        }
        #expect(problems.isEmpty, "\(name): \(problems)")
    }

    @Test("fast predict path agrees with expected labels and scores", arguments: models)
    func predictPath(_ name: String) throws {
        let dir = Fixtures.sharedModels.appendingPathComponent(name)
        let model = try CompiledModel(contentsOf: dir.appendingPathComponent("model.onnx").path)
        let sig = model.signature
        let (rows, feeds) = try BatchIO.readJSONInputs(
            try Fixtures.bytes(dir.appendingPathComponent("inputs.json")), signature: sig)
        // Dense layout.
        var numeric = [Float](repeating: 0, count: rows * sig.numericFeatureCount)
        var strings = [[String]](repeating: [], count: sig.stringFeatureCount)
        for f in sig.features {
            let input = sig.inputs[f.inputIndex]
            let t = feeds[input.name]!
            let width = t.elementCount / max(rows, 1)
            for r in 0..<rows {
                switch t.values {
                case .float(let v): numeric[r * sig.numericFeatureCount + f.position] = v[r * width + f.column]
                case .int64(let v): numeric[r * sig.numericFeatureCount + f.position] = Float(v[r * width + f.column])
                case .string(let v): strings[f.position].append(v[r * width + f.column])
                default: break
                }
            }
        }
        let expected = try Fixtures.expected(dir.appendingPathComponent("expected.json"))
        let labelsExpected = expected.first { $0.name == sig.labelOutput }!.data.map { ($0 as! NSNumber).int64Value }
        let scoreExp = expected.first { $0.name == sig.scoreOutput }!
        let ctx = model.makeContext()
        let result = PredictionResult()
        for batch in [rows, 1] {
            var r = 0
            while r < rows {
                let n = min(batch, rows - r)
                let block = Array(numeric[(r * sig.numericFeatureCount)..<((r + n) * sig.numericFeatureCount)])
                try model.predict(
                    rows: n, numeric: block, strings: strings.map { Array($0[r..<(r + n)]) }, context: ctx, into: result
                )
                #expect(result.labels == Array(labelsExpected[r..<(r + n)]), "\(name) rows \(r)..<\(r + n)")
                let c = result.scoreColumns
                for i in 0..<n {
                    for j in 0..<c {
                        let want: Float
                        if scoreExp.dtype == "map" {
                            let m = scoreExp.data[r + i] as! [String: Any]
                            let key: String
                            switch sig.classLabels {
                            case .int64(let v): key = String(v[j])
                            case .string(let v): key = v[j]
                            case .none: key = String(j)
                            }
                            want = Float((m[key] as! NSNumber).doubleValue)
                        } else {
                            want = Float((scoreExp.data[(r + i) * c + j] as! NSNumber).doubleValue)
                        }
                        #expect(abs(result.scores[i * c + j] - want) <= 1e-5, "\(name) row \(r + i) col \(j)")
                    }
                    #expect(result.confidences[i] == result.scores[(i * c)..<(i * c + c)].max()!)
                }
                r += n
                if batch == 1 && r >= 200 { break }  // 200 single rows are plenty for this path
            }
        }
    }
}
