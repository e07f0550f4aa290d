internal import CProtobufC
internal import CSluiceProto
internal import CSluiceProtoSupport
public import GRPCCore

/// One column of a decoded batch request.
public struct ColumnView {
    /// The unpacked column inside the request's arena; dangles once the decode closure returns.
    let column: UnsafeMutablePointer<Sluice__V1__Column>

    /// The feature name as UTF-8 bytes (no terminating NUL), borrowed from the arena.
    public var name: UnsafeRawBufferPointer { cStringBytes(column.pointee.name) }
    /// Numeric values, one per row.
    public var values: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: column.pointee.values, count: column.pointee.n_values)
    }
    /// Number of string values.
    public var stringCount: Int { column.pointee.n_strings }
    /// The `index`th string value as UTF-8 bytes.
    public func string(at index: Int) -> UnsafeRawBufferPointer { cStringBytes(column.pointee.strings[index]) }
}

/// A decoded `sluice.v1.BatchPredictRequest`, valid only inside ``decode(_:_:)``'s closure.
public struct BatchPredictRequestView: ScoringRequestView {
    /// The unpacked message in the decode arena; freed when ``decode(_:_:)`` returns, so the view must not escape.
    let message: UnsafeMutablePointer<Sluice__V1__BatchPredictRequest>

    /// Unpacks `bytes` into an arena and runs `body` with a view of the message; the view and every buffer it hands out
    /// are valid only inside `body`. Throws `ProtoDecodeError` when the bytes are not a valid `BatchPredictRequest`.
    public static func decode<R>(
        _ bytes: UnsafeRawBufferPointer, _ body: (BatchPredictRequestView) throws -> R
    ) throws -> R {
        try withArenaDecoded(
            bytes, messageType: "sluice.v1.BatchPredictRequest",
            unpack: { sluice__v1__batch_predict_request__unpack($0, $1, $2) }
        ) { try body(BatchPredictRequestView(message: $0)) }
    }

    /// The model name as UTF-8 bytes; may be empty when the version field carries a model URI.
    public var model: UnsafeRawBufferPointer { cStringBytes(message.pointee.model) }
    /// The version selector as sent (number, stage, `@alias` or URI); empty means the routed default.
    public var version: UnsafeRawBufferPointer { cStringBytes(message.pointee.version) }
    /// Sticky-routing key for rollouts: calls with the same key land on the same variant. Empty when not sent.
    public var routingKey: UnsafeRawBufferPointer { cStringBytes(message.pointee.routing_key) }
    /// The caller's request id, or empty when the server should generate one.
    public var requestID: UnsafeRawBufferPointer { cStringBytes(message.pointee.request_id) }
    /// The number of rows the caller declares; columns and `dense` are checked against it.
    public var rows: Int { Int(message.pointee.rows) }
    /// Number of named columns; 0 when the batch is sent as a `dense` block instead.
    public var columnCount: Int { message.pointee.n_columns }
    /// The `index`th column (in request order, not signature order), or nil for a null entry; `index` must be below
    /// `columnCount`.
    public func column(at index: Int) -> ColumnView? {
        message.pointee.columns[index].map(ColumnView.init(column:))
    }
    /// Row-major block of numeric features in signature order (rows × features); empty when `columns` is used.
    public var dense: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: message.pointee.dense, count: message.pointee.n_dense)
    }
}

/// The per-row outputs of a batch, borrowed from the engine's result buffers.
public struct BatchPredictResponseEncoder {
    /// The model name echoed in the response.
    public var model: String
    /// The version that actually scored the batch (a fallback version if one answered).
    public var version: Int64
    /// The rollout variant that served the call, "fallback" when the fallback version answered, else empty.
    public var variant: String
    /// Rows in the batch; each non-empty output buffer holds `rows` entries (scores: `rows * numClasses`).
    public var rows: Int
    /// Class-score columns per row; 0 for regressors.
    public var numClasses: Int

    /// Captures the response header; the per-row buffers are passed to `encode` so they are borrowed, not copied.
    public init(model: String, version: Int64, variant: String, rows: Int, numClasses: Int) {
        self.model = model
        self.version = version
        self.variant = variant
        self.rows = rows
        self.numClasses = numClasses
    }

    /// Appends the message. `labelIndices` (into `stringLabels`) is used for string-labelled models,
    /// `intLabels` for int64-labelled ones; `values` for regressors. Empty buffers are omitted.
    public func encode(
        intLabels: UnsafeBufferPointer<Int64>,
        stringLabels: [String], labelIndices: UnsafeBufferPointer<Int32>,
        scores: UnsafeBufferPointer<Float>, confidence: UnsafeBufferPointer<Float>,
        values: UnsafeBufferPointer<Double>, requestID: UnsafeRawBufferPointer,
        into buffer: inout ResponseBuffer
    ) {
        withArenaScope { arena in
            var message = Sluice__V1__BatchPredictResponse()
            sluice__v1__batch_predict_response__init(&message)
            message.model = arena.string(model)
            message.version = version
            message.variant = arena.string(variant)
            message.rows = UInt32(truncatingIfNeeded: rows)
            message.num_classes = UInt32(truncatingIfNeeded: numClasses)
            message.n_labels_int = intLabels.count
            message.labels_int = UnsafeMutablePointer(mutating: intLabels.baseAddress)
            if !labelIndices.isEmpty {
                let classStrings = stringLabels.map { arena.string($0) }
                let rowsOut = arena.allocate(UnsafeMutablePointer<CChar>?.self, count: labelIndices.count)
                for (row, index) in labelIndices.enumerated() {
                    rowsOut[row] = classStrings.indices.contains(Int(index)) ? classStrings[Int(index)] : arena.string("")
                }
                message.n_labels_string = labelIndices.count
                message.labels_string = rowsOut
            }
            message.n_scores = scores.count
            message.scores = UnsafeMutablePointer(mutating: scores.baseAddress)
            message.n_confidence = confidence.count
            message.confidence = UnsafeMutablePointer(mutating: confidence.baseAddress)
            message.n_values = values.count
            message.values = UnsafeMutablePointer(mutating: values.baseAddress)
            withNulTerminated(requestID) { requestPointer in
                message.request_id = requestPointer
                let size = sluice__v1__batch_predict_response__get_packed_size(&message)
                buffer.appendMessage(count: size) { out in
                    _ = sluice__v1__batch_predict_response__pack(
                        &message, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
    }
}
