internal import CProtobufC
internal import CSluiceProto
internal import CSluiceProtoSupport
public import GRPCCore

/// `sluice.v1.GetModelVersionRequest`.
public struct GetModelVersionRequest: Sendable, Equatable {
    /// The registered model name; may be empty when `version` is a model URI that names it.
    public var model: String
    /// A version selector: number, stage, `@alias` or model URI; empty means the version routed calls get.
    public var version: String
    /// With an empty `version`: describe every version of the model instead of one.
    public var list: Bool

    /// Builds a request, for tests and clients; the defaults ask for the routed version only.
    public init(model: String, version: String = "", list: Bool = false) {
        self.model = model
        self.version = version
        self.list = list
    }

    /// Decodes and copies the fields out of the arena; throws `ProtoDecodeError` when the bytes are not a valid
    /// message.
    public init(decoding bytes: UnsafeRawBufferPointer) throws {
        (model, version, list) = try withArenaDecoded(
            bytes, messageType: "sluice.v1.GetModelVersionRequest",
            unpack: { sluice__v1__get_model_version_request__unpack($0, $1, $2) }
        ) { message in
            (cString(message.pointee.model), cString(message.pointee.version), message.pointee.list != 0)
        }
    }
}

/// `sluice.v1.TensorInfo`.
public struct TensorInfo: Sendable, Equatable {
    /// The ONNX graph's input or output name.
    public var name: String
    /// "float32", "float64", "int64", "string", "map(int64,float32)", ...
    public var elementType: String
    /// -1 marks a dynamic dimension.
    public var shape: [Int64]

    /// Memberwise; `shape` uses -1 for dynamic dimensions.
    public init(name: String, elementType: String, shape: [Int64]) {
        self.name = name
        self.elementType = elementType
        self.shape = shape
    }
}

/// `sluice.v1.Signature`.
public struct SignatureInfo: Sendable, Equatable {
    /// The ONNX graph's inputs as the model file declares them.
    public var inputs: [TensorInfo] = []
    /// The ONNX graph's outputs (labels, probabilities or values).
    public var outputs: [TensorInfo] = []
    /// Class labels of a classifier with int64 labels, in score-column order; empty otherwise.
    public var classLabelsInt: [Int64] = []
    /// Class labels of a classifier with string labels, in score-column order; empty otherwise.
    public var classLabelsString: [String] = []
    /// (name, type) in dense order.
    public var features: [(name: String, type: String)] = []
    /// "classifier" or "regressor".
    public var task: String = ""

    public init() {}

    /// Written by hand because tuple arrays (`features`) do not synthesize `Equatable`; compares every field.
    public static func == (lhs: SignatureInfo, rhs: SignatureInfo) -> Bool {
        lhs.inputs == rhs.inputs && lhs.outputs == rhs.outputs && lhs.classLabelsInt == rhs.classLabelsInt
            && lhs.classLabelsString == rhs.classLabelsString && lhs.task == rhs.task
            && lhs.features.map(\.name) == rhs.features.map(\.name)
            && lhs.features.map(\.type) == rhs.features.map(\.type)
    }
}

/// `sluice.v1.VersionState`.
public enum VersionStateInfo: UInt32, Sendable {
    /// Not set (proto3 default); the server always sends one of the other states.
    case unspecified = 0
    /// Registered but not loaded: not in Staging/Production, no alias, not in a rollout.
    case notLoaded = 1
    /// Being read and compiled by the registry.
    case loading = 2
    /// Loaded and able to serve.
    case ready = 3
    /// Failed to load; `stateReason` says why.
    case failed = 4
    /// Was loaded, is no longer needed, and has been released.
    case retired = 5
}

/// `sluice.v1.ModelVersion`.
public struct ModelVersionInfo: Sendable, Equatable {
    /// The registered model name.
    public var model: String = ""
    /// The registry's version number.
    public var version: Int64 = 0
    /// "None", "Staging", "Production" or "Archived".
    public var stage: String = "None"
    /// Aliases that point at this version, without the `@`.
    public var aliases: [String] = []
    /// Where the version is in its serving lifecycle on this replica.
    public var state: VersionStateInfo = .unspecified
    /// Why the version is FAILED (and which fallback serves instead); empty otherwise.
    public var stateReason: String = ""
    /// The compiled model's signature; nil unless the version is loaded.
    public var signature: SignatureInfo?
    /// The registry's free-text description of the version.
    public var description: String = ""
    /// Registry tags, sorted by key so responses are deterministic.
    public var tags: [(key: String, value: String)] = []
    /// Registry metrics (e.g. the MLflow run's metrics), sorted by key.
    public var metrics: [(key: String, value: Double)] = []
    /// Hex SHA-256 of the model file, from the metadata or else computed at load; empty when neither is known.
    public var sha256: String = ""
    /// When the version was registered, in milliseconds since the Unix epoch.
    public var createdUnixMs: Int64 = 0
    /// The version's source (where its model file came from), as the registry records it.
    public var source: String = ""
    /// Share of the model's routed traffic this version currently receives, 0...1.
    public var trafficShare: Double = 0
    /// The MLflow run that produced the version (empty for local registries).
    public var runId: String = ""
    /// This version is the model's fallback.
    public var isFallback: Bool = false
    /// Drift monitoring of the version (nil: not reported).
    public var monitoring: MonitoringInfo?

    public init() {}

    /// Written by hand because tuple arrays (`tags`, `metrics`) do not synthesize `Equatable`; compares every field.
    public static func == (lhs: ModelVersionInfo, rhs: ModelVersionInfo) -> Bool {
        lhs.model == rhs.model && lhs.version == rhs.version && lhs.stage == rhs.stage && lhs.aliases == rhs.aliases
            && lhs.state == rhs.state && lhs.stateReason == rhs.stateReason && lhs.signature == rhs.signature
            && lhs.description == rhs.description && lhs.tags.map(\.key) == rhs.tags.map(\.key)
            && lhs.tags.map(\.value) == rhs.tags.map(\.value) && lhs.metrics.map(\.key) == rhs.metrics.map(\.key)
            && lhs.metrics.map(\.value) == rhs.metrics.map(\.value) && lhs.sha256 == rhs.sha256
            && lhs.createdUnixMs == rhs.createdUnixMs && lhs.source == rhs.source
            && lhs.trafficShare == rhs.trafficShare && lhs.runId == rhs.runId && lhs.isFallback == rhs.isFallback
            && lhs.monitoring == rhs.monitoring
    }
}

/// `sluice.v1.GetModelVersionResponse`.
public struct GetModelVersionResponse: Sendable, Equatable {
    /// One entry, or every version of the model when the request set `list`.
    public var versions: [ModelVersionInfo]

    public init(versions: [ModelVersionInfo]) { self.versions = versions }

    /// Appends the response as one framed gRPC message; the C message is laid out in a scratch arena freed before
    /// returning.
    public func encode(into buffer: inout ResponseBuffer) {
        withArenaScope { arena in
            var message = Sluice__V1__GetModelVersionResponse()
            sluice__v1__get_model_version_response__init(&message)
            let out = arena.allocate(UnsafeMutablePointer<Sluice__V1__ModelVersion>?.self, count: versions.count)
            for (index, info) in versions.enumerated() { out[index] = Self.build(info, arena) }
            message.n_versions = versions.count
            message.versions = out
            let size = sluice__v1__get_model_version_response__get_packed_size(&message)
            buffer.appendMessage(count: size) { bytes in
                _ = sluice__v1__get_model_version_response__pack(
                    &message, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
    }

    private static func build(_ info: ModelVersionInfo, _ arena: ArenaBuilder)
        -> UnsafeMutablePointer<Sluice__V1__ModelVersion>
    {
        let message = arena.allocate(Sluice__V1__ModelVersion.self, count: 1)
        sluice__v1__model_version__init(message)
        message.pointee.model = arena.string(info.model)
        message.pointee.version = info.version
        message.pointee.stage = arena.string(info.stage)
        message.pointee.n_aliases = info.aliases.count
        message.pointee.aliases = arena.strings(info.aliases)
        message.pointee.state = Sluice__V1__VersionState(rawValue: info.state.rawValue)
        message.pointee.state_reason = arena.string(info.stateReason)
        message.pointee.description = arena.string(info.description)
        message.pointee.sha256 = arena.string(info.sha256)
        message.pointee.created_unix_ms = info.createdUnixMs
        message.pointee.source = arena.string(info.source)
        message.pointee.traffic_share = info.trafficShare
        message.pointee.run_id = arena.string(info.runId)
        message.pointee.is_fallback = info.isFallback ? 1 : 0
        let tags = arena.allocate(UnsafeMutablePointer<Sluice__V1__ModelVersion__TagsEntry>?.self, count: info.tags.count)
        for (index, tag) in info.tags.enumerated() {
            let entry = arena.allocate(Sluice__V1__ModelVersion__TagsEntry.self, count: 1)
            sluice__v1__model_version__tags_entry__init(entry)
            entry.pointee.key = arena.string(tag.key)
            entry.pointee.value = arena.string(tag.value)
            tags[index] = entry
        }
        message.pointee.n_tags = info.tags.count
        message.pointee.tags = tags
        let metrics = arena.allocate(
            UnsafeMutablePointer<Sluice__V1__ModelVersion__MetricsEntry>?.self, count: info.metrics.count)
        for (index, metric) in info.metrics.enumerated() {
            let entry = arena.allocate(Sluice__V1__ModelVersion__MetricsEntry.self, count: 1)
            sluice__v1__model_version__metrics_entry__init(entry)
            entry.pointee.key = arena.string(metric.key)
            entry.pointee.value = metric.value
            metrics[index] = entry
        }
        message.pointee.n_metrics = info.metrics.count
        message.pointee.metrics = metrics
        if let signature = info.signature { message.pointee.signature = build(signature, arena) }
        if let monitoring = info.monitoring { message.pointee.monitoring = build(monitoring, arena) }
        return message
    }

    private static func build(_ info: SignatureInfo, _ arena: ArenaBuilder) -> UnsafeMutablePointer<Sluice__V1__Signature> {
        let message = arena.allocate(Sluice__V1__Signature.self, count: 1)
        sluice__v1__signature__init(message)
        func tensors(_ list: [TensorInfo]) -> UnsafeMutablePointer<UnsafeMutablePointer<Sluice__V1__TensorInfo>?> {
            let out = arena.allocate(UnsafeMutablePointer<Sluice__V1__TensorInfo>?.self, count: list.count)
            for (index, tensor) in list.enumerated() {
                let entry = arena.allocate(Sluice__V1__TensorInfo.self, count: 1)
                sluice__v1__tensor_info__init(entry)
                entry.pointee.name = arena.string(tensor.name)
                entry.pointee.element_type = arena.string(tensor.elementType)
                entry.pointee.n_shape = tensor.shape.count
                entry.pointee.shape = arena.array(tensor.shape)
                out[index] = entry
            }
            return out
        }
        message.pointee.n_inputs = info.inputs.count
        message.pointee.inputs = tensors(info.inputs)
        message.pointee.n_outputs = info.outputs.count
        message.pointee.outputs = tensors(info.outputs)
        message.pointee.n_class_labels_int = info.classLabelsInt.count
        message.pointee.class_labels_int = arena.array(info.classLabelsInt)
        message.pointee.n_class_labels_string = info.classLabelsString.count
        message.pointee.class_labels_string = arena.strings(info.classLabelsString)
        let features = arena.allocate(UnsafeMutablePointer<Sluice__V1__FeatureInfo>?.self, count: info.features.count)
        for (index, feature) in info.features.enumerated() {
            let entry = arena.allocate(Sluice__V1__FeatureInfo.self, count: 1)
            sluice__v1__feature_info__init(entry)
            entry.pointee.name = arena.string(feature.name)
            entry.pointee.type = arena.string(feature.type)
            features[index] = entry
        }
        message.pointee.n_features = info.features.count
        message.pointee.features = features
        message.pointee.task = arena.string(info.task)
        return message
    }
}
