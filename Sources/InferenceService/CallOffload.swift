public import BackgroundThreads
import GRPCCore

/// Moves calls too large for an event loop onto a ``WorkerPool``: the loop copies the request bytes, hands
/// the call to a worker, and answers through the call's promise, so one caller's big batch never holds the
/// other calls of its loop. Calls below the threshold stay on the loop (no copy, no hop).
public struct CallOffload: Sendable {
    /// The workers (lower CPU priority than the loops, bounded queue).
    public let pool: WorkerPool
    /// Requests of at least this many bytes run on the pool (about 4,000 rows of 4 features at the default).
    public let minRequestBytes: Int

    /// `minRequestBytes` defaults to 64 KiB; the pool is shared, not owned, so several services can offload to it.
    public init(pool: WorkerPool, minRequestBytes: Int = 64 << 10) {
        self.pool = pool
        self.minRequestBytes = minRequestBytes
    }

    /// Runs `handler` on the pool when the transport can complete the call later; returns nil when the call
    /// must run on the loop as usual (no completion sink: a unit test, or already on a worker).
    ///
    /// On the worker, the handler sees a context without a completion sink, so it cannot offload again. A full
    /// queue is RESOURCE_EXHAUSTED at once.
    func run(
        _ request: UnsafeRawBufferPointer, _ context: CallContext,
        _ handler: @escaping @Sendable (UnsafeRawBufferPointer, CallContext, inout ResponseBuffer) -> UnaryOutcome
    ) -> UnaryOutcome? {
        guard let promise = context.makePromise() else { return nil }
        // The transport hands over the receive buffer of a large request: keep it (no copy on the loop, which
        // costs about a millisecond for 2 MB, page faults included). Otherwise copy the bytes.
        let bytes: ArraySlice<UInt8>
        if let owned = context.ownedRequest, owned.payload.count == request.count,
            owned.storage.withUnsafeBytes({ $0.baseAddress.map { $0 + owned.payload.lowerBound } })
                == request.baseAddress
        {
            bytes = owned.storage[owned.payload]
        } else {
            bytes = ArraySlice(request)
        }
        var detached = context
        detached.completion = nil
        detached.ownedRequest = nil
        let inline = detached
        let accepted = pool.submit {
            var response = ResponseBuffer()
            let outcome = bytes.withUnsafeBytes { handler($0, inline, &response) }
            switch outcome {
            case .ok: promise.succeed(response)
            case .failure(let error): promise.fail(error)
            case .deferred: promise.fail(RPCError(.internal, "a worker call was deferred twice"))
            }
        }
        guard accepted else {
            return .failure(
                RPCError(
                    .resourceExhausted,
                    "server busy: \(pool.capacity) large calls are already queued for the workers; retry with backoff"))
        }
        return .deferred
    }
}
