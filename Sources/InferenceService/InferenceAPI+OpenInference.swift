#if canImport(Glibc)
import Glibc
#endif
import Auth
import BackgroundThreads
public import GRPCCore
import ModelRegistry
import ServerMetrics
import TrafficRouting

/// The Open Inference Protocol entry points, shared by the gRPC service and the REST routes. Each one admits the
/// call (authentication, RBAC: inference needs `Predict`, metadata calls `GetModelVersion`, server health calls are
/// health checks), resolves the model and version, and answers or throws a ``ServiceError`` (whose `rpcError` or
/// `httpStatus` the wire layer sends). Calls are recorded in metrics and the audit log like Predict.
extension InferenceAPI {
    // MARK: - Server

    /// `ServerLive`: the process answers. Admitted as a health check (open unless `health.open` is false).
    public func openInferenceServerLive(context: CallContext) throws(ServiceError) -> Bool {
        try admitHealth(context)
        return true
    }

    /// `ServerReady`: `health` says the server is serving (models loaded, not draining).
    public func openInferenceServerReady(context: CallContext, health: HealthStatusTable?) throws(ServiceError) -> Bool {
        try admitHealth(context)
        guard let health else { return registry.initialLoadComplete }
        return health.status(of: "") == .serving
    }

    /// `ServerMetadata`: the server's name, `version` (the binary's, from the composition layer) and the protocol
    /// extensions it implements.
    public func openInferenceServerMetadata(context: CallContext, version: String) throws(ServiceError) -> (
        name: String, version: String, extensions: [String]
    ) {
        try admitHealth(context)
        return ("sluice", version, ["model_configuration", "statistics"])
    }

    private func admitHealth(_ context: CallContext) throws(ServiceError) {
        guard let gate else { return }
        let decision = gate.auth.authorize(
            rpc: .health, model: "", authorization: context.metadata.first("authorization"),
            apiKey: context.metadata.first("x-api-key"), mtlsSubject: context.clientCertificateSubject,
            peer: context.peer)
        if case .denied(let denial) = decision {
            metrics.countDenial(denial)
            throw CallGate.error(for: denial)
        }
    }

    // MARK: - Model metadata, readiness, config, statistics

    /// `ModelReady`: whether the version the selector names is loaded and serving. An unknown model is NOT_FOUND;
    /// a version that is loading, failed or not loaded is not ready.
    public func openInferenceModelReady(model: String, version: String, context: CallContext) throws(ServiceError)
        -> Bool
    {
        try metadataCall(model: model, version: version, context: context) { entry, selector in
            do throws(RegistryError) {
                _ = try entry.resolve(selector)
                return true
            } catch {
                if error.code == .notFound || error.code == .invalidArgument { throw error }
                return false
            }
        }
    }

    /// `ModelMetadata`: the version's inputs and outputs (datatypes and shapes, -1 for the batch dimension), the
    /// loaded versions, platform "onnx".
    public func openInferenceModelMetadata(model: String, version: String, context: CallContext)
        throws(ServiceError) -> OpenInference.ModelMetadata
    {
        try metadataCall(model: model, version: version, context: context) { entry, selector in
            let worker = try entry.resolve(selector)
            let signature = worker.compiled.openInference
            return OpenInference.ModelMetadata(
                name: entry.name, versions: entry.workers.keys.sorted().map(String.init), platform: "onnx",
                inputs: signature.inputs.map(\.spec), outputs: signature.outputs.map(\.spec))
        }
    }

    /// `ModelConfig`: a minimal, truthful configuration: ONNX platform, `max_batch_size` 0 (every shape carries
    /// the batch dimension as -1, as metadata reports it), inputs and outputs.
    public func openInferenceModelConfig(model: String, version: String, context: CallContext)
        throws(ServiceError) -> OpenInference.ModelConfig
    {
        try metadataCall(model: model, version: version, context: context) { entry, selector in
            let worker = try entry.resolve(selector)
            let signature = worker.compiled.openInference
            return OpenInference.ModelConfig(
                name: entry.name, platform: "onnxruntime_onnx", backend: "onnxruntime", maxBatchSize: 0,
                inputs: signature.inputs.map(\.spec), outputs: signature.outputs.map(\.spec),
                versions: entry.workers.keys.sorted())
        }
    }

    /// `ModelStatistics`: per loaded version, the Open Inference calls it served (counts and cumulative time).
    /// An empty `model` reports every model (which needs `GetModelVersion` on all of them); an empty `version`
    /// every loaded version of the model.
    public func openInferenceStatistics(model: String, version: String, context: CallContext)
        throws(ServiceError) -> [OpenInference.VersionStatistics]
    {
        if model.isEmpty {
            return try metadataCall(model: "", version: "", context: context, everyModel: {
                var out: [OpenInference.VersionStatistics] = []
                let snapshot = self.registry.snapshot
                for name in snapshot.models.keys.sorted() {
                    guard let entry = snapshot.models[name] else { continue }
                    for (number, worker) in entry.workers.sorted(by: { $0.key < $1.key }) {
                        out.append(worker.compiled.openInferenceCounters.snapshot(name: name, version: number))
                    }
                }
                return out
            }) { _, _ in [] }
        }
        return try metadataCall(model: model, version: version, context: context) { entry, selector in
            if version.isEmpty {
                return entry.workers.sorted(by: { $0.key < $1.key }).map {
                    $0.value.compiled.openInferenceCounters.snapshot(name: entry.name, version: $0.key)
                }
            }
            let worker = try entry.resolve(selector)
            return [worker.compiled.openInferenceCounters.snapshot(name: entry.name, version: worker.version)]
        }
    }

    /// Runs a metadata call: admission (GetModelVersion permission), model lookup, selector parse, metrics and audit.
    private func metadataCall<R>(
        model: String, version: String, context: CallContext, everyModel: (() -> R)? = nil,
        _ body: (ModelEntry<ServableModel>, VersionSelector) throws -> R
    ) throws(ServiceError) -> R {
        let started = monotonicNanos()
        var record = CallRecord(rpc: .modelMetadata, audited: gate != nil, started: started)
        record.selector = version
        var served: Int64?
        do {
            try admit(&record, model: model, context: context)
            let result: R
            if let everyModel, model.isEmpty {
                result = everyModel()
            } else {
                let (entry, selector) = try resolveOpenInference(
                    model: Array(model.utf8), version: Array(version.utf8), snapshot: registry.snapshot)
                result = try body(entry, selector)
                served = try? entry.resolve(selector).version
            }
            metrics.record(.modelMetadata, model: model, version: 0, variant: "", code: 0,
                           nanos: monotonicNanos() - started)
            if let gate {
                record.version = served
                gate.audit(record, context: context, status: .ok, latencyNanos: monotonicNanos() - started)
            }
            return result
        } catch {
            let failure = ServiceError.from(error)
            metrics.record(.modelMetadata, model: "", version: 0, variant: "", code: failure.code.rawValue,
                           nanos: monotonicNanos() - started)
            gate?.audit(record, context: context, status: failure.code, latencyNanos: monotonicNanos() - started)
            throw failure
        }
    }

    /// Resolves an Open Inference model name and version string: a number, `production`/`staging`, `@alias`,
    /// a bare alias name the model has, a `models:/` URI, or "" (routing decides).
    func resolveOpenInference(
        model: some Collection<UInt8>, version: some Collection<UInt8>, snapshot: RegistrySnapshot<ServableModel>
    ) throws -> (ModelEntry<ServableModel>, VersionSelector) {
        let modelBytes = Array(model)
        let versionBytes = Array(version)
        return try modelBytes.withUnsafeBytes { modelRaw in
            try versionBytes.withUnsafeBytes { versionRaw in
                try resolveOpenInference(model: modelRaw, version: versionRaw, snapshot: snapshot)
            }
        }
    }

    /// As above, on borrowed bytes (the per-call path).
    func resolveOpenInference(
        model: UnsafeRawBufferPointer, version: UnsafeRawBufferPointer, snapshot: RegistrySnapshot<ServableModel>
    ) throws -> (ModelEntry<ServableModel>, VersionSelector) {
        do {
            return try resolveTarget(modelBytes: model, versionBytes: version, snapshot: snapshot)
        } catch let error as RegistryError where error.code == .invalidArgument {
            // Triton clients send an alias without "@": accept one the model has.
            let alias = String(decoding: version, as: UTF8.self)
            if let entry = snapshot.entry(named: model), entry.metadata.aliases[alias] != nil {
                return (entry, .alias(alias))
            }
            throw ServiceError.invalidArgument(
                "model_version \"\(alias)\" is not a version: use a number, production, staging, @alias (or an alias of the model), or leave it empty to let routing decide")
        }
    }

    /// A request that did not decode: authenticated first (an unauthenticated caller learns only UNAUTHENTICATED),
    /// then INVALID_ARGUMENT; recorded in metrics and the audit log like any failed call.
    public func openInferenceMalformed(_ error: any Error, inference: Bool, context: CallContext) -> ServiceError {
        let started = monotonicNanos()
        var record = CallRecord(rpc: inference ? .modelInfer : .modelMetadata, audited: gate != nil, started: started)
        let status = admitMalformed(&record, context: context, error)
        _ = finish(inference ? .modelInfer : .modelMetadata, status: status, served: nil, record: &record,
                   context: context, started: started)
        return ServiceError(rpcError: status)
    }

    // MARK: - Inference

    /// `ModelInfer` (and REST infer): admits the call (`Predict` permission), resolves the version (an empty
    /// selector goes through the model's rollout), validates and copies the inputs, runs the engine, and calls
    /// `body` with the outputs (valid only inside it). Metrics, rollout outcomes, monitoring and the audit record
    /// are kept as for Predict.
    public func openInferenceInfer<R>(
        _ request: some OpenInference.Request, context: CallContext, _ body: (OpenInference.Response) -> R
    ) throws(ServiceError) -> R {
        let started = monotonicNanos()
        metrics.enter()
        defer { metrics.leave() }
        var record = CallRecord(rpc: .modelInfer, audited: gate != nil, started: started)
        var served: RoutedTarget?
        var status = RPCError(.ok, "")
        var result: R?
        do {
            if gate != nil {
                record.requestID = String(decoding: request.id.prefix(256), as: UTF8.self)
                if !request.version.isEmpty { record.selector = String(decoding: request.version, as: UTF8.self) }
                try admit(&record, model: String(decoding: request.model, as: UTF8.self), context: context)
            }
            guard !request.model.isEmpty else { throw ServiceError.invalidArgument("model_name is required") }
            let (entry, selector) = try resolveOpenInference(
                model: request.model, version: request.version, snapshot: registry.snapshot)
            let target = try route(entry, selector, routingKey: request.routingKey)
            served = target
            do {
                result = try infer(request, entry: entry, target: target, started: started, body)
            } catch {
                // As for Predict: a server-side failure of a routed or Production version is answered by the
                // model's fallback version, and counted against the version that failed.
                guard let fallback = target.fallback(in: entry, after: error) else { throw error }
                recordFallback(.modelInfer, failed: target, fallback: fallback, error: error, started: started)
                served = fallback
                result = try infer(request, entry: entry, target: fallback, started: started, body)
            }
        } catch {
            status = RPCError.from(error)
        }
        if status.code != .ok, let served {
            let now = monotonicNanos()
            served.worker.compiled.openInferenceCounters.recordFailure(total: now - started, now: now)
        }
        _ = finish(.modelInfer, status: status, served: served, record: &record, context: context, started: started)
        guard status.code == .ok, let result else { throw ServiceError(rpcError: status) }
        return result
    }

    /// Runs an admitted, routed inference on a pooled scratch and hands the outputs to `body`.
    private func infer<R>(
        _ request: some OpenInference.Request, entry: ModelEntry<ServableModel>,
        target: RoutedTarget, started: UInt64,
        _ body: (OpenInference.Response) -> R
    ) throws -> R {
        let model = target.worker.compiled
        let signature = model.openInference
        if let reason = signature.unsupported { throw ServiceError(.failedPrecondition, reason) }
        return try scratchPool.withScratch { scratch in
            let rows = try fillOpenInference(request, entry: entry, model: model, scratch: scratch)
            let inputDone = monotonicNanos()
            scratch.keepAllTargets = model.isRegressor
            defer { scratch.keepAllTargets = false }
            if rows > 0 { try model.run(rows, scratch) }
            let inferDone = monotonicNanos()
            let variant = target.variantName
            let result = try respond(
                request, entry: entry, version: target.worker.version, variant: variant, model: model, rows: rows,
                scratch: scratch, body)
            let now = monotonicNanos()
            let elapsed = now - started
            model.openInferenceCounters.recordSuccess(
                rows: rows, total: elapsed, input: inputDone - started, infer: inferDone - inputDone,
                output: now - inferDone, now: now)
            if !model.isRegressor && rows > 0 {
                var sum = 0.0
                for value in scratch.confidence { sum += Double(value) }
                target.worker.stats.record(confidenceSum: sum, rows: rows)
            }
            if rows > 0 { model.monitoring?.recordBatch(scratch, rows: rows) }
            if let series = okSeries(model, name: entry.name, version: target.worker.version, variant: variant) {
                series.modelInfer.requests.increment()
                series.modelInfer.latency.record(elapsed)
            } else {
                metrics.record(.modelInfer, model: entry.name, version: target.worker.version, variant: variant,
                               code: 0, nanos: elapsed)
            }
            if let assignment = target.assignment, let rollouts {
                rollouts.record(assignment, outcome: outcome(model, scratch, failed: false, nanos: elapsed))
            }
            return result
        }
    }

    /// Validates the request's tensors against the model (names, datatypes, shapes, byte counts) and copies them
    /// into the scratch's feature rows. Returns the row count (the first dimension, the same for every input).
    func fillOpenInference(
        _ request: some OpenInference.Request, entry: ModelEntry<ServableModel>, model: ServableModel,
        scratch: PredictionScratch
    ) throws -> Int {
        let signature = model.openInference
        let expected = signature.inputs.count
        return try withUnsafeTemporaryAllocation(of: Int.self, capacity: max(expected, 1)) { given in
            // given[i]: the request's index of model input i, or -1.
            for index in 0..<expected { given[index] = -1 }
            var rows = -1
            var rowsFrom = 0
            for index in 0..<request.inputCount {
                let tensor = request.input(at: index)
                guard let position = signature.inputs.firstIndex(where: { $0.named(tensor.name) })
                else {
                    throw ServiceError.invalidArgument(
                        "input \"\(Self.text(tensor.name))\" is not an input of model \"\(entry.name)\" (inputs: \(signature.inputs.map(\.spec.name).joined(separator: ", ")))")
                }
                let input = signature.inputs[position]
                let name = input.spec.name
                if given[position] >= 0 { throw ServiceError.invalidArgument("input \"\(name)\" is given twice") }
                given[position] = index
                guard let datatype = OpenInference.DataType(name: tensor.datatype) else {
                    throw ServiceError.invalidArgument(
                        "input \"\(name)\": unknown datatype \"\(Self.text(tensor.datatype))\" (expected \(input.spec.datatype.name))")
                }
                guard datatype == input.spec.datatype else {
                    throw ServiceError.invalidArgument(
                        "input \"\(name)\" has datatype \(datatype.name) but the model takes \(input.spec.datatype.name)")
                }
                let shape = tensor.shape
                let declared = input.spec.shape
                var matches = shape.count == declared.count && !shape.isEmpty
                if matches {
                    for (given, wanted) in zip(shape, declared) where given < 0 || (wanted >= 0 && given != wanted) {
                        matches = false
                    }
                }
                guard matches else {
                    throw ServiceError.invalidArgument(
                        "input \"\(name)\" has shape \(OpenInference.Shape(shape)) but the model takes \(OpenInference.Shape(declared)) (-1: any size)")
                }
                let count = shape.dropFirst().reduce(Int64(1)) { $0.multipliedReportingOverflow(by: $1).partialValue }
                guard count == Int64(input.slots.count) else {
                    throw ServiceError.invalidArgument(
                        "input \"\(name)\" has shape \(OpenInference.Shape(shape)): \(count) values per row, but the model takes \(input.slots.count)")
                }
                guard shape[0] <= Int64(Int32.max) else {
                    throw ServiceError.invalidArgument("input \"\(name)\" has \(shape[0]) rows, too many")
                }
                let inputRows = Int(shape[0])
                if rows >= 0 && inputRows != rows {
                    throw ServiceError.invalidArgument(
                        "input \"\(name)\" has \(inputRows) rows but input \"\(signature.inputs[rowsFrom].spec.name)\" has \(rows)")
                }
                rows = inputRows
                rowsFrom = position
                if let size = datatype.elementSize {
                    let needed = inputRows * input.slots.count * size
                    guard tensor.data.count == needed else {
                        throw ServiceError.invalidArgument(
                            "input \"\(name)\": \(datatype.name) tensor of shape \(OpenInference.Shape(shape)) needs \(needed) bytes, got \(tensor.data.count)")
                    }
                }
            }
            if let missing = (0..<expected).first(where: { given[$0] < 0 }) {
                throw ServiceError.invalidArgument(
                    "input \"\(signature.inputs[missing].spec.name)\" is missing (model \"\(entry.name)\" takes: \(signature.inputs.map(\.spec.name).joined(separator: ", ")))")
            }
            let table = model.features
            let total = max(rows, 0)
            scratch.prepare(rows: total, numericCount: table.numericCount, stringCount: table.stringCount)
            for position in 0..<expected {
                let input = signature.inputs[position]
                let tensor = request.input(at: given[position])
                if input.isString {
                    try fillStrings(input, tensor.data, rows: total, scratch: scratch)
                } else {
                    try fillNumbers(input, tensor.data, rows: total, stride: table.numericCount, scratch: scratch)
                }
            }
            return total
        }
    }

    /// Copies a numeric input (any fixed-size datatype the model declared) into the numeric block as Float.
    private func fillNumbers(
        _ input: OpenInference.Signature.Input, _ data: UnsafeRawBufferPointer, rows: Int, stride: Int,
        scratch: PredictionScratch
    ) throws {
        let columns = input.slots.count
        let datatype = input.spec.datatype
        try scratch.numeric.withUnsafeMutableBufferPointer { out in
            for row in 0..<rows {
                for column in 0..<columns {
                    let element = row * columns + column
                    let value: Float
                    switch datatype {
                    case .fp32: value = data.loadUnaligned(fromByteOffset: element * 4, as: Float.self)
                    case .fp64: value = Float(data.loadUnaligned(fromByteOffset: element * 8, as: Double.self))
                    case .int64: value = Float(Int64(littleEndian: data.loadUnaligned(fromByteOffset: element * 8, as: Int64.self)))
                    case .int32: value = Float(Int32(littleEndian: data.loadUnaligned(fromByteOffset: element * 4, as: Int32.self)))
                    case .bool: value = data[element] != 0 ? 1 : 0
                    default:
                        throw ServiceError.invalidArgument("input \"\(input.spec.name)\": datatype \(datatype.name) is not supported")
                    }
                    if value.isNaN && !input.acceptsNaN[column] {
                        throw ServiceError.invalidArgument(
                            "input \"\(input.spec.name)\" row \(row) column \(column) (\(input.columnNames[column])) is NaN, which this model cannot take")
                    }
                    out[row * stride + input.slots[column]] = value
                }
            }
        }
    }

    /// Parses a BYTES input (4-byte little-endian length, then the bytes, per element) into the string columns.
    private func fillStrings(
        _ input: OpenInference.Signature.Input, _ data: UnsafeRawBufferPointer, rows: Int, scratch: PredictionScratch
    ) throws {
        let columns = input.slots.count
        var offset = 0
        for row in 0..<rows {
            for column in 0..<columns {
                let element = row * columns + column
                guard data.count - offset >= 4 else {
                    throw ServiceError.invalidArgument(
                        "input \"\(input.spec.name)\": BYTES element \(element) is missing its 4-byte length (\(data.count) bytes hold \(element) of \(rows * columns) elements)")
                }
                let length = Int(UInt32(littleEndian: data.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                offset += 4
                guard data.count - offset >= length else {
                    throw ServiceError.invalidArgument(
                        "input \"\(input.spec.name)\": BYTES element \(element) declares \(length) bytes but only \(data.count - offset) remain")
                }
                scratch.strings[input.slots[column]][row] = String(
                    decoding: UnsafeRawBufferPointer(rebasing: data[offset..<offset + length]), as: UTF8.self)
                offset += length
            }
        }
        guard offset == data.count else {
            throw ServiceError.invalidArgument(
                "input \"\(input.spec.name)\": \(data.count - offset) bytes after the last of \(rows * columns) BYTES elements")
        }
    }

    /// Builds the outputs (all, or the requested ones in request order) from the scratch and calls `body`.
    private func respond<R>(
        _ request: some OpenInference.Request, entry: ModelEntry<ServableModel>, version: Int64, variant: String,
        model: ServableModel, rows: Int, scratch: PredictionScratch, _ body: (OpenInference.Response) -> R
    ) throws -> R {
        let signature = model.openInference
        let classes = model.classLabels.count
        // Outputs that need re-encoding are written into the scratch first.
        for output in signature.outputs {
            switch output.role {
            case .label:
                if case .string(let labels) = model.classLabels {
                    scratch.openInferenceBytes.removeAll(keepingCapacity: true)
                    for row in 0..<rows {
                        let index = row < scratch.labelIndices.count ? Int(scratch.labelIndices[row]) : -1
                        let label = labels.indices.contains(index) ? labels[index] : ""
                        let count = UInt32(label.utf8.count)
                        withUnsafeBytes(of: count.littleEndian) { scratch.openInferenceBytes.append(contentsOf: $0) }
                        scratch.openInferenceBytes.append(contentsOf: label.utf8)
                    }
                } else if scratch.labelsInt.count != rows {
                    throw ServiceError(.internal, "the engine returned \(scratch.labelsInt.count) labels for \(rows) rows")
                }
            case .scores:
                if scratch.scores.count != rows * classes {
                    throw ServiceError(
                        .internal, "the engine returned \(scratch.scores.count) scores for \(rows) rows of \(classes) classes")
                }
            case .value:
                // Every target when the engine kept them, else the one value per row.
                scratch.openInferenceFloats.removeAll(keepingCapacity: true)
                let targets = output.spec.shape.count == 2 ? Int(output.spec.shape[1]) : 1
                if scratch.targets.count == rows * targets {
                    scratch.openInferenceFloats.append(contentsOf: scratch.targets)
                } else if targets == 1 && scratch.values.count == rows {
                    for value in scratch.values { scratch.openInferenceFloats.append(Float(value)) }
                } else {
                    throw ServiceError(.internal, "the engine returned \(scratch.values.count) values for \(rows) rows of \(targets) targets")
                }
            }
        }
        let requested = request.requestedOutputCount
        var chosen: [Int]? = nil
        if requested > 0 {
            chosen = []
            for index in 0..<requested {
                let name = request.requestedOutput(at: index)
                guard let position = signature.outputs.firstIndex(where: { $0.named(name) }) else {
                    throw ServiceError.invalidArgument(
                        "output \"\(Self.text(name))\" is not an output of model \"\(entry.name)\" (outputs: \(signature.outputs.map(\.spec.name).joined(separator: ", ")))")
                }
                chosen!.append(position)
            }
        }
        let count = chosen?.count ?? signature.outputs.count
        return scratch.labelsInt.withUnsafeBytes { labelsInt in
            scratch.scores.withUnsafeBytes { scores in
                scratch.openInferenceBytes.withUnsafeBytes { bytes in
                    scratch.openInferenceFloats.withUnsafeBytes { floats in
                        withUnsafeTemporaryAllocation(of: OpenInference.OutputTensor.self, capacity: max(count, 1)) {
                            outputs in
                            for index in 0..<count {
                                let output = signature.outputs[chosen?[index] ?? index]
                                var shape = OpenInference.Shape()
                                shape.append(Int64(rows))
                                let data: UnsafeRawBufferPointer
                                switch output.role {
                                case .label:
                                    data = output.spec.datatype == .bytes ? bytes : labelsInt
                                case .scores:
                                    shape.append(Int64(classes))
                                    data = scores
                                case .value:
                                    if output.spec.shape.count == 2 { shape.append(output.spec.shape[1]) }
                                    data = floats
                                }
                                (outputs.baseAddress! + index).initialize(to: OpenInference.OutputTensor(
                                    name: output.spec.name, datatype: output.spec.datatype, shape: shape, data: data))
                            }
                            defer { outputs.baseAddress!.deinitialize(count: count) }
                            return body(OpenInference.Response(
                                model: entry.name, version: version, variant: variant, id: request.id,
                                outputs: UnsafeBufferPointer(start: outputs.baseAddress, count: count)))
                        }
                    }
                }
            }
        }
    }

    /// Caller-supplied bytes for a message (at most 200 of them).
    static func text(_ bytes: UnsafeRawBufferPointer) -> String {
        bytes.count > 200 ? String(decoding: bytes.prefix(200), as: UTF8.self) + "..." : String(decoding: bytes, as: UTF8.self)
    }
}

extension OpenInference.Request {
    /// No routing key unless the wire layer provides one.
    public var routingKey: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }
}
