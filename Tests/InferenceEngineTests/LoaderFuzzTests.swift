import Foundation
import InferenceEngine
import Testing

/// A bounded mutation fuzz of the loader and the kernels: mutated copies of the fixture models must either load
/// and score a row, or be refused with an EngineError — never crash. (Swift traps on out-of-range access, so a
/// missed check shows up as a crashed test process.)
@Suite("Loader fuzzing")
struct LoaderFuzzTests {
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    static let seeds = ["skl_logreg_churn", "skl_mlp_churn", "skl_ct_pipeline_churn", "skl_logreg3_zipmap"]

    @Test("2,000 mutations per model load or fail cleanly", arguments: seeds)
    func mutate(_ name: String) throws {
        let original = try Fixtures.bytes(Fixtures.sharedModels.appendingPathComponent(name).appendingPathComponent("model.onnx"))
        var rng = Rng(state: UInt64(name.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
        var loaded = 0, refused = 0
        for _ in 0..<2000 {
            var b = original
            for _ in 0..<(1 + rng.below(4)) {
                switch rng.below(4) {
                case 0: b[rng.below(b.count)] = UInt8(truncatingIfNeeded: rng.next())
                case 1: b[rng.below(b.count)] ^= UInt8(1 << rng.below(8))
                case 2: if b.count > 1 { b.remove(at: rng.below(b.count)) }
                default: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.below(b.count))
                }
            }
            do {
                let m = try CompiledModel(bytes: b)
                loaded += 1
                let sig = m.signature
                let numeric = [Float](repeating: 0.5, count: sig.numericFeatureCount * 2)
                let strings = [[String]](repeating: ["basic", "zz"], count: sig.stringFeatureCount)
                _ = try? m.predict(rows: 2, numeric: numeric, strings: strings, context: m.makeContext(), into: PredictionResult())
            } catch {
                refused += 1
            }
        }
        #expect(loaded + refused == 2000)
    }
}
