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
        /// The call's numeric features in dense order, copied out of the request arena (the call outlives its decode).
        var numeric: [Float]
        /// The call's string features, one per string column, in slot order.
        var strings: [String]
        /// The request id to echo (the caller's or a generated one), copied for the same reason.
        var requestID: [UInt8]
        /// Completes the call on its own event loop, with the encoded response or a status.
        var promise: UnaryPromise
        /// Called with (status, latency in ns, label, confidence) when the call completes.
        var finish: @Sendable (StatusCode, UInt64, PredictionLabel?, Float) -> Void
        /// The rollout variant (or "fallback") echoed in the response.
        var variant: String
        /// Monotonic time in ns when the call arrived; latencies are measured from here, queueing included.
        var started: UInt64
    }

    /// Rows that trigger an immediate batch on the submitting thread; at least 1.
    let maxBatchSize: Int
    /// How long the oldest queued call may wait before the scheduler flushes the queue, in ns.
    let maxDelayNanos: UInt64
    /// Model name echoed in responses.
    let model: String
    /// The version this batcher serves, echoed in responses.
    let version: Int64
    /// Weak link to the model; nil once the version is unloaded, and queued calls then fail with UNAVAILABLE.
    private let servable: ServableModelRef
    /// Waiting calls and the monotonic deadline (ns) set when the first of them arrived.
    private let queue = Mutex<(rows: [Pending], deadline: UInt64)>(([], 0))
    /// Scratch buffers for running batches; at most 4 idle sets are kept between batches.
    private let scratch = ScratchPool(limit: 4)
    /// Batches run and rows they held (for `sluice_dynamic_batches_total` / `..._rows_total`).
    let batches = Atomic<UInt64>(0)
    /// Rows (calls) across all batches run; divided by `batches` this is the mean batch size.
    let rows = Atomic<UInt64>(0)

    /// Clamps the settings: a batch size below 1 becomes 1, a negative delay 0. Starts no thread; the shared scheduler
    /// starts on the first queued call.
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

    /// Scores a batch in one engine call and completes every call in it, each through its own promise. Runs on the
    /// submitting thread or the scheduler thread, never under the queue lock. A failed run fails every call with the
    /// same status.
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
    /// The model, or nil once it has been released; weak so the batcher does not keep an unloaded version alive.
    weak var model: ServableModel?
}

/// One thread that flushes batch queues whose delay has expired.
final class BatchScheduler: Sendable {
    /// The process-wide scheduler; its thread starts on the first `schedule` call.
    static let shared = BatchScheduler()

    private struct State {
        /// Batchers with queued calls, held weakly; removed once their queue is empty.
        var waiting: [ObjectIdentifier: Weak] = [:]
        /// Whether the scheduler thread has been started.
        var started = false
        /// Bumped by every `schedule`, so the loop does not sleep past a batcher that arrived while it worked.
        var generation: UInt64 = 0
    }

    /// A weak reference, so a queued entry does not keep an unloaded model's batcher alive.
    private struct Weak {
        weak var batcher: DynamicBatcher?
    }

    /// Guards `State`; signalled by `schedule` to wake the loop early.
    private let state = ConditionLock(State())

    private init() {}

    /// Registers a batcher whose queue just became non-empty and wakes the scheduler, starting its thread the first
    /// time. If the thread cannot be started, the next call tries again.
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

    /// The scheduler thread's body: flushes due queues, then sleeps until the earliest deadline (polling each 1 ms when
    /// a deadline is unknown), until signalled when nothing waits. Never returns.
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
