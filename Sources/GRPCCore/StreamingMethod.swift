import Synchronization

/// The producer side of a streaming call: what a ``StreamingMethod`` returns when it accepts a call. The
/// transport calls it on the connection's event-loop thread; none of its methods may block.
public protocol StreamingCall: AnyObject, Sendable {
    /// One complete request message arrived (decompressed). A server-streaming call gets exactly one; a
    /// client-streaming or bidirectional call gets one per message the client sends, as each arrives.
    /// The bytes are lent for the duration of the call.
    func received(_ message: UnsafeRawBufferPointer, writer: ServerStreamWriter)
    /// The client half-closed its side (END_STREAM). `messages` is how many request messages arrived.
    func requestEnded(messages: Int, writer: ServerStreamWriter)
    /// The stream is gone: finished, reset by the client (RST_STREAM), its deadline passed, or its connection
    /// closed. Called exactly once; release everything the call holds (subscriptions, buffers) here.
    func closed()
}

/// Caps how many calls of a method one connection may hold open at once (e.g. health `Watch` streams). One
/// object per method: the transport counts open calls per connection under its identity.
public final class StreamingCallLimit: Sendable {
    /// Open calls allowed per connection.
    public let maxPerConnection: Int
    /// The RESOURCE_EXHAUSTED message a call past the cap gets.
    public let message: String

    public init(maxPerConnection: Int, message: String) {
        self.maxPerConnection = maxPerConnection
        self.message = message
    }
}

/// Opens a streaming call: decide from the headers (metadata, peer) whether to accept it. Runs on the loop
/// thread. Return a ``StreamingCall`` to accept (the response headers go out at once), or an error to answer
/// with a Trailers-Only status.
public typealias StreamingOpener =
    @Sendable (_ context: CallContext, _ writer: ServerStreamWriter) -> Result<any StreamingCall, RPCError>

/// A server-streaming, client-streaming or bidirectional method. Registered with the same ``GRPCRouter`` as
/// unary methods; unary calls never touch this path.
public struct StreamingMethod: Sendable {
    /// The method's simple name, e.g. `Watch`.
    public let name: String
    /// Called when a request's headers are complete.
    public let open: StreamingOpener
    /// The per-connection cap of open calls, if any.
    public let limit: StreamingCallLimit?

    public init(_ name: String, limit: StreamingCallLimit? = nil, open: @escaping StreamingOpener) {
        self.name = name
        self.limit = limit
        self.open = open
    }
}

/// Wakes a stream's event loop when its writer has something new to send. Implemented by the transport;
/// safe to call from any thread.
public protocol StreamWakeup: Sendable {
    /// `token` identifies the stream (as a ``CallContext/completionToken`` does a deferred call).
    func wake(token: UInt64)
}

/// Where a streaming call's responses go: thread-safe, so a producer on any thread (a status change, a
/// background job) can send. Messages queue here until HTTP/2 flow control lets the transport pull them;
/// `send` returns `false` once the call is over (cancelled, finished, or over ``maxQueuedBytes``), which is how a
/// producer learns to stop.
public final class ServerStreamWriter: Sendable {
    private struct State {
        var queued: [UInt8] = []
        var offset = 0
        /// `nil` while open; the final status once ``finish(_:)`` was called (OK as a `nil` inner value).
        var finished: RPCError?? = nil
        var cancelled = false
        /// A wake-up is on its way to the loop; no need to post another.
        var wakePending = false
    }

    private let state = Mutex(State())
    private let wakeup: (any StreamWakeup)?
    /// Identifies the stream to ``wakeup``.
    public let token: UInt64
    /// Bytes a slow reader may leave queued before the call ends with RESOURCE_EXHAUSTED.
    public let maxQueuedBytes: Int

    public init(token: UInt64, wakeup: (any StreamWakeup)?, maxQueuedBytes: Int = 4 << 20) {
        self.token = token
        self.wakeup = wakeup
        self.maxQueuedBytes = maxQueuedBytes
    }

    /// Queues the framed message(s) in `response`. Returns `false` (dropping them) when the call is over.
    @discardableResult
    public func send(_ response: ResponseBuffer) -> Bool {
        let outcome: (accepted: Bool, wake: Bool) = state.withLock { state in
            guard !state.cancelled, state.finished == nil else { return (false, false) }
            if state.queued.count - state.offset + response.bytes.count > maxQueuedBytes {
                state.finished = .some(
                    RPCError(
                        .resourceExhausted,
                        "the client is not reading this stream: more than \(maxQueuedBytes) bytes of responses "
                            + "queued"))
                return (false, Self.takeWake(&state))
            }
            if state.offset > 0 && state.offset == state.queued.count {
                state.queued.removeAll(keepingCapacity: true)
                state.offset = 0
            }
            state.queued.append(contentsOf: response.bytes)
            return (true, Self.takeWake(&state))
        }
        if outcome.wake { wakeup?.wake(token: token) }
        return outcome.accepted
    }

    /// Ends the call after the queued messages: OK with `nil`, else the error's status. Later calls are ignored.
    public func finish(_ error: RPCError? = nil) {
        let wake: Bool = state.withLock { state in
            guard !state.cancelled, state.finished == nil else { return false }
            state.finished = .some(error)
            return Self.takeWake(&state)
        }
        if wake { wakeup?.wake(token: token) }
    }

    /// Whether the call is over for the producer (cancelled by the client or finished).
    public var isClosed: Bool { state.withLock { $0.cancelled || $0.finished != nil } }

    private static func takeWake(_ state: inout State) -> Bool {
        if state.wakePending { return false }
        state.wakePending = true
        return true
    }

    // MARK: - Transport side (the stream's loop thread)

    /// What the transport can send now.
    public enum Pull: Equatable, Sendable {
        /// `count` bytes were copied.
        case data(count: Int)
        /// Nothing queued yet: wait for a wake-up.
        case waiting
        /// Everything was sent; end with this status (`nil` for OK).
        case finished(RPCError?)
    }

    /// Copies queued bytes into `buffer` (for a DATA frame).
    public func pull(into buffer: UnsafeMutableRawBufferPointer) -> Pull {
        state.withLock { state in
            let available = state.queued.count - state.offset
            if available > 0 {
                let count = min(available, buffer.count)
                state.queued.withUnsafeBytes { all in
                    buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: all[state.offset..<state.offset + count]))
                }
                state.offset += count
                return .data(count: count)
            }
            if let finished = state.finished { return .finished(finished) }
            return .waiting
        }
    }

    /// The loop received the wake-up: the next send posts a new one.
    public func wakeReceived() { state.withLock { $0.wakePending = false } }

    /// The stream is gone: drop what is queued, refuse later sends.
    public func cancel() {
        state.withLock { state in
            state.cancelled = true
            state.queued = []
            state.offset = 0
        }
    }
}
