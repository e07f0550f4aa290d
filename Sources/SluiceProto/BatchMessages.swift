internal import CProtobufC
internal import CSluiceProto
internal import CSluiceProtoSupport
public import GRPCCore

/// One column of a decoded batch request.
public struct ColumnView {
    let column: UnsafeMutablePointer<Sluice__V1__Column>

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
    let message: UnsafeMutablePointer<Sluice__V1__BatchPredictRequest>

    public static func decode<R>(
        _ bytes: UnsafeRawBufferPointer, _ body: (BatchPredictRequestView) throws -> R
    ) throws -> R {
        try withArenaDecoded(
            bytes, messageType: "sluice.v1.BatchPredictRequest",
            unpack: { sluice__v1__batch_predict_request__unpack($0, $1, $2) }
        ) { try body(BatchPredictRequestView(message: $0)) }
    }

    public var model: UnsafeRawBufferPointer { cStringBytes(message.pointee.model) }
    public var version: UnsafeRawBufferPointer { cStringBytes(message.pointee.version) }
    public var routingKey: UnsafeRawBufferPointer { cStringBytes(message.pointee.routing_key) }
    public var requestID: UnsafeRawBufferPointer { cStringBytes(message.pointee.request_id) }
    public var rows: Int { Int(message.pointee.rows) }
    public var columnCount: Int { message.pointee.n_columns }
    public func column(at index: Int) -> ColumnView? {
        message.pointee.columns[index].map(ColumnView.init(column:))
    }
    public var dense: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: message.pointee.dense, count: message.pointee.n_dense)
    }
}

/// The per-row outputs of a batch, borrowed from the engine's result buffers.
public struct BatchPredictResponseEncoder {
    public var model: String
    public var version: Int64
    public var variant: String
    public var rows: Int
    public var numClasses: Int

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
