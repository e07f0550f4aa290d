#if canImport(Glibc)
import BackgroundThreads
import Glibc
#endif
import GRPCCore
import SluiceProto
import Synchronization

/// Dynamic batching for one model version (opt-in per model: `batching` in the registry metadata).
///
/// Concurrent Predict calls are queued, then evaluated as one batch when `maxBatchSize` rows are waiting
/// (on the thread that queued the last one) or when the oldest has waited `maxQueueDelay` (on the shared
/// batch scheduler thread). Each call completes through its promise, which wakes its own event loop.
final class DynamicBatcher: Sendable {
    /// One queued call.
    struct Pending: Sendable {
        var numeric: [Float]
        var strings: [String]
        var requestID: [UInt8]
        var promise: UnaryPromise
        /// Called with (status, latency in ns, label, confidence) when the call completes.
        var finish: @Sendable (StatusCode, UInt64, PredictionLabel?, Float) -> Void
        var variant: String
        var started: UInt64
    }

    let maxBatchSize: Int
    let maxDelayNanos: UInt64
    let model: String
    let version: Int64
    private let servable: ServableModelRef
    private let queue = Mutex<(rows: [Pending], deadline: UInt64)>(([], 0))
    private let scratch = ScratchPool(limit: 4)
    /// Batches run and rows they held (for `sluice_dynamic_batches_total` / `..._rows_total`).
    let batches = Atomic<UInt64>(0)
    let rows = Atomic<UInt64>(0)

    init(model: String, version: Int64, maxBatchSize: Int, maxQueueDelayMicros: Int, servable: ServableModelRef) {
        self.model = model
        self.version = version
        self.maxBatchSize = max(1, maxBatchSize)
        self.maxDelayNanos = UInt64(max(0, maxQueueDelayMicros)) * 1000
        self.servable = servable
    }

    /// Queues a call; may run a full batch right away on this thread.
    func submit(_ pending: Pending) {
        let (full, first) = queue.withLock { state -> ([Pending]?, Bool) in
            let first = state.rows.isEmpty
            state.rows.append(pending)
            if first { state.deadline = monotonicNanos() + maxDelayNanos }
            if state.rows.count >= maxBatchSize {
                defer { state.rows = [] }
                return (state.rows, false)
            }
            return (nil, first)
        }
        if let full {
            run(full)
        } else if first {
            BatchScheduler.shared.schedule(self)
        }
    }

    /// Runs the queue if its deadline has passed; returns the next deadline (0 when empty).
    func flushIfDue(now: UInt64) -> UInt64 {
        let due = queue.withLock { state -> [Pending]? in
            guard !state.rows.isEmpty else { return nil }
            guard state.deadline <= now else { return [] }
            defer { state.rows = [] }
            return state.rows
        }
        guard let due else { return 0 }
        if due.isEmpty { return queue.withLock { $0.deadline } }
        run(due)
        return 0
    }

    private func run(_ batch: [Pending]) {
        batches.wrappingAdd(1, ordering: .relaxed)
        rows.wrappingAdd(UInt64(batch.count), ordering: .relaxed)
        guard let model = servable.model else {
            for call in batch {
                call.promise.fail(RPCError(.unavailable, "model version was unloaded; retry"))
                call.finish(.unavailable, monotonicNanos() - call.started, nil, 0)
            }
            return
        }
        let features = model.features
        scratch.withScratch { scratch in
            scratch.prepare(rows: batch.count, numericCount: features.numericCount, stringCount: features.stringCount)
            for (row, call) in batch.enumerated() {
                for column in 0..<features.numericCount {
                    scratch.numeric[row * features.numericCount + column] = call.numeric[column]
                }
                for column in 0..<features.stringCount { scratch.strings[column][row] = call.strings[column] }
            }
            do {
                try model.run(batch.count, scratch)
            } catch {
                let status = RPCError.from(error)
                for call in batch {
                    call.promise.fail(status)
                    call.finish(status.code, monotonicNanos() - call.started, nil, 0)
                }
                return
            }
            let classes = model.isRegressor ? 0 : model.classLabels.count
            for (row, call) in batch.enumerated() {
                let label = InferenceAPI.label(model, scratch, row: row)
                let confidence = row < scratch.confidence.count ? scratch.confidence[row] : 0
                model.monitoring?.record(scratch, row: row)
                var buffer = ResponseBuffer(reservingCapacity: 128)
                scratch.scores.withUnsafeBufferPointer { scores in
                    let slice = classes > 0 && scores.count >= (row + 1) * classes
                        ? UnsafeBufferPointer(rebasing: scores[(row * classes)..<((row + 1) * classes)])
                        : UnsafeBufferPointer(start: nil, count: 0)
                    call.requestID.withUnsafeBytes { id in
                        PredictResponseEncoder(
                            model: self.model, version: version, variant: call.variant, prediction: label,
                            confidence: confidence
                        ).encode(scores: slice, requestID: id, into: &buffer)
                    }
                }
                call.promise.succeed(buffer)
                call.finish(.ok, monotonicNanos() - call.started, label, confidence)
            }
        }
    }
}

/// A weak handle from a batcher to the model it batches for (the model owns the batcher).
final class ServableModelRef: @unchecked Sendable {
    weak var model: ServableModel?
}

/// One thread that flushes batch queues whose delay has expired.
final class BatchScheduler: Sendable {
    static let shared = BatchScheduler()

    private struct State {
        var waiting: [ObjectIdentifier: Weak] = [:]
        var started = false
        /// Bumped by every `schedule`, so the loop does not sleep past a batcher that arrived while it worked.
        var generation: UInt64 = 0
    }

    private struct Weak {
        weak var batcher: DynamicBatcher?
    }

    private let state = ConditionLock(State())

    private init() {}

    func schedule(_ batcher: DynamicBatcher) {
        let start = state.withLockSignalling { s -> Bool in
            s.waiting[ObjectIdentifier(batcher)] = Weak(batcher: batcher)
            s.generation &+= 1
            if s.started { return false }
            s.started = true
            return true
        }
        // Lives as long as the process (the scheduler is a singleton); never joined.
        if start, BackgroundThread.start(name: "sluice-batching", { self.loop() }) == nil {
            state.withLock { $0.started = false }
        }
    }

    private func loop() {
        while true {
            let (entries, generation) = state.withLock { ($0.waiting, $0.generation) }
            let now = monotonicNanos()
            var next: UInt64 = 0
            var idle: [ObjectIdentifier] = []
            for (key, entry) in entries {
                guard let batcher = entry.batcher else {
                    idle.append(key)
                    continue
                }
                let deadline = batcher.flushIfDue(now: now)
                if deadline == 0 { idle.append(key) } else if next == 0 || deadline < next { next = deadline }
            }
            state.wait { s in
                for key in idle where s.waiting[key]?.batcher.map({ $0.flushIfDue(now: 0) == 0 }) ?? true {
                    s.waiting[key] = nil
                }
                if s.generation != generation { return .no }
                if s.waiting.isEmpty { return .untilSignalled }
                return .until(next == 0 ? monotonicNanos() + 1_000_000 : next)
            }
        }
    }
}
