internal import CProtobufC
internal import CSluiceProto
internal import CSluiceProtoSupport
public import GRPCCore

/// A named feature value as sent by the client. Text bytes are valid only inside the decode closure.
public enum FeatureValueView {
    /// A value for a numeric column; the service narrows it to `Float` for the engine.
    case number(Double)
    /// UTF-8 bytes for a categorical (string) column, borrowed from the request arena.
    case text(UnsafeRawBufferPointer)
    /// The entry has a name but no value.
    case missing
}

/// A decoded `sluice.v1.PredictRequest`, valid only inside ``PredictRequestView/decode(_:_:)``'s closure.
/// Strings are exposed as raw UTF-8 bytes so that a request costs no `String`.
public struct PredictRequestView: ScoringRequestView {
    /// The unpacked message in the decode arena; dangles once ``decode(_:_:)`` returns, so the view must not escape.
    let message: UnsafeMutablePointer<Sluice__V1__PredictRequest>

    /// Decodes `bytes` on this thread's arena and calls `body` with the view.
    public static func decode<R>(_ bytes: UnsafeRawBufferPointer, _ body: (PredictRequestView) throws -> R) throws -> R {
        try withArenaDecoded(
            bytes, messageType: "sluice.v1.PredictRequest",
            unpack: { sluice__v1__predict_request__unpack($0, $1, $2) }
        ) { try body(PredictRequestView(message: $0)) }
    }

    /// The model name as UTF-8 bytes; may be empty when `version` is a model URI that names it.
    public var model: UnsafeRawBufferPointer { cStringBytes(message.pointee.model) }
    /// The version selector as sent (number, stage, `@alias` or URI); empty means the routed default.
    public var version: UnsafeRawBufferPointer { cStringBytes(message.pointee.version) }
    /// Sticky-routing key for rollouts: calls with the same key land on the same variant. Empty when not sent.
    public var routingKey: UnsafeRawBufferPointer { cStringBytes(message.pointee.routing_key) }
    /// The caller's request id, or empty when the server should generate one.
    public var requestID: UnsafeRawBufferPointer { cStringBytes(message.pointee.request_id) }

    /// Number of named features; 0 when the row is sent as `dense` instead.
    public var featureCount: Int { message.pointee.n_features }

    /// The name of the `index`th named feature.
    public func featureName(at index: Int) -> UnsafeRawBufferPointer {
        cStringBytes(message.pointee.features[index]?.pointee.key)
    }

    /// The value of the `index`th named feature.
    public func featureValue(at index: Int) -> FeatureValueView {
        guard let value = message.pointee.features[index]?.pointee.value else { return .missing }
        switch value.pointee.kind_case {
        case SLUICE__V1__FEATURE_VALUE__KIND_NUMBER: return .number(value.pointee.number)
        case SLUICE__V1__FEATURE_VALUE__KIND_TEXT: return .text(cStringBytes(value.pointee.text))
        default: return .missing
        }
    }

    /// Numeric features in signature order, when sent dense.
    public var dense: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: message.pointee.dense, count: message.pointee.n_dense)
    }
}

/// The label of one prediction.
public enum PredictionLabel: Sendable {
    /// The class label of a classifier with int64 labels.
    case int(Int64)
    /// The class label of a classifier with string labels.
    case string(String)
    /// A regressor's output (the first target for multi-target models).
    case value(Double)
}

/// Encodes a `sluice.v1.PredictResponse` into a framed response without building intermediate objects.
public struct PredictResponseEncoder {
    /// The model name echoed in the response.
    public var model: String
    /// The version that actually scored the row (a fallback version if one answered).
    public var version: Int64
    /// The rollout variant that served the call, "fallback" when the fallback version answered, else empty.
    public var variant: String
    /// The predicted label or value; selects which field of the response's `prediction` oneof is set.
    public var prediction: PredictionLabel
    /// The largest class score; 0 for regressors.
    public var confidence: Float

    /// Captures the response fields; `scores` and the request id are passed to `encode` so they are borrowed, not
    /// copied.
    public init(model: String, version: Int64, variant: String, prediction: PredictionLabel, confidence: Float) {
        self.model = model
        self.version = version
        self.variant = variant
        self.prediction = prediction
        self.confidence = confidence
    }

    /// Appends the message with `scores` and `requestID` (raw UTF-8, may be empty) to `buffer`.
    public func encode(
        scores: UnsafeBufferPointer<Float>, requestID: UnsafeRawBufferPointer, into buffer: inout ResponseBuffer
    ) {
        var message = Sluice__V1__PredictResponse()
        sluice__v1__predict_response__init(&message)
        message.version = version
        message.confidence = confidence
        message.n_scores = scores.count
        message.scores = UnsafeMutablePointer(mutating: scores.baseAddress)
        withCStringPointer(model) { modelPointer in
            withCStringPointer(variant) { variantPointer in
                withNulTerminated(requestID) { requestPointer in
                    message.model = modelPointer
                    message.variant = variantPointer
                    message.request_id = requestPointer
                    switch prediction {
                    case .int(let label):
                        message.prediction_case = SLUICE__V1__PREDICT_RESPONSE__PREDICTION_LABEL_INT
                        message.label_int = label
                        pack(&message, into: &buffer)
                    case .value(let value):
                        message.prediction_case = SLUICE__V1__PREDICT_RESPONSE__PREDICTION_VALUE
                        message.value = value
                        pack(&message, into: &buffer)
                    case .string(let label):
                        withCStringPointer(label) { labelPointer in
                            message.prediction_case = SLUICE__V1__PREDICT_RESPONSE__PREDICTION_LABEL_STRING
                            message.label_string = labelPointer
                            pack(&message, into: &buffer)
                        }
                    }
                }
            }
        }
    }

    /// Serializes `message` straight into the response buffer as one framed message. Called inside the string closures
    /// of `encode`, while every C pointer in `message` is still valid.
    private func pack(_ message: inout Sluice__V1__PredictResponse, into buffer: inout ResponseBuffer) {
        let size = sluice__v1__predict_response__get_packed_size(&message)
        buffer.appendMessage(count: size) { out in
            _ = sluice__v1__predict_response__pack(&message, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }
}

/// Runs `body` with a NUL-terminated copy of `bytes` on the stack (up to 256 bytes; longer ones are truncated,
/// which only request ids can reach and which the service bounds before calling).
@inline(__always)
func withNulTerminated<R>(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeMutablePointer<CChar>) -> R) -> R {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 257) { storage in
        let count = min(bytes.count, 256)
        if count > 0 {
            UnsafeMutableRawPointer(storage.baseAddress!).copyMemory(from: bytes.baseAddress!, byteCount: count)
        }
        storage[count] = 0
        return body(storage.baseAddress!)
    }
}
