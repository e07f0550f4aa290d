import FuzzDriver
import InferenceEngine

/// libFuzzer target: arbitrary bytes as an ONNX model file. The loader (the Swift wire decoder, then
/// ``ONNXModel``), the compiler (``CompiledModel``) and, for a model that compiles, one two-row prediction must
/// either succeed or throw; never crash, hang or run out of memory.
@main
enum FuzzONNXLoader {
    static func main() { runLibFuzzer(LLVMFuzzerTestOneInput) }
}

/// One input: the whole model file.
@_cdecl("LLVMFuzzerTestOneInput")
func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(fuzzBytes(data, size))
    guard let model = try? CompiledModel(bytes: bytes) else { return 0 }
    let signature = model.signature
    let numeric = [Float](repeating: 0.5, count: signature.numericFeatureCount * 2)
    let strings = [[String]](repeating: ["basic", "zz"], count: signature.stringFeatureCount)
    _ = try? model.predict(
        rows: 2, numeric: numeric, strings: strings, context: model.makeContext(), into: PredictionResult())
    return 0
}
