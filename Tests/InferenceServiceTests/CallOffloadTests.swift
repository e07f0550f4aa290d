import BackgroundThreads
import GRPCCore
import Glibc
import Synchronization
import Testing

@testable import InferenceService

/// Waits (bounded, ~20 s) until `condition` holds; returns whether it did.
private func poll(_ condition: () -> Bool) -> Bool {
    for _ in 0..<10_000 {
        if condition() { return true }
        usleep(2000)
    }
    return condition()
}

/// A Bool shared with closures on other threads.
final class SharedFlag: Sendable {
    private let stored: Atomic<Bool>
    init(_ initial: Bool) { stored = Atomic(initial) }
    func set(_ value: Bool) { stored.store(value, ordering: .sequentiallyConsistent) }
    var value: Bool { stored.load(ordering: .sequentiallyConsistent) }
}

@Suite("CallOffload")
struct CallOffloadTests {
    @Test func withoutCompletionSinkTheCallStaysOnTheLoop() {
        let pool = WorkerPool(name: "test-offload", size: 1, capacity: 1)
        defer { pool.shutdown() }
        let offload = CallOffload(pool: pool, minRequestBytes: 1)
        let ran = SharedFlag(false)
        let outcome = [UInt8](repeating: 1, count: 8).withUnsafeBytes { request in
            offload.run(request, CallContext()) { _, _, _ in
                ran.set(true)
                return .ok
            }
        }
        #expect(outcome == nil)
        #expect(!ran.value)
        #expect(offload.minRequestBytes == 1)
    }

    @Test func runsOnWorkerWithCopiedBytesAndCompletesThePromise() {
        let pool = WorkerPool(name: "test-offload", size: 1, capacity: 4)
        defer { pool.shutdown() }
        let offload = CallOffload(pool: pool)
        let sink = RecordingSink()
        let sawSink = SharedFlag(true)
        var request: [UInt8] = [10, 20, 30]
        let outcome = request.withUnsafeBytes { raw in
            offload.run(raw, CallContext(completion: sink, completionToken: 5)) { bytes, context, response in
                sawSink.set(context.completion != nil)
                response.appendUnframed(Array(bytes).map { $0 + 1 })
                return .ok
            }
        }
        request[0] = 99  // the worker must use its own copy
        guard case .deferred? = outcome else {
            Issue.record("expected .deferred, got \(String(describing: outcome))")
            return
        }
        #expect(poll { sink.count == 1 })
        guard case .success(let response)? = sink.results.withLock({ $0[5] }) else {
            Issue.record("call did not succeed")
            return
        }
        #expect(response.bytes == [11, 21, 31])
        // On the worker the context has no sink, so the handler cannot offload again.
        #expect(!sawSink.value)
    }

    @Test("a request whose receive buffer the transport handed over reaches the worker without a copy")
    func ownedRequestIsNotCopied() {
        let pool = WorkerPool(name: "test-offload", size: 1, capacity: 4)
        defer { pool.shutdown() }
        let offload = CallOffload(pool: pool)
        let sink = RecordingSink()
        let storage: [UInt8] = [0, 0, 0, 0, 3, 10, 20, 30, 99]  // prefix, payload, a byte after it
        let payload = 5..<8
        let expected = storage.withUnsafeBytes { Int(bitPattern: $0.baseAddress! + payload.lowerBound) }
        let seen = Atomic<Int>(0)
        var context = CallContext(completion: sink, completionToken: 7)
        context.ownedRequest = OwnedRequest(storage: storage, payload: payload)
        let outcome = storage.withUnsafeBytes { all in
            offload.run(UnsafeRawBufferPointer(rebasing: all[payload]), context) { bytes, context, response in
                seen.store(Int(bitPattern: bytes.baseAddress), ordering: .relaxed)
                response.appendUnframed(Array(bytes))
                #expect(context.ownedRequest == nil)
                return .ok
            }
        }
        guard case .deferred? = outcome else {
            Issue.record("expected .deferred, got \(String(describing: outcome))")
            return
        }
        #expect(poll { sink.count == 1 })
        #expect(seen.load(ordering: .relaxed) == expected)
        guard case .success(let response)? = sink.results.withLock({ $0[7] }) else {
            Issue.record("call did not succeed")
            return
        }
        #expect(response.bytes == [10, 20, 30])
    }

    @Test("an owned request that is not the bytes the handler was given is ignored: the bytes are copied")
    func mismatchedOwnedRequestIsCopied() {
        let pool = WorkerPool(name: "test-offload", size: 1, capacity: 4)
        defer { pool.shutdown() }
        let offload = CallOffload(pool: pool)
        let sink = RecordingSink()
        var context = CallContext(completion: sink, completionToken: 8)
        context.ownedRequest = OwnedRequest(storage: [1, 2, 3], payload: 0..<3)
        let outcome = [UInt8]([4, 5, 6]).withUnsafeBytes { raw in
            offload.run(raw, context) { bytes, _, response in
                response.appendUnframed(Array(bytes))
                return .ok
            }
        }
        guard case .deferred? = outcome else {
            Issue.record("expected .deferred, got \(String(describing: outcome))")
            return
        }
        #expect(poll { sink.count == 1 })
        guard case .success(let response)? = sink.results.withLock({ $0[8] }) else {
            Issue.record("call did not succeed")
            return
        }
        #expect(response.bytes == [4, 5, 6])
    }

    @Test func handlerFailuresAndDoubleDeferralFailThePromise() {
        let pool = WorkerPool(name: "test-offload", size: 1, capacity: 4)
        defer { pool.shutdown() }
        let offload = CallOffload(pool: pool)
        let sink = RecordingSink()
        [UInt8]([1]).withUnsafeBytes { raw in
            _ = offload.run(raw, CallContext(completion: sink, completionToken: 1)) { _, _, _ in
                .failure(RPCError(.invalidArgument, "bad row 3"))
            }
            _ = offload.run(raw, CallContext(completion: sink, completionToken: 2)) { _, _, _ in .deferred }
        }
        #expect(poll { sink.count == 2 })
        let results = sink.results.withLock { $0 }
        guard case .failure(let first)? = results[1], case .failure(let second)? = results[2] else {
            Issue.record("expected two failures, got \(results)")
            return
        }
        #expect(first == RPCError(.invalidArgument, "bad row 3"))
        #expect(second.code == .internal)
    }

    @Test func fullQueueIsResourceExhaustedAtOnce() {
        let pool = WorkerPool(name: "test-offload", size: 1, capacity: 1)
        defer { pool.shutdown() }
        let offload = CallOffload(pool: pool)
        let sink = RecordingSink()
        let started = SharedFlag(false)
        let release = SharedFlag(false)
        let blocker: @Sendable (UnsafeRawBufferPointer, CallContext, inout ResponseBuffer) -> UnaryOutcome = { _, _, _ in
            started.set(true)
            while !release.value { usleep(1000) }
            return .ok
        }
        [UInt8]([1]).withUnsafeBytes { raw in
            // First call occupies the only worker; the second fills the queue of one; the third is refused.
            _ = offload.run(raw, CallContext(completion: sink, completionToken: 1), blocker)
            #expect(poll { started.value })
            let queued = offload.run(raw, CallContext(completion: sink, completionToken: 2)) { _, _, _ in .ok }
            let refused = offload.run(raw, CallContext(completion: sink, completionToken: 3)) { _, _, _ in .ok }
            guard case .deferred? = queued, case .failure(let error)? = refused else {
                Issue.record("expected deferred then refused, got \(String(describing: queued)), \(String(describing: refused))")
                release.set(true)
                return
            }
            #expect(error.code == .resourceExhausted)
            #expect(error.message.contains("1 large calls are already queued"))
        }
        #expect(pool.refusedCount == 1)
        release.set(true)
        #expect(poll { sink.count == 2 })
        #expect(sink.results.withLock { $0[3] } == nil)
    }
}
