import Foundation
import InferenceEngine
import Testing

/// The engine benchmark models committed under bench/models (built by bench/make_engine_models.py: LightGBM
/// leaf-wise binary and 3-class, XGBoost with NaN, scikit-learn forest and boosting) reproduce onnxruntime's
/// outputs in a batch, one row at a time, and in odd-sized batches that leave the last eight-row block partial,
/// so every kernel the engine picks for them (leaf masks, depth walk) is checked against the reference.
@Suite("Parity with onnxruntime on the benchmark models")
struct BenchmarkModelParityTests {
    static let dir = Fixtures.repoRoot.appendingPathComponent("bench/models")
    static let models = Fixtures.modelNames(in: dir)

    @Test("the benchmark set is present")
    func present() {
        #expect(Self.models.contains("lgbm_200x31_binary"), "bench/models: \(Self.models)")
    }

    @Test("batch, single rows and partial blocks", arguments: models)
    func parity(_ name: String) throws {
        let d = Self.dir.appendingPathComponent(name)
        let model = try CompiledModel(contentsOf: d.appendingPathComponent("model.onnx").path)
        let (rows, feeds) = try BatchIO.readJSONInputs(
            try Fixtures.bytes(d.appendingPathComponent("inputs.json")), signature: model.signature)
        let expected = try Fixtures.expected(d.appendingPathComponent("expected.json"))
        var problems = compare(try model.run(feeds), expected).map { "batch: \($0)" }
        let ctx = model.makeContext()
        var start = 0
        // Batches of 1, 3, 13, 1, 3, 13, ... rows.
        for size in [1, 3, 13].lazy.cycled() {
            guard start < rows, problems.count <= 3 else { break }
            let count = min(size, rows - start)
            problems += compare(
                try model.run(sliceRows(feeds, start, count), context: ctx), expected, rowOffset: start, rows: rows
            ).map { "rows \(start)..<\(start + count): \($0)" }
            start += count
        }
        #expect(problems.isEmpty, "\(name): \(problems)")
    }
}

extension Sequence {
    /// This sequence repeated without end.
    fileprivate func cycled() -> AnySequence<Element> {
        AnySequence { () -> AnyIterator<Element> in
            var it = self.makeIterator()
            return AnyIterator {
                if let v = it.next() { return v }
                it = self.makeIterator()
                return it.next()
            }
        }
    }
}
