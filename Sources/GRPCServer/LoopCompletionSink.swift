import GRPCCore
import NetCore

/// Carries deferred-call results from any thread back to the loop that owns the call, waking it (eventfd).
final class LoopCompletionSink: DeferredCompletionSink, StreamWakeup, @unchecked Sendable {
    /// Strong: a promise may be completed after its server stopped; the loop then just never runs the task.
    private let loop: EventLoop
    /// Unretained. The task that uses it runs only inside `loop.run()`, which only `owner.run()` calls, so the
    /// owner is alive whenever the task runs. (A weak reference would give the owner a side table, and every
    /// retain and release of it on the loop would take the slow path.)
    private let owner: Unmanaged<ServerLoop>

    /// A sink for `owner`'s calls. `owner` must create it and keep it; the sink does not retain the owner.
    init(owner: ServerLoop) {
        self.loop = owner.loop
        self.owner = Unmanaged.passUnretained(owner)
    }

    /// A deferred unary call finished, on whatever thread ran it: hands `result` to the owning loop, which
    /// completes the stream. Allocates one task per call; never blocks.
    func complete(token: UInt64, with result: Result<ResponseBuffer, RPCError>) {
        let target = UnretainedLoop(owner: owner)
        loop.execute { target.owner._withUnsafeGuaranteedRef { $0.deliver(token: token, result: result) } }
    }

    /// A streaming call's writer has something to send: resume its stream on the loop.
    func wake(token: UInt64) {
        let target = UnretainedLoop(owner: owner)
        loop.execute { target.owner._withUnsafeGuaranteedRef { $0.wakeStream(token: token) } }
    }
}

/// Carries the unretained owner into the `@Sendable` task (it is only dereferenced on the loop thread).
private struct UnretainedLoop: @unchecked Sendable {
    let owner: Unmanaged<ServerLoop>
}
