internal import CProtobufC
internal import CTritonProto
internal import CSluiceProtoSupport
public import GRPCCore

/// A decoded `inference.ModelInferRequest` (Triton's `grpc_service.proto`), valid only inside
/// ``ModelInferRequestView/decode(_:_:)``'s closure. Strings are raw UTF-8; tensor data is raw little-endian bytes
/// whether the client sent `raw_input_contents` or typed `contents` (typed contents are converted on the decode
/// arena: BOOL to one byte per element, BYTES to 4-byte length prefixes).
public struct ModelInferRequestView {
    let message: UnsafeMutablePointer<Inference__ModelInferRequest>

    /// Decodes `bytes` on this thread's arena and calls `body` with the view.
    public static func decode<R>(_ bytes: UnsafeRawBufferPointer, _ body: (ModelInferRequestView) throws -> R) throws -> R {
        try withArenaDecoded(
            bytes, messageType: "inference.ModelInferRequest",
            unpack: { inference__model_infer_request__unpack($0, $1, $2) }
        ) { try body(ModelInferRequestView(message: $0)) }
    }

    public var model: UnsafeRawBufferPointer { cStringBytes(message.pointee.model_name) }
    public var version: UnsafeRawBufferPointer { cStringBytes(message.pointee.model_version) }
    public var id: UnsafeRawBufferPointer { cStringBytes(message.pointee.id) }
    public var inputCount: Int { message.pointee.n_inputs }
    public var requestedOutputCount: Int { message.pointee.n_outputs }

    /// The request's `routing_key` string parameter (sticky rollout assignment), empty when absent.
    public var routingKey: UnsafeRawBufferPointer {
        for index in 0..<message.pointee.n_parameters {
            guard let entry = message.pointee.parameters[index], let value = entry.pointee.value,
                cStringBytes(entry.pointee.key).elementsEqual("routing_key".utf8),
                value.pointee.parameter_choice_case == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM
            else { continue }
            return cStringBytes(value.pointee.string_param)
        }
        return UnsafeRawBufferPointer(start: nil, count: 0)
    }

    /// Why the tensor contents cannot be read, or nil: `raw_input_contents` must have one entry per input and
    /// excludes typed `contents`.
    public var contentsProblem: String? {
        let raw = message.pointee.n_raw_input_contents
        guard raw > 0 else { return nil }
        guard raw == message.pointee.n_inputs else {
            return "raw_input_contents has \(raw) entries but there are \(message.pointee.n_inputs) inputs; send one per input, in input order"
        }
        for index in 0..<message.pointee.n_inputs where message.pointee.inputs[index]?.pointee.contents != nil {
            return "input \"\(String(decoding: inputName(at: index), as: UTF8.self))\" has contents although raw_input_contents is set; use one or the other"
        }
        return nil
    }

    public func inputName(at index: Int) -> UnsafeRawBufferPointer {
        cStringBytes(message.pointee.inputs[index]?.pointee.name)
    }

    public func inputDatatype(at index: Int) -> UnsafeRawBufferPointer {
        cStringBytes(message.pointee.inputs[index]?.pointee.datatype)
    }

    public func inputShape(at index: Int) -> UnsafeBufferPointer<Int64> {
        guard let input = message.pointee.inputs[index] else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: input.pointee.shape, count: input.pointee.n_shape)
    }

    /// The input's data as raw little-endian bytes (see the type's documentation).
    public func inputData(at index: Int) -> UnsafeRawBufferPointer {
        if message.pointee.n_raw_input_contents > index {
            let raw = message.pointee.raw_input_contents[index]
            return UnsafeRawBufferPointer(start: raw.data, count: raw.len)
        }
        guard let input = message.pointee.inputs[index], let contents = input.pointee.contents else {
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        let c = contents.pointee
        let datatype = cStringBytes(input.pointee.datatype)
        func raw<T>(_ pointer: UnsafeMutablePointer<T>?, _ count: Int) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(start: pointer, count: count * MemoryLayout<T>.stride)
        }
        if datatype.elementsEqual("FP32".utf8) { return raw(c.fp32_contents, c.n_fp32_contents) }
        if datatype.elementsEqual("FP64".utf8) { return raw(c.fp64_contents, c.n_fp64_contents) }
        if datatype.elementsEqual("INT64".utf8) { return raw(c.int64_contents, c.n_int64_contents) }
        if datatype.elementsEqual("INT32".utf8) { return raw(c.int_contents, c.n_int_contents) }
        if datatype.elementsEqual("UINT64".utf8) { return raw(c.uint64_contents, c.n_uint64_contents) }
        if datatype.elementsEqual("UINT32".utf8) { return raw(c.uint_contents, c.n_uint_contents) }
        let arena = ArenaBuilder()
        if datatype.elementsEqual("BOOL".utf8) {
            let out = arena.allocate(UInt8.self, count: c.n_bool_contents)
            for element in 0..<c.n_bool_contents { out[element] = c.bool_contents[element] != 0 ? 1 : 0 }
            return UnsafeRawBufferPointer(start: out, count: c.n_bool_contents)
        }
        if datatype.elementsEqual("BYTES".utf8) {
            var total = 0
            for element in 0..<c.n_bytes_contents { total += 4 + c.bytes_contents[element].len }
            let out = arena.allocate(UInt8.self, count: total)
            var offset = 0
            for element in 0..<c.n_bytes_contents {
                let item = c.bytes_contents[element]
                withUnsafeBytes(of: UInt32(truncatingIfNeeded: item.len).littleEndian) { length in
                    UnsafeMutableRawPointer(out + offset).copyMemory(from: length.baseAddress!, byteCount: 4)
                }
                if item.len > 0, let data = item.data { (out + offset + 4).update(from: data, count: item.len) }
                offset += 4 + item.len
            }
            return UnsafeRawBufferPointer(start: out, count: total)
        }
        // INT8/INT16/UINT8/UINT16 travel as int32/uint32 in contents: pass them as they are (the service rejects
        // these datatypes before reading the data, since no served model takes them).
        if c.n_int_contents > 0 { return raw(c.int_contents, c.n_int_contents) }
        return raw(c.uint_contents, c.n_uint_contents)
    }

    public func requestedOutput(at index: Int) -> UnsafeRawBufferPointer {
        cStringBytes(message.pointee.outputs[index]?.pointee.name)
    }
}

/// One output tensor to encode in a `ModelInferResponse` (data goes to `raw_output_contents`).
public struct InferOutputFields {
    public var name: String
    public var datatype: String
    public var shape: UnsafeBufferPointer<Int64>
    public var data: UnsafeRawBufferPointer

    public init(name: String, datatype: String, shape: UnsafeBufferPointer<Int64>, data: UnsafeRawBufferPointer) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.data = data
    }
}

/// Encodes an `inference.ModelInferResponse`: outputs always in `raw_output_contents` (what the Python client
/// reads). Message graphs are built on the thread's arena: no heap allocation.
public enum ModelInferResponseEncoder {
    /// Appends the framed message. `output(i, sink)` is called with each index once and must pass that output's
    /// fields to `sink` (whose pointers need to stay valid only during the `sink` call: they are copied).
    public static func encode(
        model: String, version: Int64, id: UnsafeRawBufferPointer, outputCount: Int,
        output: (Int, (InferOutputFields) -> Void) -> Void, into buffer: inout ResponseBuffer
    ) {
        withArenaScope { arena in
            var message = Inference__ModelInferResponse()
            inference__model_infer_response__init(&message)
            message.model_name = arena.string(model)
            message.model_version = arena.decimal(version)
            message.id = arena.bytesString(id)
            let tensors = arena.allocate(Inference__ModelInferResponse__InferOutputTensor.self, count: outputCount)
            let pointers = arena.allocate(
                UnsafeMutablePointer<Inference__ModelInferResponse__InferOutputTensor>?.self, count: outputCount)
            let raw = arena.allocate(ProtobufCBinaryData.self, count: outputCount)
            for index in 0..<outputCount {
                output(index) { fields in
                    let tensor = tensors + index
                    inference__model_infer_response__infer_output_tensor__init(tensor)
                    tensor.pointee.name = arena.string(fields.name)
                    tensor.pointee.datatype = arena.string(fields.datatype)
                    tensor.pointee.n_shape = fields.shape.count
                    tensor.pointee.shape = arena.array(fields.shape)
                    pointers[index] = tensor
                    raw[index] = ProtobufCBinaryData(
                        len: fields.data.count,
                        data: UnsafeMutablePointer(mutating: fields.data.baseAddress?.assumingMemoryBound(to: UInt8.self)))
                }
            }
            message.n_outputs = outputCount
            message.outputs = pointers
            message.n_raw_output_contents = outputCount
            message.raw_output_contents = raw
            let size = inference__model_infer_response__get_packed_size(&message)
            buffer.appendMessage(count: size) { out in
                _ = inference__model_infer_response__pack(&message, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
    }
}

/// The `name` and `version` fields that ModelReady, ModelMetadata, ModelConfig and ModelStatistics requests carry
/// (fields 1 and 2 in each).
public struct ModelNameVersionRequest: Sendable {
    public var name: String
    public var version: String

    /// Which request message the bytes are.
    public enum Kind: Sendable {
        case ready, metadata, config, statistics
    }

    /// Decodes the request; throws ``ProtoDecodeError`` when the bytes are not the message.
    public init(decoding bytes: UnsafeRawBufferPointer, kind: Kind) throws {
        // The four messages share the layout {name = 1; version = 2}; each is unpacked with its own descriptor.
        switch kind {
        case .ready:
            (name, version) = try withArenaDecoded(
                bytes, messageType: "inference.ModelReadyRequest",
                unpack: { inference__model_ready_request__unpack($0, $1, $2) }
            ) { (cString($0.pointee.name), cString($0.pointee.version)) }
        case .metadata:
            (name, version) = try withArenaDecoded(
                bytes, messageType: "inference.ModelMetadataRequest",
                unpack: { inference__model_metadata_request__unpack($0, $1, $2) }
            ) { (cString($0.pointee.name), cString($0.pointee.version)) }
        case .config:
            (name, version) = try withArenaDecoded(
                bytes, messageType: "inference.ModelConfigRequest",
                unpack: { inference__model_config_request__unpack($0, $1, $2) }
            ) { (cString($0.pointee.name), cString($0.pointee.version)) }
        case .statistics:
            (name, version) = try withArenaDecoded(
                bytes, messageType: "inference.ModelStatisticsRequest",
                unpack: { inference__model_statistics_request__unpack($0, $1, $2) }
            ) { (cString($0.pointee.name), cString($0.pointee.version)) }
        }
    }
}

/// Checks that bytes decode as one of the empty request messages (ServerLive, ServerReady, ServerMetadata).
public enum EmptyRequest {
    public enum Kind: Sendable {
        case serverLive, serverReady, serverMetadata
    }

    public static func validate(_ bytes: UnsafeRawBufferPointer, kind: Kind) throws {
        switch kind {
        case .serverLive:
            try withArenaDecoded(
                bytes, messageType: "inference.ServerLiveRequest",
                unpack: { inference__server_live_request__unpack($0, $1, $2) }) { _ in }
        case .serverReady:
            try withArenaDecoded(
                bytes, messageType: "inference.ServerReadyRequest",
                unpack: { inference__server_ready_request__unpack($0, $1, $2) }) { _ in }
        case .serverMetadata:
            try withArenaDecoded(
                bytes, messageType: "inference.ServerMetadataRequest",
                unpack: { inference__server_metadata_request__unpack($0, $1, $2) }) { _ in }
        }
    }
}

/// Tensor metadata as ModelMetadata and ModelConfig report it.
public struct TritonTensorInfo: Sendable {
    public var name: String
    /// Protocol datatype name ("FP32", "BYTES", ...).
    public var datatype: String
    /// Triton model-config data type number (`inference.DataType`, e.g. 11 for TYPE_FP32).
    public var configType: Int32
    public var shape: [Int64]

    public init(name: String, datatype: String, configType: Int32, shape: [Int64]) {
        self.name = name
        self.datatype = datatype
        self.configType = configType
        self.shape = shape
    }
}

/// Encoders of the Open Inference metadata responses (not on the inference path).
public enum OpenInferenceEncoders {
    /// `ServerLiveResponse` (`live`), `ServerReadyResponse` (`ready`) or `ModelReadyResponse` (`ready`): one bool.
    public enum BoolKind: Sendable {
        case serverLive, serverReady, modelReady
    }

    public static func encodeBool(_ value: Bool, kind: BoolKind, into buffer: inout ResponseBuffer) {
        switch kind {
        case .serverLive:
            var message = Inference__ServerLiveResponse()
            inference__server_live_response__init(&message)
            message.live = value ? 1 : 0
            pack(&message, inference__server_live_response__get_packed_size, inference__server_live_response__pack,
                 into: &buffer)
        case .serverReady:
            var message = Inference__ServerReadyResponse()
            inference__server_ready_response__init(&message)
            message.ready = value ? 1 : 0
            pack(&message, inference__server_ready_response__get_packed_size, inference__server_ready_response__pack,
                 into: &buffer)
        case .modelReady:
            var message = Inference__ModelReadyResponse()
            inference__model_ready_response__init(&message)
            message.ready = value ? 1 : 0
            pack(&message, inference__model_ready_response__get_packed_size, inference__model_ready_response__pack,
                 into: &buffer)
        }
    }

    /// `ServerMetadataResponse`.
    public static func encodeServerMetadata(
        name: String, version: String, extensions: [String], into buffer: inout ResponseBuffer
    ) {
        withArenaScope { arena in
            var message = Inference__ServerMetadataResponse()
            inference__server_metadata_response__init(&message)
            message.name = arena.string(name)
            message.version = arena.string(version)
            message.n_extensions = extensions.count
            message.extensions = arena.strings(extensions)
            pack(&message, inference__server_metadata_response__get_packed_size,
                 inference__server_metadata_response__pack, into: &buffer)
        }
    }

    /// `ModelMetadataResponse`.
    public static func encodeModelMetadata(
        name: String, versions: [String], platform: String, inputs: [TritonTensorInfo], outputs: [TritonTensorInfo],
        into buffer: inout ResponseBuffer
    ) {
        withArenaScope { arena in
            func tensors(_ infos: [TritonTensorInfo]) -> UnsafeMutablePointer<
                UnsafeMutablePointer<Inference__ModelMetadataResponse__TensorMetadata>?
            > {
                let out = arena.allocate(
                    UnsafeMutablePointer<Inference__ModelMetadataResponse__TensorMetadata>?.self, count: infos.count)
                for (index, info) in infos.enumerated() {
                    let tensor = arena.allocate(Inference__ModelMetadataResponse__TensorMetadata.self, count: 1)
                    inference__model_metadata_response__tensor_metadata__init(tensor)
                    tensor.pointee.name = arena.string(info.name)
                    tensor.pointee.datatype = arena.string(info.datatype)
                    tensor.pointee.n_shape = info.shape.count
                    tensor.pointee.shape = arena.array(info.shape)
                    out[index] = tensor
                }
                return out
            }
            var message = Inference__ModelMetadataResponse()
            inference__model_metadata_response__init(&message)
            message.name = arena.string(name)
            message.n_versions = versions.count
            message.versions = arena.strings(versions)
            message.platform = arena.string(platform)
            message.n_inputs = inputs.count
            message.inputs = tensors(inputs)
            message.n_outputs = outputs.count
            message.outputs = tensors(outputs)
            pack(&message, inference__model_metadata_response__get_packed_size,
                 inference__model_metadata_response__pack, into: &buffer)
        }
    }

    /// `ModelConfigResponse` with a minimal `ModelConfig`: name, platform, backend, max_batch_size, a `specific`
    /// version policy listing `versions`, inputs and outputs with data types and dims.
    public static func encodeModelConfig(
        name: String, platform: String, backend: String, maxBatchSize: Int32, versions: [Int64],
        inputs: [TritonTensorInfo], outputs: [TritonTensorInfo], into buffer: inout ResponseBuffer
    ) {
        withArenaScope { arena in
            var config = Inference__ModelConfig()
            inference__model_config__init(&config)
            config.name = arena.string(name)
            config.platform = arena.string(platform)
            config.backend = arena.string(backend)
            config.max_batch_size = maxBatchSize
            let policy = arena.allocate(Inference__ModelVersionPolicy.self, count: 1)
            inference__model_version_policy__init(policy)
            let specific = arena.allocate(Inference__ModelVersionPolicy__Specific.self, count: 1)
            inference__model_version_policy__specific__init(specific)
            specific.pointee.n_versions = versions.count
            specific.pointee.versions = arena.array(versions)
            policy.pointee.policy_choice_case = INFERENCE__MODEL_VERSION_POLICY__POLICY_CHOICE_SPECIFIC
            policy.pointee.specific = specific
            config.version_policy = policy
            let inputPointers = arena.allocate(UnsafeMutablePointer<Inference__ModelInput>?.self, count: inputs.count)
            for (index, info) in inputs.enumerated() {
                let input = arena.allocate(Inference__ModelInput.self, count: 1)
                inference__model_input__init(input)
                input.pointee.name = arena.string(info.name)
                input.pointee.data_type = Inference__DataType(rawValue: UInt32(bitPattern: info.configType))
                input.pointee.n_dims = info.shape.count
                input.pointee.dims = arena.array(info.shape)
                inputPointers[index] = input
            }
            config.n_input = inputs.count
            config.input = inputPointers
            let outputPointers = arena.allocate(UnsafeMutablePointer<Inference__ModelOutput>?.self, count: outputs.count)
            for (index, info) in outputs.enumerated() {
                let output = arena.allocate(Inference__ModelOutput.self, count: 1)
                inference__model_output__init(output)
                output.pointee.name = arena.string(info.name)
                output.pointee.data_type = Inference__DataType(rawValue: UInt32(bitPattern: info.configType))
                output.pointee.n_dims = info.shape.count
                output.pointee.dims = arena.array(info.shape)
                outputPointers[index] = output
            }
            config.n_output = outputs.count
            config.output = outputPointers
            var message = Inference__ModelConfigResponse()
            inference__model_config_response__init(&message)
            withUnsafeMutablePointer(to: &config) { pointer in
                message.config = pointer
                pack(&message, inference__model_config_response__get_packed_size,
                     inference__model_config_response__pack, into: &buffer)
            }
        }
    }

    /// One version's statistics for `ModelStatisticsResponse`.
    public struct VersionStatistics: Sendable {
        public var name: String
        public var version: String
        public var lastInference: UInt64
        public var inferenceCount: UInt64
        public var executionCount: UInt64
        /// (count, cumulative ns) for success, fail, compute_input, compute_infer, compute_output.
        public var success: (UInt64, UInt64)
        public var fail: (UInt64, UInt64)
        public var computeInput: (UInt64, UInt64)
        public var computeInfer: (UInt64, UInt64)
        public var computeOutput: (UInt64, UInt64)

        public init(
            name: String, version: String, lastInference: UInt64, inferenceCount: UInt64, executionCount: UInt64,
            success: (UInt64, UInt64), fail: (UInt64, UInt64), computeInput: (UInt64, UInt64),
            computeInfer: (UInt64, UInt64), computeOutput: (UInt64, UInt64)
        ) {
            self.name = name
            self.version = version
            self.lastInference = lastInference
            self.inferenceCount = inferenceCount
            self.executionCount = executionCount
            self.success = success
            self.fail = fail
            self.computeInput = computeInput
            self.computeInfer = computeInfer
            self.computeOutput = computeOutput
        }
    }

    /// `ModelStatisticsResponse`; the queue duration is zero (calls are not queued).
    public static func encodeStatistics(_ stats: [VersionStatistics], into buffer: inout ResponseBuffer) {
        withArenaScope { arena in
            func duration(_ value: (UInt64, UInt64)) -> UnsafeMutablePointer<Inference__StatisticDuration> {
                let out = arena.allocate(Inference__StatisticDuration.self, count: 1)
                inference__statistic_duration__init(out)
                out.pointee.count = value.0
                out.pointee.ns = value.1
                return out
            }
            let pointers = arena.allocate(UnsafeMutablePointer<Inference__ModelStatistics>?.self, count: stats.count)
            for (index, stat) in stats.enumerated() {
                let model = arena.allocate(Inference__ModelStatistics.self, count: 1)
                inference__model_statistics__init(model)
                model.pointee.name = arena.string(stat.name)
                model.pointee.version = arena.string(stat.version)
                model.pointee.last_inference = stat.lastInference
                model.pointee.inference_count = stat.inferenceCount
                model.pointee.execution_count = stat.executionCount
                let infer = arena.allocate(Inference__InferStatistics.self, count: 1)
                inference__infer_statistics__init(infer)
                infer.pointee.success = duration(stat.success)
                infer.pointee.fail = duration(stat.fail)
                infer.pointee.queue = duration((0, 0))
                infer.pointee.compute_input = duration(stat.computeInput)
                infer.pointee.compute_infer = duration(stat.computeInfer)
                infer.pointee.compute_output = duration(stat.computeOutput)
                infer.pointee.cache_hit = duration((0, 0))
                infer.pointee.cache_miss = duration((0, 0))
                model.pointee.inference_stats = infer
                pointers[index] = model
            }
            var message = Inference__ModelStatisticsResponse()
            inference__model_statistics_response__init(&message)
            message.n_model_stats = stats.count
            message.model_stats = pointers
            pack(&message, inference__model_statistics_response__get_packed_size,
                 inference__model_statistics_response__pack, into: &buffer)
        }
    }

    private static func pack<M>(
        _ message: inout M, _ size: (UnsafePointer<M>?) -> Int,
        _ packer: (UnsafePointer<M>?, UnsafeMutablePointer<UInt8>?) -> Int, into buffer: inout ResponseBuffer
    ) {
        withUnsafePointer(to: &message) { pointer in
            let count = size(pointer)
            buffer.appendMessage(count: count) { out in
                _ = packer(pointer, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
    }
}

extension ArenaBuilder {
    /// A NUL-terminated decimal rendering of `value` (no String).
    func decimal(_ value: Int64) -> UnsafeMutablePointer<CChar> {
        let out = allocate(CChar.self, count: 21)
        var magnitude = value.magnitude
        var length = 0
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 20) { stack in
            repeat {
                stack[length] = CChar(48 + Int(magnitude % 10))
                magnitude /= 10
                length += 1
            } while magnitude > 0
            var position = 0
            if value < 0 {
                out[0] = 45
                position = 1
            }
            for index in 0..<length { out[position + index] = stack[length - 1 - index] }
            out[position + length] = 0
        }
        return out
    }

    /// A NUL-terminated copy of raw bytes.
    func bytesString(_ bytes: UnsafeRawBufferPointer) -> UnsafeMutablePointer<CChar> {
        let out = allocate(CChar.self, count: bytes.count + 1)
        if let base = bytes.baseAddress, bytes.count > 0 {
            UnsafeMutableRawPointer(out).copyMemory(from: base, byteCount: bytes.count)
        }
        return out
    }
}
