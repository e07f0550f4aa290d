import BackgroundThreads
import Auth
import GRPCCore
import ModelRegistry
import ServerMetrics
import SluiceProto
import TrafficRouting

extension InferenceAPI {
    /// `BatchPredict`: many rows, columnar or as a row-major dense block; columnar response.
    func batchPredict(_ request: UnsafeRawBufferPointer, _ context: CallContext, _ response: inout ResponseBuffer)
        -> UnaryOutcome
    {
        let started = monotonicNanos()
        metrics.enter()
        defer { metrics.leave() }
        var record = CallRecord(rpc: .batchPredict, audited: gate != nil, started: started)
        var served: RoutedTarget?
        var status = RPCError(.ok, "")
        do {
            try BatchPredictRequestView.decode(request) { view in
                try RequestID.with(view.requestID) { requestID in
                    let (entry, target) = try admitAndRoute(view, requestID: requestID, &record, context: context)
                    served = target
                    do {
                        try predictBatch(view, entry: entry, target: target, requestID: requestID, started: started,
                                         response: &response)
                    } catch {
                        guard let fallback = target.fallback(in: entry, after: error) else { throw error }
                        recordFallback(.batchPredict, failed: target, fallback: fallback, error: error, started: started)
                        served = fallback
                        try predictBatch(view, entry: entry, target: fallback, requestID: requestID, started: started,
                                         response: &response)
                    }
                }
            }
        } catch let error as ProtoDecodeError {
            status = admitMalformed(&record, context: context, error)
        } catch {
            status = RPCError.from(error)
        }
        return finish(.batchPredict, status: status, served: served, record: &record, context: context, started: started)
    }

    /// Scores an admitted, routed batch and encodes the columnar answer.
    private func predictBatch(
        _ view: BatchPredictRequestView, entry: ModelEntry<ServableModel>,
        target: RoutedTarget, requestID: UnsafeRawBufferPointer,
        started: UInt64, response: inout ResponseBuffer
    ) throws {
        let model = target.worker.compiled
        try scratchPool.withScratch { scratch in
            let rows = try fillBatch(view, model: model, scratch: scratch)
            if rows > 0 { try model.run(rows, scratch) }
            let variant = target.variantName
            let stringLabels: [String]
            if case .string(let labels) = model.classLabels { stringLabels = labels } else { stringLabels = [] }
            scratch.labelsInt.withUnsafeBufferPointer { intLabels in
                scratch.labelIndices.withUnsafeBufferPointer { indices in
                    scratch.scores.withUnsafeBufferPointer { scores in
                        scratch.confidence.withUnsafeBufferPointer { confidence in
                            scratch.values.withUnsafeBufferPointer { values in
                                BatchPredictResponseEncoder(
                                    model: entry.name, version: target.worker.version, variant: variant,
                                    rows: rows, numClasses: model.isRegressor ? 0 : model.classLabels.count
                                ).encode(
                                    intLabels: intLabels, stringLabels: stringLabels, labelIndices: indices,
                                    scores: scores, confidence: confidence, values: values,
                                    requestID: requestID, into: &response)
                            }
                        }
                    }
                }
            }
            let elapsed = monotonicNanos() - started
            if !model.isRegressor {
                var sum = 0.0
                for value in scratch.confidence { sum += Double(value) }
                target.worker.stats.record(confidenceSum: sum, rows: rows)
            }
            model.monitoring?.recordBatch(scratch, rows: rows)
            metrics.batchRows.labels([entry.name]).record(UInt64(rows))
            if let series = okSeries(model, name: entry.name, version: target.worker.version, variant: variant) {
                series.batch.requests.increment()
                series.batch.latency.record(elapsed)
            } else {
                metrics.record(.batchPredict, model: entry.name, version: target.worker.version, variant: variant,
                               code: 0, nanos: elapsed)
            }
            if let assignment = target.assignment, let rollouts {
                rollouts.record(assignment, outcome: Outcome(ok: true, latencyNs: elapsed))
            }
        }
    }

    /// Copies a batch into the scratch buffers (row-major numeric block, string columns), validating every
    /// column against the model. Returns the row count.
    func fillBatch(_ view: BatchPredictRequestView, model: ServableModel, scratch: PredictionScratch) throws -> Int {
        let table = model.features
        let dense = view.dense
        if !dense.isEmpty {
            guard view.columnCount == 0 else { throw ServiceError.invalidArgument("set either columns or dense, not both") }
            guard table.stringCount == 0 else {
                throw ServiceError.invalidArgument("this model has string features; send columns instead of dense")
            }
            guard table.numericCount > 0, dense.count % table.numericCount == 0 else {
                throw ServiceError.invalidArgument(
                    "dense has \(dense.count) values, not a multiple of the model's \(table.numericCount) features (\(table.namesList))")
            }
            let rows = dense.count / table.numericCount
            if view.rows != 0 && view.rows != rows {
                throw ServiceError.invalidArgument("rows is \(view.rows) but dense holds \(rows) rows")
            }
            scratch.prepare(rows: rows, numericCount: table.numericCount, stringCount: 0)
            for index in 0..<dense.count {
                let value = dense[index]
                if value.isNaN {
                    let feature = table.features[index % table.numericCount]
                    if !feature.acceptsNaN { throw nanError(feature.name, row: index / table.numericCount) }
                }
            }
            scratch.numeric.withUnsafeMutableBufferPointer { out in
                _ = out.initialize(from: dense)
            }
            return rows
        }
        var rows = view.rows
        if rows == 0, view.columnCount > 0, let first = view.column(at: 0) {
            rows = max(first.values.count, first.stringCount)
        }
        // The buffers are sized by `rows`, so the declared count must be backed by data first: `rows: 4294967295`
        // with one short column would otherwise ask for rows × features floats before any column is checked.
        for index in 0..<view.columnCount {
            guard let column = view.column(at: index) else { continue }
            guard let position = table.position(of: column.name) else {
                throw ServiceError.invalidArgument(
                    "column \"\(String(decoding: column.name, as: UTF8.self))\" is not an input of this model (expected: \(table.namesList))")
            }
            if column.values.count != rows && column.stringCount != rows {
                throw ServiceError.invalidArgument(
                    "column \"\(table.features[position].name)\" has \(max(column.values.count, column.stringCount)) values but the batch has \(rows) rows")
            }
        }
        if rows > 0, view.columnCount == 0, let first = table.features.first {
            throw ServiceError.invalidArgument("column \"\(first.name)\" is missing")
        }
        scratch.prepare(rows: rows, numericCount: table.numericCount, stringCount: table.stringCount)
        var seen = Array(repeating: false, count: table.features.count)
        for index in 0..<view.columnCount {
            guard let column = view.column(at: index) else { continue }
            guard let position = table.position(of: column.name) else {
                throw ServiceError.invalidArgument(
                    "column \"\(String(decoding: column.name, as: UTF8.self))\" is not an input of this model (expected: \(table.namesList))")
            }
            if seen[position] {
                throw ServiceError.invalidArgument("column \"\(table.features[position].name)\" is given twice")
            }
            seen[position] = true
            let feature = table.features[position]
            switch feature.kind {
            case .numeric:
                let values = column.values
                guard values.count == rows, column.stringCount == 0 else {
                    if column.stringCount > 0 {
                        throw ServiceError.invalidArgument("column \"\(feature.name)\" must hold numbers, got strings")
                    }
                    throw ServiceError.invalidArgument(
                        "column \"\(feature.name)\" has \(values.count) values but the batch has \(rows) rows")
                }
                let stride = table.numericCount
                try scratch.numeric.withUnsafeMutableBufferPointer { out in
                    for row in 0..<rows {
                        let value = values[row]
                        if value.isNaN && !feature.acceptsNaN { throw nanError(feature.name, row: row) }
                        out[row * stride + feature.slot] = value
                    }
                }
            case .string:
                guard column.stringCount == rows, column.values.isEmpty else {
                    if !column.values.isEmpty {
                        throw ServiceError.invalidArgument("column \"\(feature.name)\" must hold strings, got numbers")
                    }
                    throw ServiceError.invalidArgument(
                        "column \"\(feature.name)\" has \(column.stringCount) values but the batch has \(rows) rows")
                }
                for row in 0..<rows {
                    scratch.strings[feature.slot][row] = String(decoding: column.string(at: row), as: UTF8.self)
                }
            }
        }
        if rows > 0, let missing = seen.firstIndex(of: false) {
            throw ServiceError.invalidArgument("column \"\(table.features[missing].name)\" is missing")
        }
        return rows
    }
}
