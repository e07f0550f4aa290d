import Foundation
import GRPCCore
@testable import InferenceService
import ModelRegistry
import SluiceProto
import Testing
import TestSupport

/// A model with two numeric features and one string feature: label 1 when a + b > 0, scores [1-p, p].
func fakeServable(numericNames: [String] = ["a", "b"], stringNames: [String] = ["plan"]) -> ServableModel {
    var features: [(name: String, kind: FeatureTable.Kind, acceptsNaN: Bool)] = numericNames.map { ($0, .numeric, false) }
    features += stringNames.map { ($0, .string, false) }
    let table = FeatureTable(features: features)
    let numericCount = table.numericCount
    return ServableModel(
        features: table, classLabels: .int([0, 1]), isRegressor: false, signature: SignatureInfo()
    ) { rows, scratch in
        for row in 0..<rows {
            var sum: Float = 0
            for column in 0..<numericCount { sum += scratch.numeric[row * numericCount + column] }
            let p: Float = sum > 0 ? 0.8 : 0.3
            scratch.labelsInt.append(sum > 0 ? 1 : 0)
            scratch.scores += [1 - p, p]
            scratch.confidence.append(max(p, 1 - p))
        }
    }
}

func makeAPI() throws -> InferenceAPI {
    let root = ScratchDirectory.make("api")
    let source = LocalDirectorySource(root: root)
    _ = try source.register(
        model: "churn", bytes: Array("fake".utf8), source: "", stage: .production, aliases: ["champion"], tags: [:],
        metrics: [:], description: "")
    let registry = ModelRegistry<ServableModel>(source: source) { _, _, _ in fakeServable() }
    registry.scanNow()
    return InferenceAPI(registry: registry, metrics: ServiceMetrics())
}

func call(_ api: InferenceAPI, _ method: String, _ request: [UInt8]) -> (UnaryOutcome, [UInt8]) {
    let handler = api.methods.first { $0.name == method }!.handler
    var response = ResponseBuffer()
    let outcome = request.withUnsafeBytes { handler($0, CallContext(), &response) }
    return (outcome, Array(response.bytes.dropFirst(5)))
}

func predictRequest(model: String = "churn", version: String = "", features: [(String, Any)]) -> [UInt8] {
    var writer = ProtoWriter()
    writer.string(1, model)
    if !version.isEmpty { writer.string(2, version) }
    for (name, value) in features {
        writer.message(4) { entry in
            entry.string(1, name)
            entry.message(2) { value_ in
                if let number = value as? Double { value_.double(1, number) }
                if let text = value as? String { value_.string(2, text) }
            }
        }
    }
    return writer.bytes
}

func expectFailure(_ outcome: UnaryOutcome, _ code: StatusCode, containing text: String) {
    guard case .failure(let error) = outcome else {
        Issue.record("expected \(code), got \(outcome)")
        return
    }
    #expect(error.code == code)
    #expect(error.message.contains(text), "message was: \(error.message)")
}

@Suite("InferenceAPI")
struct InferenceAPITests {
    @Test func predictsWithNamedFeatures() throws {
        let api = try makeAPI()
        let (outcome, body) = call(api, "Predict", predictRequest(features: [("a", 1.0), ("b", 2.0), ("plan", "gold")]))
        guard case .ok = outcome else {
            Issue.record("expected OK, got \(outcome)")
            return
        }
        let fields = ProtoReader.fields(body)
        #expect(fields.first { $0.field == 1 }?.payload == Array("churn".utf8))
        #expect(fields.first { $0.field == 2 }?.varint == 1)
        #expect(fields.first { $0.field == 4 }?.varint == 1)
        // A request id is generated when the client sent none.
        #expect(fields.first { $0.field == 9 }?.payload.count == 15)
    }

    @Test func validationErrorsNameTheFeature() throws {
        let api = try makeAPI()
        expectFailure(call(api, "Predict", predictRequest(features: [("a", 1.0), ("plan", "x")])).0,
                      .invalidArgument, containing: "feature \"b\" is missing")
        expectFailure(call(api, "Predict", predictRequest(features: [("a", 1.0), ("b", 1.0), ("plan", "x"), ("zz", 1.0)])).0,
                      .invalidArgument, containing: "feature \"zz\" is not an input")
        expectFailure(call(api, "Predict", predictRequest(features: [("a", "one"), ("b", 1.0), ("plan", "x")])).0,
                      .invalidArgument, containing: "feature \"a\" must be a number")
        expectFailure(call(api, "Predict", predictRequest(features: [("a", Double.nan), ("b", 1.0), ("plan", "x")])).0,
                      .invalidArgument, containing: "feature \"a\" is NaN")
    }

    @Test func unknownModelAndVersion() throws {
        let api = try makeAPI()
        expectFailure(call(api, "Predict", predictRequest(model: "fraud", features: [])).0, .notFound,
                      containing: "model \"fraud\"")
        expectFailure(call(api, "Predict", predictRequest(version: "9", features: [])).0, .notFound,
                      containing: "no version 9")
        expectFailure(call(api, "Predict", predictRequest(version: "@nobody", features: [])).0, .notFound,
                      containing: "@nobody")
        expectFailure(call(api, "Predict", predictRequest(version: "models:/other/1", features: [])).0,
                      .invalidArgument, containing: "does not match")
    }

    @Test func garbageIsInvalidArgument() throws {
        let api = try makeAPI()
        expectFailure(call(api, "Predict", [0xFF, 0xFF, 0xFF]).0, .invalidArgument, containing: "PredictRequest")
    }

    @Test func batchPredictColumnar() throws {
        let api = try makeAPI()
        var writer = ProtoWriter()
        writer.string(1, "churn")
        writer.uint(4, 3)
        writer.message(5) { $0.string(1, "a"); $0.packedFloats(2, [1, -5, 2]) }
        writer.message(5) { $0.string(1, "b"); $0.packedFloats(2, [1, 1, 1]) }
        writer.message(5) { $0.string(1, "plan"); $0.string(3, "x"); $0.string(3, "y"); $0.string(3, "z") }
        let (outcome, body) = call(api, "BatchPredict", writer.bytes)
        guard case .ok = outcome else {
            Issue.record("expected OK, got \(outcome)")
            return
        }
        let labels = ProtoReader.fields(body).first { $0.field == 5 }?.payload
        #expect(labels == [1, 0, 1])

        var short = ProtoWriter()
        short.string(1, "churn")
        short.uint(4, 3)
        short.message(5) { $0.string(1, "a"); $0.packedFloats(2, [1, 2]) }
        expectFailure(call(api, "BatchPredict", short.bytes).0, .invalidArgument, containing: "has 2 values")
    }

    @Test func getModelVersionListsVersions() throws {
        let api = try makeAPI()
        var writer = ProtoWriter()
        writer.string(1, "churn")
        writer.uint(3, 1)
        let (outcome, body) = call(api, "GetModelVersion", writer.bytes)
        guard case .ok = outcome else {
            Issue.record("expected OK, got \(outcome)")
            return
        }
        let versions = ProtoReader.fields(body).filter { $0.field == 1 }
        #expect(versions.count == 1)
        let version = ProtoReader.fields(versions[0].payload)
        #expect(version.first { $0.field == 3 }?.payload == Array("Production".utf8))
        #expect(version.first { $0.field == 4 }?.payload == Array("champion".utf8))
        #expect(version.first { $0.field == 5 }?.varint == 3)  // READY
    }
}
