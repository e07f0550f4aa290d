import GRPCCore
import Glibc
import Synchronization
import Testing

@testable import InferenceService

/// Collects deferred completions by token, as the transport would.
final class RecordingSink: DeferredCompletionSink {
    let results = Mutex<[UInt64: Result<ResponseBuffer, RPCError>]>([:])
    func complete(token: UInt64, with result: Result<ResponseBuffer, RPCError>) {
        results.withLock { $0[token] = result }
    }
    var count: Int { results.withLock { $0.count } }
}

/// Per-token (status, confidence) reported through `finish`.
final class Finishes: Sendable {
    let values = Mutex<[UInt64: (StatusCode, Float)]>([:])
}

/// Whether `bytes` contain the UTF-8 of `text`.
private func contains(_ bytes: [UInt8], _ text: String) -> Bool {
    let needle = Array(text.utf8)
    guard needle.count <= bytes.count else { return false }
    return (0...(bytes.count - needle.count)).contains { Array(bytes[$0..<($0 + needle.count)]) == needle }
}

@Suite("DynamicBatcher")
struct DynamicBatcherTests {
    /// A pending call with features (a, b, plan) completing into `sink`/`finishes` under `token`.
    private func pending(_ a: Float, _ b: Float, token: UInt64, sink: RecordingSink, finishes: Finishes)
        -> DynamicBatcher.Pending
    {
        let context = CallContext(completion: sink, completionToken: token)
        return DynamicBatcher.Pending(
            numeric: [a, b], strings: ["basic"], requestID: Array("req-\(token)".utf8), promise: context.makePromise()!,
            finish: { status, _, _, confidence in finishes.values.withLock { $0[token] = (status, confidence) } },
            variant: "", started: 0)
    }

    private func makeBatcher(size: Int, delayMicros: Int, model: ServableModel?) -> DynamicBatcher {
        let ref = ServableModelRef()
        ref.model = model
        return DynamicBatcher(model: "churn", version: 1, maxBatchSize: size, maxQueueDelayMicros: delayMicros, servable: ref)
    }

    @Test func fullBatchRunsOnTheSubmittingThread() {
        let model = fakeServable()
        // A delay far beyond the test: only the size can trigger this batch.
        let batcher = makeBatcher(size: 3, delayMicros: 600_000_000, model: model)
        let sink = RecordingSink()
        let finishes = Finishes()
        batcher.submit(pending(1, 1, token: 1, sink: sink, finishes: finishes))
        batcher.submit(pending(-1, -1, token: 2, sink: sink, finishes: finishes))
        #expect(sink.count == 0)
        #expect(batcher.flushIfDue(now: 0) > 0)  // not due yet: the deadline is returned
        #expect(sink.count == 0)
        batcher.submit(pending(2, 0, token: 3, sink: sink, finishes: finishes))
        #expect(sink.count == 3)
        #expect(batcher.batches.load(ordering: .relaxed) == 1)
        #expect(batcher.rows.load(ordering: .relaxed) == 3)
        // Each row got its own prediction: a + b > 0 gives confidence 0.8, else 0.7.
        let values = finishes.values.withLock { $0 }
        #expect(values[1]?.0 == .ok && values[2]?.0 == .ok && values[3]?.0 == .ok)
        #expect(values[1]?.1 == 0.8 && values[2]?.1 == 0.7 && values[3]?.1 == 0.8)
        let results = sink.results.withLock { $0 }
        for token: UInt64 in 1...3 {
            guard case .success(let buffer)? = results[token] else {
                Issue.record("call \(token) did not succeed")
                continue
            }
            // The encoded response carries this call's own request id and the model name.
            #expect(contains(buffer.bytes, "req-\(token)"))
            #expect(contains(buffer.bytes, "churn"))
        }
        #expect(batcher.flushIfDue(now: 0) == 0)  // queue empty
        withExtendedLifetime(model) {}
    }

    @Test func dueQueueIsFlushedByDelay() {
        let model = fakeServable()
        let batcher = makeBatcher(size: 100, delayMicros: 600_000_000, model: model)
        let sink = RecordingSink()
        let finishes = Finishes()
        batcher.submit(pending(1, 0, token: 1, sink: sink, finishes: finishes))
        batcher.submit(pending(0, -1, token: 2, sink: sink, finishes: finishes))
        #expect(sink.count == 0)
        #expect(batcher.flushIfDue(now: UInt64.max) == 0)
        #expect(sink.count == 2)
        #expect(batcher.batches.load(ordering: .relaxed) == 1)
        #expect(batcher.rows.load(ordering: .relaxed) == 2)
        let values = finishes.values.withLock { $0 }
        #expect(values[1]?.1 == 0.8 && values[2]?.1 == 0.7)
        withExtendedLifetime(model) {}
    }

    @Test func schedulerFlushesAfterShortDelay() throws {
        let model = fakeServable()
        let batcher = makeBatcher(size: 100, delayMicros: 1000, model: model)
        let sink = RecordingSink()
        let finishes = Finishes()
        batcher.submit(pending(1, 1, token: 7, sink: sink, finishes: finishes))
        // Poll (bounded, generous for a loaded machine) for the scheduler thread to run the batch.
        var polls = 0
        while sink.count == 0 && polls < 10_000 {  // at most ~20 s
            usleep(2000)
            polls += 1
        }
        #expect(sink.count == 1)
        #expect(finishes.values.withLock { $0[7]?.0 } == .ok)
        #expect(batcher.rows.load(ordering: .relaxed) == 1)
        withExtendedLifetime(model) {}
    }

    @Test func unloadedModelFailsCallsAsUnavailable() {
        let batcher = makeBatcher(size: 2, delayMicros: 600_000_000, model: nil)
        let sink = RecordingSink()
        let finishes = Finishes()
        batcher.submit(pending(1, 1, token: 1, sink: sink, finishes: finishes))
        batcher.submit(pending(1, 1, token: 2, sink: sink, finishes: finishes))
        let results = sink.results.withLock { $0 }
        for token: UInt64 in [1, 2] {
            guard case .failure(let error)? = results[token] else {
                Issue.record("call \(token) did not fail")
                continue
            }
            #expect(error.code == .unavailable)
            #expect(error.message.contains("unloaded"))
        }
        #expect(finishes.values.withLock { $0[1]?.0 } == .unavailable)
    }

    @Test func sizeAndDelayAreClamped() {
        let batcher = makeBatcher(size: 0, delayMicros: -5, model: nil)
        #expect(batcher.maxBatchSize == 1)
        #expect(batcher.maxDelayNanos == 0)
    }
}
