import BackgroundThreads
import Auth
import GRPCCore
import ModelRegistry
import ServerMetrics
import SluiceProto
import Synchronization
import TrafficRouting

extension InferenceAPI {
    /// `Predict`: one row, named features or a dense vector.
    func predict(_ request: UnsafeRawBufferPointer, _ context: CallContext, _ response: inout ResponseBuffer) -> UnaryOutcome {
        let started = monotonicNanos()
        metrics.enter()
        defer { metrics.leave() }
        var record = CallRecord(rpc: .predict, audited: gate != nil, started: started)
        var served: RoutedTarget?
        var status = RPCError(.ok, "")
        var deferred = false
        do {
            try PredictRequestView.decode(request) { view in
                try RequestID.with(view.requestID) { requestID in
                    let (entry, target) = try admitAndRoute(view, requestID: requestID, &record, context: context)
                    served = target
                    if let batcher = target.worker.compiled.batcher, target.assignment?.shadowVersion == nil,
                        let promise = context.makePromise()
                    {
                        try enqueue(view, batcher: batcher, target: target, requestID: requestID, started: started,
                                    promise: promise, record: record, context: context)
                        deferred = true
                        return
                    }
                    do {
                        try predictRow(view, entry: entry, target: target, requestID: requestID, started: started,
                                       response: &response)
                    } catch {
                        guard let fallback = target.fallback(in: entry, after: error) else { throw error }
                        recordFallback(.predict, failed: target, fallback: fallback, error: error, started: started)
                        served = fallback
                        try predictRow(view, entry: entry, target: fallback, requestID: requestID, started: started,
                                       response: &response)
                    }
                }
            }
        } catch let error as ProtoDecodeError {
            status = admitMalformed(&record, context: context, error)
        } catch {
            status = RPCError.from(error)
        }
        if deferred { return .deferred }
        return finish(.predict, status: status, served: served, record: &record, context: context, started: started)
    }

    /// Validates the row and queues it for the model's dynamic batcher; the promise completes the call.
    private func enqueue(
        _ view: PredictRequestView, batcher: DynamicBatcher,
        target: RoutedTarget, requestID: UnsafeRawBufferPointer,
        started: UInt64, promise: UnaryPromise, record: CallRecord, context: CallContext
    ) throws {
        let model = target.worker.compiled
        let (numeric, strings) = try scratchPool.withScratch { scratch in
            try fillRow(view, model: model, scratch: scratch)
            return (Array(scratch.numeric), scratch.strings.map { $0.first ?? "" })
        }
        let worker = target.worker
        let assignment = target.assignment
        let variant = target.variantName
        var record = record
        record.version = worker.version
        record.variant = variant
        let audited = record
        let finish: @Sendable (StatusCode, UInt64, PredictionLabel?, Float) -> Void = { [self] code, elapsed, _, confidence in
            if code == .ok && !model.isRegressor { worker.stats.record(confidence: confidence) }
            metrics.record(.predict, model: worker.model, version: worker.version, variant: variant, code: code.rawValue,
                           nanos: elapsed)
            if let assignment, let rollouts {
                rollouts.record(assignment, outcome: Outcome(ok: code == .ok, latencyNs: elapsed,
                                                              confidence: code == .ok ? Double(confidence) : nil))
            }
            gate?.audit(audited, context: context, status: code, latencyNanos: elapsed)
        }
        batcher.submit(DynamicBatcher.Pending(
            numeric: numeric, strings: strings, requestID: Array(requestID), promise: promise, finish: finish,
            variant: variant, started: started))
    }

    /// Scores one admitted, routed row and encodes the answer.
    private func predictRow(
        _ view: PredictRequestView, entry: ModelEntry<ServableModel>,
        target: RoutedTarget, requestID: UnsafeRawBufferPointer,
        started: UInt64, response: inout ResponseBuffer
    ) throws {
        let model = target.worker.compiled
        try scratchPool.withScratch { scratch in
            try fillRow(view, model: model, scratch: scratch)
            try model.run(1, scratch)
            let prediction = label(model, scratch, row: 0)
            let confidence = scratch.confidence.first ?? 0
            let variant = target.variantName
            scratch.scores.withUnsafeBufferPointer { scores in
                PredictResponseEncoder(
                    model: entry.name, version: target.worker.version, variant: variant,
                    prediction: prediction, confidence: confidence
                ).encode(scores: scores, requestID: requestID, into: &response)
            }
            let elapsed = monotonicNanos() - started
            if !model.isRegressor { target.worker.stats.record(confidence: confidence) }
            model.monitoring?.record(scratch, row: 0)
            if let series = okSeries(model, name: entry.name, version: target.worker.version, variant: variant) {
                series.predict.requests.increment()
                series.predict.latency.record(elapsed)
            } else {
                metrics.record(.predict, model: entry.name, version: target.worker.version, variant: variant,
                               code: 0, nanos: elapsed)
            }
            if let assignment = target.assignment, let rollouts {
                rollouts.record(assignment, outcome: outcome(model, scratch, failed: false, nanos: elapsed))
                if let shadow = assignment.shadowVersion {
                    if let pool = offload?.pool {
                        runShadowOffLoop(
                            entry: entry, version: shadow, assignment: assignment, prediction: prediction,
                            scratch: scratch, rollouts: rollouts, pool: pool)
                    } else {
                        runShadow(entry: entry, version: shadow, assignment: assignment, prediction: prediction,
                                  scratch: scratch, rollouts: rollouts)
                    }
                }
            }
        }
    }

    /// Picks the worker for a call: an explicit selector goes straight to the registry; a routed call goes
    /// through the model's active rollout, if any, else to Production.
    @inline(__always)
    func route(
        _ entry: ModelEntry<ServableModel>, _ selector: VersionSelector, routingKey: UnsafeRawBufferPointer
    ) throws -> RoutedTarget {
        let production = selector == .routed || selector == .stage(.production)
        if selector == .routed, let rollouts,
            let assignment = rollouts.assign(model: entry.name, routingKeyBytes: routingKey),
            let worker = entry.workers[assignment.version]
        {
            return RoutedTarget(worker: worker, assignment: assignment, mayFallBack: true)
        }
        if production, let fallback = entry.productionFallback {
            metrics.countFallback(model: entry.name, failed: entry.metadata.latest(in: .production)?.version ?? 0,
                                  fallback: fallback.version, reason: .loadFailed)
            return RoutedTarget(worker: fallback, assignment: nil, isFallback: true)
        }
        return RoutedTarget(worker: try entry.resolve(selector), assignment: nil, mayFallBack: production)
    }

    /// The OK metric series of `model` (version `version` of `name`) serving as `variant` ("" outside a
    /// rollout), when resolved without a lookup; nil sends the caller to `metrics.record`.
    @inline(__always)
    func okSeries(_ model: ServableModel, name: String, version: Int64, variant: String) -> ServableModel.OKSeries? {
        if variant.isEmpty { return model.okSeries }
        if let cached = model.variantOKSeries.load() { return cached.variant == variant ? cached.series : nil }
        guard model.okSeries != nil else { return nil }  // built without metrics (tests)
        let stored = model.variantOKSeries.storeIfNil(
            ServableModel.VariantOKSeries(
                variant: variant, series: metrics.okSeries(model: name, version: version, variant: variant)))
        return stored.variant == variant ? stored.series : nil
    }

    /// Copies one row of a Predict request into the scratch buffers, validating it against the model.
    func fillRow(_ view: PredictRequestView, model: ServableModel, scratch: PredictionScratch) throws {
        let table = model.features
        scratch.prepare(rows: 1, numericCount: table.numericCount, stringCount: table.stringCount)
        let dense = view.dense
        if !dense.isEmpty {
            guard view.featureCount == 0 else {
                throw ServiceError.invalidArgument("set either features or dense, not both")
            }
            guard table.stringCount == 0 else {
                throw ServiceError.invalidArgument(
                    "this model has string features (\(table.features.filter { $0.kind == .string }.map(\.name).joined(separator: ", "))); send named features instead of dense")
            }
            guard dense.count == table.numericCount else {
                throw ServiceError.invalidArgument(
                    "dense has \(dense.count) values but the model takes \(table.numericCount) (\(table.namesList))")
            }
            for (index, value) in dense.enumerated() {
                if value.isNaN && !table.acceptsNaN[index] { throw nanError(table.features[index].name) }
                scratch.numeric[index] = value
            }
            return
        }
        var seen = 0
        var seenMask: UInt64 = 0
        var seenLarge: [Bool]? = table.features.count > 64 ? Array(repeating: false, count: table.features.count) : nil
        for entry in 0..<view.featureCount {
            let name = view.featureName(at: entry)
            guard let position = table.position(of: name) else {
                throw ServiceError.invalidArgument(
                    "feature \"\(String(decoding: name, as: UTF8.self))\" is not an input of this model (expected: \(table.namesList))")
            }
            if seenLarge != nil {
                if !seenLarge![position] { seen += 1 }
                seenLarge![position] = true
            } else if seenMask & (1 << UInt64(position)) == 0 {
                seenMask |= 1 << UInt64(position)
                seen += 1
            }
            let slot = table.slots[position]
            switch (table.kinds[position], view.featureValue(at: entry)) {
            case (.numeric, .number(let number)):
                let value = Float(number)
                if value.isNaN && !table.acceptsNaN[position] { throw nanError(table.features[position].name) }
                scratch.numeric[slot] = value
            case (.string, .text(let bytes)):
                scratch.strings[slot][0] = String(decoding: bytes, as: UTF8.self)
            case (.numeric, .text):
                throw ServiceError.invalidArgument(
                    "feature \"\(table.features[position].name)\" must be a number, got text")
            case (.string, .number):
                throw ServiceError.invalidArgument(
                    "feature \"\(table.features[position].name)\" must be a string, got a number")
            case (_, .missing):
                throw ServiceError.invalidArgument("feature \"\(table.features[position].name)\" has no value")
            }
        }
        if seen < table.features.count {
            for (position, feature) in table.features.enumerated() {
                let present = seenLarge?[position] ?? (seenMask & (1 << UInt64(position)) != 0)
                if !present { throw ServiceError.invalidArgument("feature \"\(feature.name)\" is missing") }
            }
        }
    }

    func nanError(_ name: String, row: Int? = nil) -> ServiceError {
        let at = row.map { " in row \($0)" } ?? ""
        return ServiceError.invalidArgument("feature \"\(name)\"\(at) is NaN, which this model cannot take")
    }

    /// The label of `row` as the response carries it.
    @inline(__always)
    func label(_ model: ServableModel, _ scratch: PredictionScratch, row: Int) -> PredictionLabel {
        Self.label(model, scratch, row: row)
    }

    @inline(__always)
    static func label(_ model: ServableModel, _ scratch: PredictionScratch, row: Int) -> PredictionLabel {
        if model.isRegressor { return .value(row < scratch.values.count ? scratch.values[row] : .nan) }
        switch model.classLabels {
        case .string(let labels):
            let index = row < scratch.labelIndices.count ? Int(scratch.labelIndices[row]) : -1
            return .string(labels.indices.contains(index) ? labels[index] : "")
        default:
            return .int(row < scratch.labelsInt.count ? scratch.labelsInt[row] : 0)
        }
    }

    /// The rollout-relevant summary of row 0.
    func outcome(_ model: ServableModel, _ scratch: PredictionScratch, failed: Bool, nanos: UInt64) -> Outcome {
        var result = Outcome(ok: !failed, latencyNs: nanos)
        if model.isRegressor {
            result.score = scratch.values.first
            return result
        }
        result.confidence = scratch.confidence.first.map(Double.init)
        if let positive = model.positiveClass {
            let classes = model.classLabels.count
            if classes > 0, scratch.scores.count >= classes { result.score = Double(scratch.scores[positive]) }
            switch model.classLabels {
            case .int(let labels): result.positive = scratch.labelsInt.first == labels[positive]
            case .string: result.positive = scratch.labelIndices.first.map { Int($0) == positive }
            case .none: break
            }
        }
        return result
    }

    /// Hands the shadow evaluation to a worker with a copy of the row, so the caller's answer does not wait for
    /// it. With the worker queue full the shadow run is skipped and counted as a failed shadow call.
    func runShadowOffLoop(
        entry: ModelEntry<ServableModel>, version: Int64, assignment: Assignment, prediction: PredictionLabel,
        scratch: PredictionScratch, rollouts: RolloutManager, pool: WorkerPool
    ) {
        let numeric = scratch.numeric
        let strings = scratch.strings
        let accepted = pool.submit { [self] in
            scratchPool.withScratch { copy in
                copy.numeric = numeric
                copy.strings = strings
                copy.clearOutputs()
                runShadow(entry: entry, version: version, assignment: assignment, prediction: prediction,
                          scratch: copy, rollouts: rollouts)
            }
        }
        if !accepted { rollouts.recordShadow(assignment, outcome: Outcome(ok: false, latencyNs: 0), agreed: false) }
    }

    /// Evaluates the shadow version on the same row and reports agreement; its answer is never returned.
    func runShadow(
        entry: ModelEntry<ServableModel>, version: Int64, assignment: Assignment, prediction: PredictionLabel,
        scratch: PredictionScratch, rollouts: RolloutManager
    ) {
        guard let shadow = entry.workers[version] else { return }
        let started = monotonicNanos()
        let model = shadow.compiled
        // The shadow may take different features; it reuses the row only when the layouts match.
        guard model.features.numericCount == scratch.numeric.count, model.features.stringCount == scratch.strings.count
        else {
            rollouts.recordShadow(assignment, outcome: Outcome(ok: false, latencyNs: 0), agreed: false)
            return
        }
        do {
            scratch.clearOutputs()
            try model.run(1, scratch)
            let shadowLabel = label(model, scratch, row: 0)
            let agreed: Bool
            switch (prediction, shadowLabel) {
            case (.int(let a), .int(let b)): agreed = a == b
            case (.string(let a), .string(let b)): agreed = a == b
            case (.value(let a), .value(let b)): agreed = abs(a - b) <= 1e-6 * max(1, abs(a))
            default: agreed = false
            }
            let elapsed = monotonicNanos() - started
            rollouts.recordShadow(assignment, outcome: outcome(model, scratch, failed: false, nanos: elapsed),
                                  agreed: agreed)
        } catch {
            rollouts.recordShadow(assignment, outcome: Outcome(ok: false, latencyNs: monotonicNanos() - started),
                                  agreed: false)
        }
    }
}
