public import GRPCCore
import SluiceProto

/// `inference.GRPCInferenceService` (Triton's gRPC flavour of the Open Inference Protocol, which tritonclient and
/// perf_analyzer speak), on the same port, router, TLS, auth, metrics and rollouts as `sluice.v1.Inference`.
/// A thin wire layer: it decodes the protobuf-c messages, calls the ``OpenInference`` entry points of
/// ``InferenceAPI`` and encodes their answers; outputs always go to `raw_output_contents`.
public final class OpenInferenceService: GRPCService, Sendable {
    /// The fully qualified gRPC service name tritonclient calls (the first segment of each method's path).
    public let serviceName = "inference.GRPCInferenceService"
    /// The shared core that also serves `sluice.v1.Inference`, so both protocols see the same models, rollouts and
    /// metrics.
    public let api: InferenceAPI
    /// The server's health (ServerReady); nil answers from the registry's first load.
    public let health: HealthStatusTable?
    /// What ServerMetadata reports as the version.
    public let version: String

    /// Wraps an existing `InferenceAPI`; creating the service starts nothing and allocates no per-call state.
    public init(api: InferenceAPI, health: HealthStatusTable?, version: String) {
        self.api = api
        self.health = health
        self.version = version
    }

    /// The methods this service answers, each decoding its request, calling the matching `openInference…` entry point
    /// and encoding the answer. `ModelStreamInfer` is listed only to answer UNIMPLEMENTED with a hint to use
    /// ModelInfer.
    public var methods: [UnaryMethod] {
        [
            UnaryMethod("ServerLive") { [self] request, context, response in
                answer(context) {
                    try EmptyRequest.validate(request, kind: .serverLive)
                    let live = try api.openInferenceServerLive(context: context)
                    OpenInferenceEncoders.encodeBool(live, kind: .serverLive, into: &response)
                }
            },
            UnaryMethod("ServerReady") { [self] request, context, response in
                answer(context) {
                    try EmptyRequest.validate(request, kind: .serverReady)
                    let ready = try api.openInferenceServerReady(context: context, health: health)
                    OpenInferenceEncoders.encodeBool(ready, kind: .serverReady, into: &response)
                }
            },
            UnaryMethod("ServerMetadata") { [self] request, context, response in
                answer(context) {
                    try EmptyRequest.validate(request, kind: .serverMetadata)
                    let metadata = try api.openInferenceServerMetadata(context: context, version: version)
                    OpenInferenceEncoders.encodeServerMetadata(
                        name: metadata.name, version: metadata.version, extensions: metadata.extensions,
                        into: &response)
                }
            },
            UnaryMethod("ModelReady") { [self] request, context, response in
                answer(context) {
                    let message = try ModelNameVersionRequest(decoding: request, kind: .ready)
                    let ready = try api.openInferenceModelReady(
                        model: message.name, version: message.version, context: context)
                    OpenInferenceEncoders.encodeBool(ready, kind: .modelReady, into: &response)
                }
            },
            UnaryMethod("ModelMetadata") { [self] request, context, response in
                answer(context) {
                    let message = try ModelNameVersionRequest(decoding: request, kind: .metadata)
                    let metadata = try api.openInferenceModelMetadata(
                        model: message.name, version: message.version, context: context)
                    OpenInferenceEncoders.encodeModelMetadata(
                        name: metadata.name, versions: metadata.versions, platform: metadata.platform,
                        inputs: metadata.inputs.map(Self.info), outputs: metadata.outputs.map(Self.info),
                        into: &response)
                }
            },
            UnaryMethod("ModelConfig") { [self] request, context, response in
                answer(context) {
                    let message = try ModelNameVersionRequest(decoding: request, kind: .config)
                    let config = try api.openInferenceModelConfig(
                        model: message.name, version: message.version, context: context)
                    OpenInferenceEncoders.encodeModelConfig(
                        name: config.name, platform: config.platform, backend: config.backend,
                        maxBatchSize: Int32(config.maxBatchSize), versions: config.versions,
                        inputs: config.inputs.map(Self.info), outputs: config.outputs.map(Self.info), into: &response)
                }
            },
            UnaryMethod("ModelStatistics") { [self] request, context, response in
                answer(context) {
                    let message = try ModelNameVersionRequest(decoding: request, kind: .statistics)
                    let stats = try api.openInferenceStatistics(
                        model: message.name, version: message.version, context: context)
                    OpenInferenceEncoders.encodeStatistics(
                        stats.map { stat in
                            OpenInferenceEncoders.VersionStatistics(
                                name: stat.name, version: String(stat.version), lastInference: stat.lastInferenceMs,
                                inferenceCount: stat.inferenceCount, executionCount: stat.executionCount,
                                success: stat.success, fail: stat.failure, computeInput: stat.computeInput,
                                computeInfer: stat.computeInfer, computeOutput: stat.computeOutput)
                        }, into: &response)
                }
            },
            UnaryMethod("ModelInfer") { [self] request, context, response in
                api.offloadIfHeavy(request, context) { [self] in modelInfer($0, $1, &$2) }
                    ?? modelInfer(request, context, &response)
            },
            UnaryMethod("ModelStreamInfer") { _, _, _ in
                .failure(RPCError(
                    .unimplemented,
                    "inference.GRPCInferenceService/ModelStreamInfer (bidirectional streaming) is not supported; call ModelInfer once per request"
                ))
            },
        ]
    }

    /// `ModelInfer`: decode on the arena, run through the core, encode the outputs as `raw_output_contents`.
    func modelInfer(_ request: UnsafeRawBufferPointer, _ context: CallContext, _ response: inout ResponseBuffer)
        -> UnaryOutcome
    {
        do {
            try ModelInferRequestView.decode(request) { view in
                if let problem = view.contentsProblem { throw ServiceError(.invalidArgument, problem) }
                try api.openInferenceInfer(InferRequest(view: view), context: context) { result in
                    ModelInferResponseEncoder.encode(
                        model: result.model, version: result.version, id: result.id,
                        outputCount: result.outputs.count,
                        output: { index, sink in
                            let output = result.outputs[index]
                            output.shape.withUnsafeBufferPointer { shape in
                                sink(InferOutputFields(
                                    name: output.name, datatype: output.datatype.name, shape: shape, data: output.data))
                            }
                        },
                        into: &response)
                }
            }
            return .ok
        } catch let error as ProtoDecodeError {
            return .failure(api.openInferenceMalformed(error, inference: true, context: context).rpcError)
        } catch {
            return .failure(ServiceError.from(error).rpcError)
        }
    }

    /// Runs a non-inference handler, mapping any failure to its status.
    private func answer(_ context: CallContext, _ body: () throws -> Void) -> UnaryOutcome {
        do {
            try body()
            return .ok
        } catch let error as ProtoDecodeError {
            return .failure(api.openInferenceMalformed(error, inference: false, context: context).rpcError)
        } catch {
            return .failure(ServiceError.from(error).rpcError)
        }
    }

    /// A tensor spec as ModelMetadata/ModelConfig report it: name, datatype name, Triton's numeric type and shape (-1
    /// for a variable dimension).
    static func info(_ spec: OpenInference.TensorSpec) -> TritonTensorInfo {
        TritonTensorInfo(
            name: spec.name, datatype: spec.datatype.name, configType: Int32(configType(spec.datatype)), shape: spec.shape)
    }

    /// Triton's `inference.DataType` number of a datatype.
    static func configType(_ datatype: OpenInference.DataType) -> Int {
        switch datatype {
        case .bool: 1
        case .uint8: 2
        case .uint16: 3
        case .uint32: 4
        case .uint64: 5
        case .int8: 6
        case .int16: 7
        case .int32: 8
        case .int64: 9
        case .fp16: 10
        case .fp32: 11
        case .fp64: 12
        case .bytes: 13
        case .bf16: 14
        }
    }
}

/// A decoded ModelInferRequest as the core's request.
struct InferRequest: OpenInference.Request {
    /// The decoded message; only valid inside `ModelInferRequestView.decode`'s closure, like everything read through
    /// it.
    let view: ModelInferRequestView

    var model: UnsafeRawBufferPointer { view.model }
    var version: UnsafeRawBufferPointer { view.version }
    var id: UnsafeRawBufferPointer { view.id }
    var inputCount: Int { view.inputCount }
    var requestedOutputCount: Int { view.requestedOutputCount }
    var routingKey: UnsafeRawBufferPointer { view.routingKey }

    /// The `index`th input's name, datatype, shape and raw bytes, all borrowed from the request arena (no copies).
    func input(at index: Int) -> OpenInference.InputTensor {
        OpenInference.InputTensor(
            name: view.inputName(at: index), datatype: view.inputDatatype(at: index), shape: view.inputShape(at: index),
            data: view.inputData(at: index))
    }

    func requestedOutput(at index: Int) -> UnsafeRawBufferPointer { view.requestedOutput(at: index) }
}
