import Foundation
import InferenceEngine
import Testing

@Suite("Compiled models are shared across threads")
struct ConcurrencyTests {
    @Test("four threads scoring one model with their own contexts get identical results")
    func sharedModel() throws {
        let dir = Fixtures.sharedModels.appendingPathComponent("skl_rf_churn")
        let model = try CompiledModel(contentsOf: dir.appendingPathComponent("model.onnx").path)
        let rows = 64
        let numeric = (0..<(rows * 4)).map { Float(($0 * 7919) % 997) / 10 }
        let reference = PredictionResult()
        try model.predict(rows: rows, numeric: numeric, context: model.makeContext(), into: reference)
        let refLabels = reference.labels, refScores = reference.scores
        let mismatches = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            let ctx = model.makeContext()
            let r = PredictionResult()
            for i in 0..<200 {
                let n = 1 + i % rows
                do {
                    try model.predict(rows: n, numeric: Array(numeric[0..<(n * 4)]), context: ctx, into: r)
                } catch {
                    mismatches.withLock { $0 += 1 }
                    continue
                }
                if r.labels != Array(refLabels[0..<n]) || r.scores != Array(refScores[0..<(n * 2)]) {
                    mismatches.withLock { $0 += 1 }
                }
            }
        }
        #expect(mismatches.withLock { $0 } == 0)
    }

    @Test("a context from another model is refused")
    func foreignContext() throws {
        let a = try stump(mode: "BRANCH_LEQ"), b = try stump(mode: "BRANCH_LT")
        #expect(throws: EngineError.self) { try a.predict(rows: 1, numeric: [0, 0], context: b.makeContext(), into: PredictionResult()) }
    }
}

import Synchronization
