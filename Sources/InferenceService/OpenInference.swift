#if canImport(Glibc)
import Glibc
#endif
import BackgroundThreads
import InferenceEngine
import Synchronization

/// The Open Inference Protocol (KServe v2, as Triton extends it), independent of the wire: the gRPC service
/// (`inference.GRPCInferenceService`) and the REST routes (`/v2/...`) both translate their messages into these
/// types and call the entry points on ``InferenceAPI`` (`openInferenceInfer`, `openInferenceMetadata`, ...).
///
/// Tensors travel as raw little-endian bytes, row-major; BYTES tensors as 4-byte little-endian length prefixes,
/// each followed by that many bytes. A model's OIP tensors are its ONNX graph inputs and its label and score
/// outputs (see ``OpenInference/Signature``).
public enum OpenInference {
    /// The datatypes of the protocol ("FP32", "INT64", "BYTES", ...).
    public enum DataType: UInt8, Sendable, CaseIterable {
        case bool, uint8, uint16, uint32, uint64, int8, int16, int32, int64, fp16, fp32, fp64, bytes, bf16

        /// The protocol's name of the datatype.
        public var name: String {
            switch self {
            case .bool: "BOOL"
            case .uint8: "UINT8"
            case .uint16: "UINT16"
            case .uint32: "UINT32"
            case .uint64: "UINT64"
            case .int8: "INT8"
            case .int16: "INT16"
            case .int32: "INT32"
            case .int64: "INT64"
            case .fp16: "FP16"
            case .fp32: "FP32"
            case .fp64: "FP64"
            case .bytes: "BYTES"
            case .bf16: "BF16"
            }
        }

        /// Triton's model-configuration name (`TYPE_FP32`, ..., `TYPE_STRING` for BYTES).
        public var configName: String { self == .bytes ? "TYPE_STRING" : "TYPE_" + name }

        /// Bytes per element; nil for BYTES (variable length).
        public var elementSize: Int? {
            switch self {
            case .bool, .uint8, .int8: 1
            case .uint16, .int16, .fp16, .bf16: 2
            case .uint32, .int32, .fp32: 4
            case .uint64, .int64, .fp64: 8
            case .bytes: nil
            }
        }

        /// The names as bytes, in `allCases` order (built once: `allCases` makes a new array on every use).
        private static let names: [(type: DataType, utf8: [UInt8])] = allCases.map { ($0, Array($0.name.utf8)) }

        /// Parses a datatype name given as raw bytes (no String, no allocation).
        public init?(name bytes: UnsafeRawBufferPointer) {
            for candidate in Self.names where candidate.utf8.count == bytes.count {
                let equal = candidate.utf8.withUnsafeBytes { $0.elementsEqual(bytes) }
                if equal {
                    self = candidate.type
                    return
                }
            }
            return nil
        }

        /// Parses a datatype name.
        public init?(name: String) {
            var text = name
            guard let parsed = text.withUTF8({ Self(name: UnsafeRawBufferPointer($0)) }) else { return nil }
            self = parsed
        }

        /// The datatype of an ONNX tensor type (`tensor(float)`, ...); nil for types the engine does not take.
        init?(onnxType type: String) {
            switch type {
            case "tensor(float)": self = .fp32
            case "tensor(double)": self = .fp64
            case "tensor(int64)": self = .int64
            case "tensor(int32)": self = .int32
            case "tensor(bool)": self = .bool
            case "tensor(string)": self = .bytes
            default: return nil
            }
        }
    }

    /// A tensor shape of up to four dimensions, stored inline (no allocation per call). `-1` is a dynamic
    /// dimension in metadata; shapes of actual tensors are all non-negative.
    public struct Shape: Sendable, Equatable, CustomStringConvertible {
        public private(set) var rank: Int = 0
        private var dims: (Int64, Int64, Int64, Int64) = (0, 0, 0, 0)

        /// The largest rank a shape can hold.
        public static let maxRank = 4

        public init() {}

        /// A shape from dimensions (at most ``maxRank``; extra ones are dropped).
        public init(_ dimensions: some Sequence<Int64>) {
            for dimension in dimensions where rank < Self.maxRank { append(dimension) }
        }

        /// Appends one dimension (ignored beyond ``maxRank``).
        public mutating func append(_ dimension: Int64) {
            switch rank {
            case 0: dims.0 = dimension
            case 1: dims.1 = dimension
            case 2: dims.2 = dimension
            case 3: dims.3 = dimension
            default: return
            }
            rank += 1
        }

        public subscript(_ index: Int) -> Int64 {
            switch index {
            case 0: dims.0
            case 1: dims.1
            case 2: dims.2
            default: dims.3
            }
        }

        /// The dimensions as an array (allocates; for metadata and messages, not the per-call path).
        public var dimensions: [Int64] { (0..<rank).map { self[$0] } }

        /// Runs `body` with the dimensions in contiguous memory (on the stack).
        public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Int64>) throws -> R) rethrows -> R {
            var copy = dims
            return try withUnsafePointer(to: &copy) { pointer in
                try pointer.withMemoryRebound(to: Int64.self, capacity: Self.maxRank) {
                    try body(UnsafeBufferPointer(start: $0, count: rank))
                }
            }
        }

        public var description: String { "[" + dimensions.map(String.init).joined(separator: ",") + "]" }

        public static func == (lhs: Shape, rhs: Shape) -> Bool { lhs.dimensions == rhs.dimensions }
    }

    /// A tensor's name, datatype and shape as metadata reports it (`-1` for a dynamic dimension).
    public struct TensorSpec: Sendable, Equatable {
        public var name: String
        public var datatype: DataType
        public var shape: [Int64]

        public init(name: String, datatype: DataType, shape: [Int64]) {
            self.name = name
            self.datatype = datatype
            self.shape = shape
        }
    }

    /// How a model's ONNX inputs and outputs appear in the protocol. Built once per loaded version.
    public struct Signature: Sendable {
        /// One graph input: its spec and where its columns go in the engine's feature row. A class, so the per-call
        /// path reads it by reference (one retain) instead of copying five fields.
        public final class Input: Sendable {
            public let spec: TensorSpec
            /// The name as bytes, compared with the request's without making a String.
            public let nameBytes: [UInt8]
            /// Numeric columns go into the numeric block, string columns into the string columns.
            public let isString: Bool
            /// Per column of the input (the last dimension; 1 for a rank-1 input): the feature's position in the
            /// numeric block or among the string columns.
            public let slots: [Int]
            /// Per column: its feature's name and whether it may be NaN (for messages and the NaN check).
            public let columnNames: [String]
            public let acceptsNaN: [Bool]

            public init(spec: TensorSpec, isString: Bool, slots: [Int], columnNames: [String], acceptsNaN: [Bool]) {
                self.spec = spec
                nameBytes = Array(spec.name.utf8)
                self.isString = isString
                self.slots = slots
                self.columnNames = columnNames
                self.acceptsNaN = acceptsNaN
            }

            /// Whether `bytes` is this input's name.
            @inline(__always)
            func named(_ bytes: UnsafeRawBufferPointer) -> Bool {
                guard nameBytes.count == bytes.count else { return false }
                guard let base = bytes.baseAddress, !nameBytes.isEmpty else { return bytes.isEmpty }
                return nameBytes.withUnsafeBytes { own in own.baseAddress.map { memcmp($0, base, bytes.count) == 0 } ?? false }
            }
        }

        /// What an output carries.
        public enum Role: Sendable, Equatable {
            /// The predicted class per row: INT64 or BYTES, shape [rows].
            case label
            /// Class scores per row in class-label order: FP32 [rows, classes] (ZipMap outputs included).
            case scores
            /// The regression targets per row: FP32 [rows, targets] (or [rows] when the model declares rank 1).
            case value
        }

        /// One output the protocol serves.
        public final class Output: Sendable {
            public let spec: TensorSpec
            public let role: Role
            /// The name as bytes, compared with requested output names without making a String.
            public let nameBytes: [UInt8]

            public init(spec: TensorSpec, role: Role) {
                self.spec = spec
                self.role = role
                nameBytes = Array(spec.name.utf8)
            }

            /// Whether `bytes` is this output's name.
            @inline(__always)
            func named(_ bytes: UnsafeRawBufferPointer) -> Bool {
                guard nameBytes.count == bytes.count else { return false }
                guard let base = bytes.baseAddress, !nameBytes.isEmpty else { return bytes.isEmpty }
                return nameBytes.withUnsafeBytes { own in own.baseAddress.map { memcmp($0, base, bytes.count) == 0 } ?? false }
            }
        }

        public var inputs: [Input]
        public var outputs: [Output]
        /// Set when the model cannot be served by ModelInfer (the reason), e.g. an input of rank above 4.
        public var unsupported: String?

        public init(inputs: [Input], outputs: [Output], unsupported: String? = nil) {
            self.inputs = inputs
            self.outputs = outputs
            self.unsupported = unsupported
        }

        /// The signature of a compiled model: its graph inputs as they are, its label and score outputs.
        init(_ signature: ModelSignature, table: FeatureTable, classLabels: ClassLabels) {
            var inputs: [Input] = []
            var unsupported: String?
            for (index, value) in signature.inputs.enumerated() {
                let features = signature.features.enumerated().filter { $0.element.inputIndex == index }
                    .sorted { $0.element.column < $1.element.column }
                let isString = features.first?.element.kind == .string
                let datatype = DataType(onnxType: value.type) ?? (isString ? .bytes : .fp32)
                var shape = (value.shape ?? [nil, features.count]).map { Int64($0 ?? -1) }
                if shape.isEmpty { shape = [-1] }
                if shape.count > Shape.maxRank {
                    unsupported = "input \"\(value.name)\" has rank \(shape.count); at most \(Shape.maxRank) is supported"
                }
                inputs.append(Input(
                    spec: TensorSpec(name: value.name, datatype: datatype, shape: shape), isString: isString,
                    slots: features.map { table.slots[$0.offset] }, columnNames: features.map { table.features[$0.offset].name },
                    acceptsNaN: features.map { table.acceptsNaN[$0.offset] }))
            }
            var outputs: [Output] = []
            for value in signature.outputs {
                if value.name == signature.labelOutput, signature.task == .classifier {
                    let datatype: DataType
                    if case .string = classLabels { datatype = .bytes } else { datatype = .int64 }
                    outputs.append(Output(spec: TensorSpec(name: value.name, datatype: datatype, shape: [-1]), role: .label))
                } else if value.name == signature.scoreOutput {
                    if signature.task == .classifier {
                        outputs.append(Output(
                            spec: TensorSpec(name: value.name, datatype: .fp32, shape: [-1, Int64(classLabels.count)]),
                            role: .scores))
                    } else {
                        let rank = value.shape?.count ?? 2
                        let targets = Int64(max(1, signature.scoreColumns))
                        outputs.append(Output(
                            spec: TensorSpec(name: value.name, datatype: .fp32, shape: rank == 1 ? [-1] : [-1, targets]),
                            role: .value))
                    }
                }
            }
            self.init(inputs: inputs, outputs: outputs, unsupported: unsupported)
        }

        /// A signature for a model given only its feature table (tests): one [-1, 1] input per feature.
        init(table: FeatureTable, classLabels: ClassLabels, isRegressor: Bool) {
            let inputs = table.features.enumerated().map { position, feature in
                Input(
                    spec: TensorSpec(name: feature.name, datatype: feature.kind == .string ? .bytes : .fp32, shape: [-1, 1]),
                    isString: feature.kind == .string, slots: [table.slots[position]], columnNames: [feature.name],
                    acceptsNaN: [table.acceptsNaN[position]])
            }
            var outputs: [Output] = []
            if isRegressor {
                outputs.append(Output(spec: TensorSpec(name: "variable", datatype: .fp32, shape: [-1, 1]), role: .value))
            } else {
                let labelType: DataType
                if case .string = classLabels { labelType = .bytes } else { labelType = .int64 }
                outputs.append(Output(spec: TensorSpec(name: "label", datatype: labelType, shape: [-1]), role: .label))
                outputs.append(Output(
                    spec: TensorSpec(name: "probabilities", datatype: .fp32, shape: [-1, Int64(classLabels.count)]),
                    role: .scores))
            }
            self.init(inputs: inputs, outputs: outputs)
        }
    }

    /// One input tensor of an inference request, borrowed from the caller for the duration of the call.
    public struct InputTensor {
        public var name: UnsafeRawBufferPointer
        public var datatype: UnsafeRawBufferPointer
        public var shape: UnsafeBufferPointer<Int64>
        /// Raw little-endian bytes, row-major (BYTES: 4-byte little-endian length, then the bytes, per element).
        public var data: UnsafeRawBufferPointer

        public init(
            name: UnsafeRawBufferPointer, datatype: UnsafeRawBufferPointer, shape: UnsafeBufferPointer<Int64>,
            data: UnsafeRawBufferPointer
        ) {
            self.name = name
            self.datatype = datatype
            self.shape = shape
            self.data = data
        }
    }

    /// An inference request as the wire layer decoded it. Everything it returns must stay valid until the entry
    /// point returns; strings are raw UTF-8.
    public protocol Request {
        /// The model's name.
        var model: UnsafeRawBufferPointer { get }
        /// The version selector: "" (routing decides), a number, `production`/`staging`, `@alias` or an alias.
        var version: UnsafeRawBufferPointer { get }
        /// The request id, echoed in the response.
        var id: UnsafeRawBufferPointer { get }
        var inputCount: Int { get }
        func input(at index: Int) -> InputTensor
        /// Outputs the caller asked for by name; none asks for all of them.
        var requestedOutputCount: Int { get }
        func requestedOutput(at index: Int) -> UnsafeRawBufferPointer
        /// The rollout routing key (sticky assignment), e.g. from a `routing_key` parameter; empty for none.
        var routingKey: UnsafeRawBufferPointer { get }
    }

    /// A request that owns its data (for the REST layer and tests): build it, then pass it to the entry point.
    /// Its bytes live in buffers it allocates once and frees when it goes away, so the views it hands out stay
    /// valid while the caller holds it.
    public final class OwnedRequest: Request {
        /// One owned input tensor.
        public struct Input: Sendable {
            public var name: String
            public var datatype: String
            public var shape: [Int64]
            public var data: [UInt8]

            public init(name: String, datatype: String, shape: [Int64], data: [UInt8]) {
                self.name = name
                self.datatype = datatype
                self.shape = shape
                self.data = data
            }
        }

        private struct Stored {
            var name: UnsafeRawBufferPointer
            var datatype: UnsafeRawBufferPointer
            var shape: UnsafeBufferPointer<Int64>
            var data: UnsafeRawBufferPointer
        }

        private var owned: [UnsafeMutableRawBufferPointer] = []
        private var stored: [Stored] = []
        private var outputNames: [UnsafeRawBufferPointer] = []
        public private(set) var model = UnsafeRawBufferPointer(start: nil, count: 0)
        public private(set) var version = UnsafeRawBufferPointer(start: nil, count: 0)
        public private(set) var id = UnsafeRawBufferPointer(start: nil, count: 0)

        public init(model: String, version: String = "", id: String = "", inputs: [Input], outputs: [String] = []) {
            self.model = copy(Array(model.utf8))
            self.version = copy(Array(version.utf8))
            self.id = copy(Array(id.utf8))
            stored = inputs.map { input in
                let shapeBytes = copy(input.shape.withUnsafeBytes { Array($0) })
                return Stored(
                    name: copy(Array(input.name.utf8)), datatype: copy(Array(input.datatype.utf8)),
                    shape: shapeBytes.bindMemory(to: Int64.self), data: copy(input.data))
            }
            outputNames = outputs.map { copy(Array($0.utf8)) }
        }

        deinit { for buffer in owned { buffer.deallocate() } }

        private func copy(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
            owned.append(buffer)
            bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
            return UnsafeRawBufferPointer(start: buffer.baseAddress, count: bytes.count)
        }

        public var inputCount: Int { stored.count }
        public var requestedOutputCount: Int { outputNames.count }

        public func input(at index: Int) -> InputTensor {
            let input = stored[index]
            return InputTensor(name: input.name, datatype: input.datatype, shape: input.shape, data: input.data)
        }

        public func requestedOutput(at index: Int) -> UnsafeRawBufferPointer { outputNames[index] }
    }

    /// One output tensor of a response; `data` is valid only inside the entry point's closure.
    public struct OutputTensor {
        public var name: String
        public var datatype: DataType
        public var shape: Shape
        /// Raw little-endian bytes, row-major (BYTES: length-prefixed elements).
        public var data: UnsafeRawBufferPointer
    }

    /// An inference response, valid only inside the entry point's closure.
    public struct Response {
        /// The model's name.
        public var model: String
        /// The version that answered.
        public var version: Int64
        /// The rollout variant that answered ("" outside a rollout).
        public var variant: String
        /// The request's id, echoed.
        public var id: UnsafeRawBufferPointer
        /// The outputs, in the model's output order (only the requested ones when outputs were named).
        public var outputs: UnsafeBufferPointer<OutputTensor>
    }

    /// Metadata of one model version (`ModelMetadata`, `GET /v2/models/{name}`).
    public struct ModelMetadata: Sendable {
        public var name: String
        /// The versions the registry serves (loaded), as strings.
        public var versions: [String]
        /// "onnx".
        public var platform: String
        public var inputs: [TensorSpec]
        public var outputs: [TensorSpec]
    }

    /// The minimal model configuration Triton clients and load tools read (`ModelConfig`).
    public struct ModelConfig: Sendable {
        public var name: String
        /// "onnxruntime_onnx" (Triton's name for the ONNX platform).
        public var platform: String
        /// "onnxruntime".
        public var backend: String
        /// 0: the batch dimension is part of every input and output shape (`dims` include it as -1).
        public var maxBatchSize: Int
        public var inputs: [TensorSpec]
        public var outputs: [TensorSpec]
        /// The versions loaded, for `version_policy`.
        public var versions: [Int64]
    }

    /// Per-version inference statistics (`ModelStatistics`).
    public struct VersionStatistics: Sendable {
        public var name: String
        public var version: Int64
        /// Wall-clock time of the last inference, milliseconds since the epoch (0: none yet).
        public var lastInferenceMs: UInt64
        /// Requests that ran the model (successful), and rows those requests held.
        public var inferenceCount: UInt64
        public var executionCount: UInt64
        public var success: (count: UInt64, nanos: UInt64)
        public var failure: (count: UInt64, nanos: UInt64)
        /// Time spent validating and copying inputs, running the engine, and encoding outputs (successes).
        public var computeInput: (count: UInt64, nanos: UInt64)
        public var computeInfer: (count: UInt64, nanos: UInt64)
        public var computeOutput: (count: UInt64, nanos: UInt64)
    }

    /// Lock-free counters of one loaded version's Open Inference calls.
    public final class Counters: Sendable {
        let successCount = Atomic<UInt64>(0)
        let successNanos = Atomic<UInt64>(0)
        let failureCount = Atomic<UInt64>(0)
        let failureNanos = Atomic<UInt64>(0)
        let rows = Atomic<UInt64>(0)
        let inputNanos = Atomic<UInt64>(0)
        let inferNanos = Atomic<UInt64>(0)
        let outputNanos = Atomic<UInt64>(0)
        /// When the last call ended, on the monotonic clock (0: none yet); reported as wall-clock milliseconds.
        let last = Atomic<UInt64>(0)

        public init() {}

        /// Records one successful call: its rows, total time, and the input / engine / output phases.
        @inline(__always)
        func recordSuccess(rows count: Int, total: UInt64, input: UInt64, infer: UInt64, output: UInt64, now: UInt64) {
            successCount.wrappingAdd(1, ordering: .relaxed)
            successNanos.wrappingAdd(total, ordering: .relaxed)
            rows.wrappingAdd(UInt64(count), ordering: .relaxed)
            inputNanos.wrappingAdd(input, ordering: .relaxed)
            inferNanos.wrappingAdd(infer, ordering: .relaxed)
            outputNanos.wrappingAdd(output, ordering: .relaxed)
            last.store(now, ordering: .relaxed)
        }

        /// Records one call that reached this version and failed.
        @inline(__always)
        func recordFailure(total: UInt64, now: UInt64) {
            failureCount.wrappingAdd(1, ordering: .relaxed)
            failureNanos.wrappingAdd(total, ordering: .relaxed)
            last.store(now, ordering: .relaxed)
        }

        func snapshot(name: String, version: Int64) -> VersionStatistics {
            let ok = successCount.load(ordering: .relaxed)
            let ended = last.load(ordering: .relaxed)
            let lastMillis = ended == 0 ? 0 : UInt64(max(0, WallClock.seconds(atMonotonic: ended) * 1000))
            return VersionStatistics(
                name: name, version: version, lastInferenceMs: lastMillis,
                inferenceCount: rows.load(ordering: .relaxed), executionCount: ok,
                success: (ok, successNanos.load(ordering: .relaxed)),
                failure: (failureCount.load(ordering: .relaxed), failureNanos.load(ordering: .relaxed)),
                computeInput: (ok, inputNanos.load(ordering: .relaxed)),
                computeInfer: (ok, inferNanos.load(ordering: .relaxed)),
                computeOutput: (ok, outputNanos.load(ordering: .relaxed)))
        }
    }
}
