import Foundation
import InferenceEngine
import Testing

/// The serving path (`predict`, including the fused tree plan) gives exactly what the general path gives.
@Suite("predict agrees with run")
struct PredictPathTests {
    static let dirs: [URL] =
        Fixtures.modelNames().map { Fixtures.sharedModels.appendingPathComponent($0) }
        + Fixtures.modelNames(in: ExtraModelParityTests.dir).map {
            ExtraModelParityTests.dir.appendingPathComponent($0)
        }
        + Fixtures.modelNames(in: ConverterFixtureParityTests.dir).map {
            ConverterFixtureParityTests.dir.appendingPathComponent($0)
        }

    @Test("labels and scores are bit-identical to the general path", arguments: dirs)
    func identical(_ dir: URL) throws {
        let model = try CompiledModel(contentsOf: dir.appendingPathComponent("model.onnx").path)
        let sig = model.signature
        let (rows, feeds) = try BatchIO.readJSONInputs(
            try Fixtures.bytes(dir.appendingPathComponent("inputs.json")), signature: sig)
        var numeric = [Float](repeating: 0, count: rows * sig.numericFeatureCount)
        var strings = [[String]](repeating: [], count: sig.stringFeatureCount)
        for f in sig.features {
            let t = feeds[sig.inputs[f.inputIndex].name]!
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
        let out = try model.run(feeds)
        let result = PredictionResult()
        try model.predict(rows: rows, numeric: numeric, strings: strings, context: model.makeContext(), into: result)
        if let score = sig.scoreOutput, let t = out.first(where: { $0.name == score })?.value {
            switch t.values {
            case .float(let v): #expect(result.scores == v, "\(dir.lastPathComponent) scores")
            case .maps(_, let v): #expect(result.scores == v, "\(dir.lastPathComponent) scores")
            default: Issue.record("unexpected score type")
            }
        }
        if let label = sig.labelOutput, let t = out.first(where: { $0.name == label })?.value {
            switch t.values {
            case .int64(let v): #expect(result.labels == v, "\(dir.lastPathComponent) labels")
            case .string(let v):
                guard case .string(let classes) = sig.classLabels else { Issue.record("no string classes"); return }
                #expect(result.labels.map { classes[Int($0)] } == v, "\(dir.lastPathComponent) labels")
            default: Issue.record("unexpected label type")
            }
        }
    }
}
