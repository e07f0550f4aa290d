public import GRPCCore
public import HTTP2
public import NetCore

/// The gRPC side of one HTTP/2 connection, sans-IO: feed it received (plaintext) bytes with
/// ``receive(_:)``, take the bytes to send with ``produceOutput(into:highWater:)``. It routes requests,
/// enforces limits, runs unary handlers synchronously on the calling thread, and turns outcomes into
/// responses and trailers. Sockets, TLS and timers belong to the caller.
public final class GRPCConnectionHandler {
    /// The state of a graceful shutdown.
    public enum ShutdownState: Sendable, Equatable {
        case open
        /// GOAWAY(2^31-1) sent: no new streams are expected, streams in flight continue.
        case noticeSent
        /// Final GOAWAY sent with the last processed stream id.
        case goawaySent
    }

    let router: GRPCRouter
    let configuration: GRPCServerConfiguration
    /// The HTTP/2 session; nil after ``detach()``. The session holds this handler strongly (see
    /// ``HTTP2Session``): ``detach()`` breaks that cycle.
    var session: HTTP2Session?
    @exclusivity(unchecked) var streams: [Int32: GRPCStreamState] = [:]
    /// The stream the last callback was about: callbacks come in runs per stream, so this skips most hashing.
    /// The stream the last callback was about, unretained (it is in `streams` while it is here; releasing it
    /// clears this). Callbacks come in runs per stream, so this skips most hashing and all reference counting.
    @exclusivity(unchecked) private var recentStream: Unmanaged<GRPCStreamState>?
    @exclusivity(unchecked) private var recentStreamID: Int32 = 0
    /// `configuration.http2.maxHeaderListSize`, read on every header.
    let maxHeaderListBytes: Int
    @exclusivity(unchecked) private var pool: [GRPCStreamState] = []
    /// Bytes buffered by all streams' deframers.
    @exclusivity(unchecked) var bufferedRequestBytes = 0
    /// Whether the client's preface and first SETTINGS frame have arrived.
    public internal(set) var prefaceReceived = false
    /// Protocol violations seen so far.
    public private(set) var glitches = 0
    /// Calls on this connection answered UNAUTHENTICATED.
    public private(set) var authenticationFailures = 0
    public private(set) var shutdownState = ShutdownState.open
    /// Why the connection must be closed after its output is flushed, if it must.
    public private(set) var closeReason: String?

    /// `ip:port` of the peer, given to handlers.
    public var peer: String
    /// The verified TLS client certificate subject, given to handlers.
    public var clientCertificateSubject: String?
    /// Wakes the loop when a streaming call's writer has something to send (`nil`: nothing wakes it).
    public var streamWakeup: (any StreamWakeup)?
    /// Open streaming calls per capped method (see ``StreamingCallLimit``).
    @exclusivity(unchecked) var streamingCallsOpen: [ObjectIdentifier: Int] = [:]
    /// Where deferred calls report; `nil` makes ``CallContext/makePromise()`` return `nil`.
    public var completionSink: (any DeferredCompletionSink)?
    /// The loop's count of deferred calls and its cap (`nil` when driven without a loop, as in unit tests).
    var inflight: InflightCalls?
    /// Identifies this connection in completion tokens (`connectionID << 32 | streamID`).
    public var connectionID: UInt64 = 0
    /// Asked to call ``expireDeadlines(now:)`` at the given monotonic time.
    public var scheduleWakeup: ((UInt64) -> Void)?
    /// The monotonic clock (replaceable in tests).
    public var clock: () -> UInt64 = monotonicNanoseconds
    /// This connection's allowance of first-sight signature checks, handed to every call.
    let budget: ConnectionBudget

    public init(router: GRPCRouter, configuration: GRPCServerConfiguration, peer: String = "") throws(HTTP2Error) {
        self.router = router
        self.configuration = configuration
        self.peer = peer
        self.maxHeaderListBytes = Int(configuration.http2.maxHeaderListSize)
        self.budget = ConnectionBudget(
            perSecond: configuration.maxSignatureChecksPerSecondPerConnection, nowNanos: monotonicNanoseconds())
        self.session = try HTTP2Session(delegate: self, settings: configuration.http2)
    }

    // MARK: - Bytes

    /// Feeds received plaintext bytes. Throws when the connection must be closed at once.
    public func receive(_ bytes: UnsafeRawBufferPointer) throws(HTTP2Error) {
        try session?.receive(bytes)
    }

    /// Appends pending frames to `queue` until it holds `highWater` bytes.
    public func produceOutput(into queue: inout ByteQueue, highWater: Int) throws(HTTP2Error) {
        try session?.send(into: &queue, highWater: highWater)
    }

    /// Ends the connection's HTTP/2 session and releases it (and, with it, the session's hold on this handler).
    /// Call once the socket is closed; the handler then reads and writes nothing.
    public func detach() {
        // nghttp2 reports no stream closes when its session is deleted: end the streaming calls here.
        for state in streams.values where state.call != nil { closeStreamingCall(state) }
        session = nil
    }

    /// Streams opened and not yet closed.
    public var activeStreamCount: Int { streams.count }

    /// True when the connection has nothing left to read or write (after GOAWAY both ways, or a fatal error):
    /// close it once the output is flushed.
    public var isFinished: Bool {
        guard let session else { return true }
        return !session.wantsRead && !session.wantsWrite
    }

    // MARK: - Shutdown

    /// Starts a graceful shutdown: GOAWAY with the maximum stream id. Call ``finishGracefulShutdown()`` about one
    /// round trip later.
    public func beginGracefulShutdown() {
        guard shutdownState == .open else { return }
        session?.submitShutdownNotice()
        shutdownState = .noticeSent
    }

    /// Sends the final GOAWAY (last processed stream id); the connection ends when the streams in flight end.
    public func finishGracefulShutdown() {
        guard shutdownState != .goawaySent else { return }
        // Streaming calls (health Watch, reflection) never end by themselves: end them after what they queued.
        for state in streams.values where state.phase == .streaming {
            finishStream(state, RPCError(.unavailable, "server is shutting down; reconnect to another replica"))
        }
        session?.submitGoaway(errorCode: HTTP2Session.ErrorCode.noError)
        shutdownState = .goawaySent
    }

    /// Closes an idle connection politely.
    public func closeIdle() {
        closeReason = "idle"
        finishGracefulShutdown()
    }

    /// Counts a protocol violation; past the limit, GOAWAY(ENHANCE_YOUR_CALM) and close.
    func recordGlitch() {
        glitches += 1
        if glitches > configuration.maxGlitchesPerConnection && closeReason == nil {
            closeReason = "too many protocol errors (\(glitches))"
            session?.submitGoaway(errorCode: HTTP2Session.ErrorCode.enhanceYourCalm)
            shutdownState = .goawaySent
        }
    }

    /// Counts a call answered UNAUTHENTICATED; past the limit, the connection is told to go away
    /// (GOAWAY ENHANCE_YOUR_CALM): a peer cycling through bad credentials must reconnect (and handshake) to
    /// try more, instead of buying signature checks at the price of a HEADERS frame.
    func recordAuthenticationFailure() {
        authenticationFailures += 1
        if authenticationFailures >= configuration.maxAuthenticationFailuresPerConnection && closeReason == nil {
            closeReason = "too many calls with bad credentials (\(authenticationFailures))"
            session?.submitGoaway(errorCode: HTTP2Session.ErrorCode.enhanceYourCalm)
            shutdownState = .goawaySent
        }
    }

    // MARK: - Stream pool

    /// Takes a pooled stream state (or allocates one), resets it for stream `id`, registers it and makes it
    /// the one-entry lookup cache. Loop thread only.
    func acquireStream(_ id: Int32) -> GRPCStreamState {
        let state = pool.popLast() ?? GRPCStreamState(maxMessageBytes: configuration.maxMessageBytes)
        state.reset(id: id)
        streams[id] = state
        recentStream = Unmanaged.passUnretained(state)
        recentStreamID = id
        return state
    }

    /// The open stream with this id, if any.
    @inline(__always)
    func stream(_ id: Int32) -> GRPCStreamState? { withStream(id) { $0 } }

    /// Runs `body` with the open stream with this id (nil if there is none), lending it without a retain.
    /// `body` must not release the stream (no callback it triggers does: streams are released only when
    /// nghttp2 reports them closed, from inside `receive`/`send`, never from a submit).
    @inline(__always)
    func withStream<R>(_ id: Int32, _ body: (GRPCStreamState) -> R) -> R? {
        if let recent = recentStream, recentStreamID == id { return recent._withUnsafeGuaranteedRef(body) }
        guard let state = streams[id] else { return nil }
        recentStream = Unmanaged.passUnretained(state)
        recentStreamID = id
        return body(state)
    }

    /// Forgets stream `id` once nghttp2 reports it closed: frees its in-flight slot, closes any streaming call,
    /// un-counts its buffered request bytes, and keeps up to 128 reset states for reuse.
    func releaseStream(_ id: Int32) {
        if recentStream != nil && recentStreamID == id { recentStream = nil }
        guard let state = streams.removeValue(forKey: id) else { return }
        releaseInflightSlot(state)
        if state.call != nil { closeStreamingCall(state) }
        bufferedRequestBytes -= state.deframer.bufferedByteCount
        state.reset(id: 0)  // drops references and oversized buffers while pooled
        if pool.count < 128 { pool.append(state) }
    }
}
