import Foundation
import InferenceEngine
import Testing

/// The committed converter fixtures (`Tests/fixtures/converters`, written by
/// `Tests/models/make_converter_fixtures.py`: Spark ML pipelines through onnxmltools' `convert_sparkml`, CatBoost's
/// own ONNX export, scikit-learn HistGradientBoosting through skl2onnx) load as the converters wrote them and
/// reproduce onnxruntime's outputs, in one batch and one row at a time.
@Suite("Parity with onnxruntime on the converter fixtures")
struct ConverterFixtureParityTests {
    static let dir = Fixtures.repoRoot.appendingPathComponent("Tests/fixtures/converters")
    static let models = Fixtures.modelNames(in: dir)

    @Test("every converter family has fixtures")
    func coverage() {
        for prefix in ["spark_", "catboost_", "skl_histgb_"] {
            #expect(Self.models.contains { $0.hasPrefix(prefix) }, "no \(prefix)* fixture in \(Self.dir.path)")
        }
    }

    @Test("batch", arguments: models)
    func batch(_ name: String) throws {
        let d = Self.dir.appendingPathComponent(name)
        let model = try CompiledModel(contentsOf: d.appendingPathComponent("model.onnx").path)
        let (_, feeds) = try BatchIO.readJSONInputs(
            try Fixtures.bytes(d.appendingPathComponent("inputs.json")), signature: model.signature)
        let problems = compare(try model.run(feeds), try Fixtures.expected(d.appendingPathComponent("expected.json")))
        #expect(problems.isEmpty, "\(name): \(problems)")
    }

    @Test("one row at a time", arguments: models)
    func oneByOne(_ name: String) throws {
        let d = Self.dir.appendingPathComponent(name)
        let model = try CompiledModel(contentsOf: d.appendingPathComponent("model.onnx").path)
        let (rows, feeds) = try BatchIO.readJSONInputs(
            try Fixtures.bytes(d.appendingPathComponent("inputs.json")), signature: model.signature)
        let expected = try Fixtures.expected(d.appendingPathComponent("expected.json"))
        let ctx = model.makeContext()
        var problems: [String] = []
        for r in 0..<rows {
            problems += compare(try model.run(sliceRows(feeds, r, 1), context: ctx), expected, rowOffset: r, rows: rows)
                .map { "row \(r): \($0)" }
            if problems.count > 3 { break }
        }
        #expect(problems.isEmpty, "\(name): \(problems)")
    }
}
