#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FuzzDriver
import GRPCCore
import InferenceService
import ModelRegistry
import SluiceProto

/// libFuzzer target: request messages of every `sluice.v1.Inference` method, through the protobuf-c decoders
/// (the SluiceProto views and message types) and then through the service's handlers — the request → domain
/// conversion (model and selector resolution, features by name or dense, batch columns) and real predictions of
/// compiled fixture models.
///
/// Setup, once: a registry in a temporary folder with three fixture models (`churn`: a column-transformer
/// pipeline with a string feature; `lr`: a dense logistic regression; `zip`: three classes with a ZipMap output),
/// read from `Tests/fixtures/models` (or `$SLUICE_FUZZ_MODELS`).
@main
enum FuzzServiceRequests {
    static func main() {
        _ = fuzzSetup { api }
        runLibFuzzer(LLVMFuzzerTestOneInput)
    }

    static let methodNames = ["Predict", "BatchPredict", "GetModelVersion", "Rollout"]

    static let api: InferenceAPI = {
        let fixtures = ProcessInfo.processInfo.environment["SLUICE_FUZZ_MODELS"] ?? "Tests/fixtures/models"
        let root = NSTemporaryDirectory() + "sluice-fuzz-service-\(getpid())"
        let source = LocalDirectorySource(root: root)
        let models = [("churn", "skl_ct_pipeline_churn"), ("lr", "skl_logreg_churn"), ("zip", "skl_logreg3_zipmap")]
        do {
            for (name, fixture) in models {
                let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: "\(fixtures)/\(fixture)/model.onnx")))
                _ = try source.register(
                    model: name, bytes: bytes, source: "", stage: .production, aliases: ["champion"], tags: [:],
                    metrics: [:], description: "")
            }
        } catch {
            fatalError("fuzz-service-requests setup failed (run from the repository root): \(error)")
        }
        let registry = ModelRegistry<ServableModel>(source: source) { bytes, model, _ in
            try ServableModel.load(bytes: bytes, featureNames: model.featureNames)
        }
        registry.scanNow()
        // Loading may finish on the registry's workers: wait (bounded) until every version is ready.
        for _ in 0..<2000 {
            let snapshot = registry.snapshot
            let ready = models.allSatisfy { name, _ in
                snapshot.models[name]?.states.values.allSatisfy { $0 == .ready } ?? false
            }
            if ready { return InferenceAPI(registry: registry, metrics: ServiceMetrics()) }
            usleep(5000)
        }
        fatalError("fuzz-service-requests: the fixture models did not load")
    }()

    static let handlers: [UnaryHandler] = methodNames.map { name in
        guard let method = api.methods.first(where: { $0.name == name }) else { fatalError("no method \(name)") }
        return method.handler
    }
}

/// Reads every field of a decoded request, as the service would (out-of-range indexing traps).
func touch(_ view: PredictRequestView) -> Int {
    var total = view.model.count + view.version.count + view.routingKey.count + view.requestID.count
    for index in 0..<view.featureCount {
        total += view.featureName(at: index).count
        switch view.featureValue(at: index) {
        case .number(let value): total += value.isNaN ? 1 : 0
        case .text(let bytes): total += bytes.count
        case .missing: total += 1
        }
    }
    return total + view.dense.count
}

/// As ``touch(_:)-(PredictRequestView)`` for a batch request.
func touch(_ view: BatchPredictRequestView) -> Int {
    var total = view.model.count + view.rows + view.dense.count
    for index in 0..<view.columnCount {
        guard let column = view.column(at: index) else { continue }
        total += column.name.count + column.values.count
        for row in 0..<column.stringCount { total += column.string(at: row).count }
    }
    return total
}

/// One input. Byte 0 chooses the method (Predict, BatchPredict, GetModelVersion, Rollout); the rest is the
/// request message.
@_cdecl("LLVMFuzzerTestOneInput")
func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzBytes(data, size)
    guard let first = input.first else { return 0 }
    let method = Int(first) % FuzzServiceRequests.methodNames.count
    let message = UnsafeRawBufferPointer(rebasing: input.dropFirst())
    switch method {
    case 0: _ = try? PredictRequestView.decode(message) { touch($0) }
    case 1: _ = try? BatchPredictRequestView.decode(message) { touch($0) }
    case 2: _ = try? GetModelVersionRequest(decoding: message)
    default: _ = try? RolloutRequestMessage(decoding: message)
    }
    var response = ResponseBuffer()
    let outcome = FuzzServiceRequests.handlers[method](message, CallContext(), &response)
    if case .failure(let error) = outcome, error.message.isEmpty {
        fatalError("\(FuzzServiceRequests.methodNames[method]) failed with \(error.code) and no message")
    }
    return 0
}
