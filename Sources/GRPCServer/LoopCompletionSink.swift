import GRPCCore
import NetCore

/// Carries deferred-call results from any thread back to the loop that owns the call, waking it (eventfd).
final class LoopCompletionSink: DeferredCompletionSink, @unchecked Sendable {
    /// Unowned: the loop owns the sink.
    unowned let owner: ServerLoop

    init(owner: ServerLoop) { self.owner = owner }

    func complete(token: UInt64, with result: Result<ResponseBuffer, RPCError>) {
        let owner = self.owner
        owner.loop.execute { owner.deliver(token: token, result: result) }
    }
}
