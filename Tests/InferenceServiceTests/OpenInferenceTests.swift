import GRPCCore
@testable import InferenceService
import Testing

/// Little-endian bytes of Float values.
private func fp32(_ values: [Float]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }

/// BYTES elements: 4-byte little-endian length, then the bytes.
private func bytesTensor(_ values: [String]) -> [UInt8] {
    values.flatMap { withUnsafeBytes(of: UInt32($0.utf8.count).littleEndian, Array.init) + Array($0.utf8) }
}

/// The fake churn model's three inputs for `rows` rows (a, b numeric [-1, 1]; plan BYTES [-1, 1]).
private func inputs(a: [Float], b: [Float], plan: [String]) -> [OpenInference.OwnedRequest.Input] {
    [
        .init(name: "a", datatype: "FP32", shape: [Int64(a.count), 1], data: fp32(a)),
        .init(name: "b", datatype: "FP32", shape: [Int64(b.count), 1], data: fp32(b)),
        .init(name: "plan", datatype: "BYTES", shape: [Int64(plan.count), 1], data: bytesTensor(plan)),
    ]
}

/// Runs an inference and returns (name, datatype, shape, bytes) per output, or the error.
private func infer(_ api: InferenceAPI, _ request: OpenInference.OwnedRequest) -> Result<
    (version: Int64, id: String, outputs: [(String, String, [Int64], [UInt8])]), ServiceError
> {
    do {
        let answer = try api.openInferenceInfer(request, context: CallContext()) { response in
            (
                response.version, String(decoding: response.id, as: UTF8.self),
                response.outputs.map { ($0.name, $0.datatype.name, $0.shape.dimensions, Array($0.data)) }
            )
        }
        return .success((answer.0, answer.1, answer.2))
    } catch {
        return .failure(error)
    }
}

private func expectError(
    _ result: Result<(version: Int64, id: String, outputs: [(String, String, [Int64], [UInt8])]), ServiceError>,
    _ code: StatusCode, _ fragments: String...
) {
    guard case .failure(let error) = result else {
        Issue.record("expected \(code), got a response")
        return
    }
    #expect(error.code == code, "\(error.message)")
    for fragment in fragments { #expect(error.message.contains(fragment), "message was: \(error.message)") }
}

@Suite("OpenInference")
struct OpenInferenceTests {
    @Test func infersABatchWithRawTensors() throws {
        let api = try makeAPI()
        let request = OpenInference.OwnedRequest(
            model: "churn", id: "req-1", inputs: inputs(a: [1, -5], b: [2, 1], plan: ["gold", "basic"]))
        guard case .success(let answer) = infer(api, request) else {
            Issue.record("inference failed: \(infer(api, request))")
            return
        }
        #expect(answer.version == 1)
        #expect(answer.id == "req-1")
        #expect(answer.outputs.map(\.0) == ["label", "probabilities"])
        #expect(answer.outputs[0].1 == "INT64" && answer.outputs[0].2 == [2])
        let labels = answer.outputs[0].3.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) }
        #expect(labels == [1, 0])
        #expect(answer.outputs[1].1 == "FP32" && answer.outputs[1].2 == [2, 2])
        let scores = answer.outputs[1].3.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(scores == [Float(1) - 0.8, 0.8, 0.7, 0.3])
    }

    @Test func requestedOutputsOnlyInRequestOrder() throws {
        let api = try makeAPI()
        let request = OpenInference.OwnedRequest(
            model: "churn", inputs: inputs(a: [1], b: [1], plan: ["x"]), outputs: ["probabilities"])
        guard case .success(let answer) = infer(api, request) else {
            Issue.record("inference failed")
            return
        }
        #expect(answer.outputs.map(\.0) == ["probabilities"])
        expectError(
            infer(api, OpenInference.OwnedRequest(model: "churn", inputs: inputs(a: [1], b: [1], plan: ["x"]),
                                                  outputs: ["scores"])),
            .invalidArgument, "output \"scores\"", "label, probabilities")
    }

    @Test func badTensorsNameTheInputAndWhatWasExpected() throws {
        let api = try makeAPI()
        var wrongType = inputs(a: [1], b: [1], plan: ["x"])
        wrongType[0].datatype = "INT64"
        wrongType[0].data = Array(repeating: 0, count: 8)
        expectError(infer(api, .init(model: "churn", inputs: wrongType)), .invalidArgument,
                    "input \"a\" has datatype INT64 but the model takes FP32")
        var unknownType = inputs(a: [1], b: [1], plan: ["x"])
        unknownType[0].datatype = "FP33"
        expectError(infer(api, .init(model: "churn", inputs: unknownType)), .invalidArgument, "unknown datatype \"FP33\"")
        var wrongShape = inputs(a: [1, 2], b: [1], plan: ["x"])
        wrongShape[0].shape = [1, 2]
        expectError(infer(api, .init(model: "churn", inputs: wrongShape)), .invalidArgument,
                    "input \"a\" has shape [1,2] but the model takes [-1,1]")
        var wrongRank = inputs(a: [1], b: [1], plan: ["x"])
        wrongRank[0].shape = [1]
        expectError(infer(api, .init(model: "churn", inputs: wrongRank)), .invalidArgument,
                    "input \"a\" has shape [1] but the model takes [-1,1]")
        var shortData = inputs(a: [1], b: [1], plan: ["x"])
        shortData[1].data.removeLast()
        expectError(infer(api, .init(model: "churn", inputs: shortData)), .invalidArgument,
                    "input \"b\": FP32 tensor of shape [1,1] needs 4 bytes, got 3")
        expectError(infer(api, .init(model: "churn", inputs: inputs(a: [1, 2], b: [1], plan: ["x"]))),
                    .invalidArgument, "rows")
        expectError(infer(api, .init(model: "churn", inputs: Array(inputs(a: [1], b: [1], plan: ["x"]).prefix(2)))),
                    .invalidArgument, "input \"plan\" is missing")
        var unknown = inputs(a: [1], b: [1], plan: ["x"])
        unknown[2].name = "tier"
        expectError(infer(api, .init(model: "churn", inputs: unknown)), .invalidArgument,
                    "input \"tier\" is not an input of model \"churn\" (inputs: a, b, plan)")
        var twice = inputs(a: [1], b: [1], plan: ["x"])
        twice[1].name = "a"
        expectError(infer(api, .init(model: "churn", inputs: twice)), .invalidArgument, "input \"a\" is given twice")
        var truncated = inputs(a: [1], b: [1], plan: ["x"])
        truncated[2].data = withUnsafeBytes(of: UInt32(9).littleEndian, Array.init) + Array("abc".utf8)
        expectError(infer(api, .init(model: "churn", inputs: truncated)), .invalidArgument,
                    "input \"plan\": BYTES element 0 declares 9 bytes but only 3 remain")
        var trailing = inputs(a: [1], b: [1], plan: ["x"])
        trailing[2].data += [1, 2]
        expectError(infer(api, .init(model: "churn", inputs: trailing)), .invalidArgument, "2 bytes after the last")
        var nan = inputs(a: [.nan], b: [1], plan: ["x"])
        nan[0].shape = [1, 1]
        expectError(infer(api, .init(model: "churn", inputs: nan)), .invalidArgument, "NaN", "(a)")
    }

    @Test func unknownModelVersionAndSelectors() throws {
        let api = try makeAPI()
        let good = inputs(a: [1], b: [1], plan: ["x"])
        expectError(infer(api, .init(model: "fraud", inputs: good)), .notFound, "model \"fraud\" is not registered")
        expectError(infer(api, .init(model: "churn", version: "9", inputs: good)), .notFound, "no version 9")
        expectError(infer(api, .init(model: "churn", version: "nightly", inputs: good)), .invalidArgument,
                    "model_version \"nightly\"")
        expectError(infer(api, .init(model: "", inputs: good)), .invalidArgument, "model_name is required")
        for selector in ["", "1", "production", "@champion", "champion"] {
            guard case .success(let answer) = infer(api, .init(model: "churn", version: selector, inputs: good)) else {
                Issue.record("selector \(selector) failed")
                continue
            }
            #expect(answer.version == 1)
        }
    }

    @Test func metadataConfigReadinessAndStatistics() throws {
        let api = try makeAPI()
        let context = CallContext()
        #expect(try api.openInferenceModelReady(model: "churn", version: "", context: context))
        #expect(try api.openInferenceModelReady(model: "churn", version: "champion", context: context))
        #expect(throws: ServiceError.self) { try api.openInferenceModelReady(model: "fraud", version: "", context: context) }
        let metadata = try api.openInferenceModelMetadata(model: "churn", version: "1", context: context)
        #expect(metadata.platform == "onnx" && metadata.versions == ["1"])
        #expect(metadata.inputs.map(\.name) == ["a", "b", "plan"])
        #expect(metadata.inputs.map(\.datatype) == [.fp32, .fp32, .bytes])
        #expect(metadata.inputs[0].shape == [-1, 1])
        #expect(metadata.outputs.map(\.shape) == [[-1], [-1, 2]])
        let config = try api.openInferenceModelConfig(model: "churn", version: "", context: context)
        #expect(config.platform == "onnxruntime_onnx" && config.maxBatchSize == 0 && config.versions == [1])
        #expect(config.inputs.map(\.datatype.configName) == ["TYPE_FP32", "TYPE_FP32", "TYPE_STRING"])

        _ = infer(api, .init(model: "churn", inputs: inputs(a: [1, 2, 3], b: [1, 1, 1], plan: ["x", "y", "z"])))
        _ = infer(api, .init(model: "churn", inputs: Array(inputs(a: [1], b: [1], plan: ["x"]).prefix(1))))
        let stats = try api.openInferenceStatistics(model: "churn", version: "", context: context)
        #expect(stats.count == 1)
        #expect(stats[0].executionCount == 1 && stats[0].inferenceCount == 3)
        #expect(stats[0].success.count == 1 && stats[0].success.nanos > 0)
        #expect(stats[0].failure.count == 1)
        #expect(stats[0].lastInferenceMs > 0)
        #expect(try api.openInferenceStatistics(model: "", version: "", context: context).map(\.name) == ["churn"])
    }

    @Test func datatypeNamesRoundTrip() {
        for type in OpenInference.DataType.allCases {
            #expect(OpenInference.DataType(name: type.name) == type)
        }
        #expect(OpenInference.DataType(name: "fp32") == nil)
        #expect(OpenInference.DataType.fp32.elementSize == 4 && OpenInference.DataType.bytes.elementSize == nil)
    }

    @Test func serviceErrorsHaveOneHTTPStatusEach() {
        #expect(ServiceError(.invalidArgument, "x").httpStatus == 400)
        #expect(ServiceError(.failedPrecondition, "x").httpStatus == 400)
        #expect(ServiceError(.unauthenticated, "x").httpStatus == 401)
        #expect(ServiceError(.permissionDenied, "x").httpStatus == 403)
        #expect(ServiceError(.notFound, "x").httpStatus == 404)
        #expect(ServiceError(.resourceExhausted, "x").httpStatus == 429)
        #expect(ServiceError(.unavailable, "x").httpStatus == 503)
        #expect(ServiceError(.internal, "x").httpStatus == 500)
    }
}
