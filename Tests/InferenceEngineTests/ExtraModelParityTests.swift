import Foundation
import InferenceEngine
import Testing

/// The extra models built by Tests/models/make_models.py (regressors, boosting, XGBoost, LightGBM, imputer,
/// normalizers, string labels, unknown categories) reproduce onnxruntime's outputs. Run make_models.py first;
/// without its output directory these tests have no cases.
@Suite("Parity with onnxruntime on the generated models")
struct ExtraModelParityTests {
    static let dir = Fixtures.repoRoot.appendingPathComponent("Tests/integration/_models")
    static let models = Fixtures.modelNames(in: dir)

    @Test("batch", arguments: models)
    func batch(_ name: String) throws {
        let d = Self.dir.appendingPathComponent(name)
        let model = try CompiledModel(contentsOf: d.appendingPathComponent("model.onnx").path)
        let (_, feeds) = try BatchIO.readJSONInputs(try Fixtures.bytes(d.appendingPathComponent("inputs.json")), signature: model.signature)
        let problems = compare(try model.run(feeds), try Fixtures.expected(d.appendingPathComponent("expected.json")))
        #expect(problems.isEmpty, "\(name): \(problems)")
    }

    @Test("one row at a time", arguments: models)
    func oneByOne(_ name: String) throws {
        let d = Self.dir.appendingPathComponent(name)
        let model = try CompiledModel(contentsOf: d.appendingPathComponent("model.onnx").path)
        let (rows, feeds) = try BatchIO.readJSONInputs(try Fixtures.bytes(d.appendingPathComponent("inputs.json")), signature: model.signature)
        let expected = try Fixtures.expected(d.appendingPathComponent("expected.json"))
        let ctx = model.makeContext()
        var problems: [String] = []
        for r in 0..<rows {
            problems += compare(try model.run(sliceRows(feeds, r, 1), context: ctx), expected, rowOffset: r, rows: rows).map { "row \(r): \($0)" }
            if problems.count > 3 { break }
        }
        #expect(problems.isEmpty, "\(name): \(problems)")
    }
}
