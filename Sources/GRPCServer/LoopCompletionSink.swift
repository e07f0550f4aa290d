import GRPCCore
import NetCore

/// Carries deferred-call results from any thread back to the loop that owns the call, waking it (eventfd).
final class LoopCompletionSink: DeferredCompletionSink, @unchecked Sendable {
    /// Strong: a promise may be completed after its server stopped; the loop then just never runs the task.
    private let loop: EventLoop
    /// Weak, for the same reason; set once at init and only read afterwards.
    private weak var owner: ServerLoop?

    init(owner: ServerLoop) {
        self.loop = owner.loop
        self.owner = owner
    }

    func complete(token: UInt64, with result: Result<ResponseBuffer, RPCError>) {
        let target = WeakLoop(owner: owner)
        loop.execute { target.owner?.deliver(token: token, result: result) }
    }
}

/// Carries the weak reference into the `@Sendable` task (it is only dereferenced on the loop thread).
private struct WeakLoop: @unchecked Sendable {
    weak var owner: ServerLoop?
}
