import GRPCCore
import HTTP2
import NetCore
import TLS

/// One event-loop thread of the server: its epoll loop, its SO_REUSEPORT listener and its connections.
final class ServerLoop: EventLoopHandler, @unchecked Sendable {
    /// The epoll loop this object's thread runs; every other member is touched only from that thread.
    let loop: EventLoop
    let configuration: GRPCServerConfiguration
    /// Maps a `:path` to its handler; shared, immutable, by every loop.
    let router: GRPCRouter
    /// This loop's own SO_REUSEPORT listening socket; closed (and set to -1) by `beginDrain()`, else when `run()` ends.
    private var listenFD: Int32
    private var listenToken: UInt64 = 0
    /// Open connections by id. The id is also the high 32 bits of a deferred call's token, which is how
    /// `deliver(token:result:)` finds the connection again.
    private var connections: [UInt64: SocketConnection] = [:]
    private var nextConnectionID: UInt64 = 1
    /// Hands results of calls finished off the loop back to it; set once in `init` (it needs `self`).
    private(set) var sink: LoopCompletionSink!
    /// Shared receive buffer: reads are processed synchronously, so one per loop suffices.
    let readBuffer: UnsafeMutableRawBufferPointer
    /// True once a graceful stop began: no more accepts, and the loop stops when the last connection closes.
    private var draining = false
    /// True while accepting is paused after `accept` ran out of descriptors or memory (retried after 100 ms).
    private var acceptPaused = false
    /// The loop's cached clock, refreshed once per iteration.
    private(set) var now: UInt64 = monotonicNanoseconds()
    /// Called on the loop thread when it stops.
    var onStopped: (() -> Void)?
    /// The TLS context new connections use; replaced on certificate reload (existing connections keep theirs).
    var tlsContext: TLSContext?
    /// Admission counters shared with the server's other loops.
    let limits: ServerLimits
    /// Calls of this loop's connections now deferred off the loop thread.
    let inflight: InflightCalls

    /// Creates the epoll loop and registers `listenFD` on it; called on the thread that starts the server, before
    /// `run()`. Allocates the 64 KiB read buffer, freed in `deinit`.
    init(
        listenFD: Int32, configuration: GRPCServerConfiguration, router: GRPCRouter, limits: ServerLimits
    ) throws(SystemError) {
        self.limits = limits
        self.inflight = InflightCalls(limit: configuration.maxInflightCallsPerLoop, limits: limits)
        self.loop = try EventLoop()
        self.listenFD = listenFD
        self.configuration = configuration
        self.router = router
        self.readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)
        self.tlsContext = configuration.tls
        self.sink = LoopCompletionSink(owner: self)
        listenToken = try loop.register(fd: listenFD, events: .readable, handler: self)
        loop.afterEvents = { [unowned self] in self.now = monotonicNanoseconds() }
        scheduleSweep()
    }

    deinit { readBuffer.deallocate() }

    /// Runs the loop on the calling thread until it is stopped.
    func run() {
        loop.run()
        for connection in Array(connections.values) { connection.close() }
        if listenFD >= 0 { Socket.close(listenFD) }
        onStopped?()
    }

    // MARK: - Accepting

    /// The listener is readable: accept up to 64 connections per wakeup, so a flood of connects cannot starve
    /// the connections already open on this loop.
    func handleEvents(_ events: EventLoop.Events) {
        guard !draining, !acceptPaused else { return }
        for _ in 0..<64 {
            switch Socket.accept(listenFD) {
            case .accepted(let fd, let peer):
                accept(fd: fd, peer: peer)
            case .none:
                return
            case .exhausted:
                // Out of descriptors or memory: the listener stays readable, so stop watching it for a moment
                // instead of spinning; pending clients wait in the backlog.
                acceptPaused = true
                loop.modify(fd: listenFD, token: listenToken, events: [])
                loop.schedule(at: monotonicNanoseconds() + 100_000_000) { [unowned self] in
                    self.acceptPaused = false
                    if !self.draining {
                        self.loop.modify(fd: self.listenFD, token: self.listenToken, events: .readable)
                    }
                }
                return
            }
        }
    }

    /// Admits one accepted socket: checks the server-wide connection cap, builds its handler and optional TLS
    /// state, registers it and queues the server SETTINGS. Any failure closes the socket and releases the slot.
    private func accept(fd: Int32, peer: String) {
        guard limits.admitConnection() else {
            // Over the cap: refuse now rather than queue. A cleartext client learns why; a TLS client would need
            // a handshake first, which is exactly the work being shed.
            if tlsContext == nil { _ = RefusalFrames.cleartext.withUnsafeBytes { Socket.write(fd, from: $0) } }
            Socket.close(fd)
            return
        }
        let id = nextConnectionID
        nextConnectionID += 1
        var created: GRPCConnectionHandler?
        do {
            let tls = try tlsContext.map { context throws -> TLSConnection in try TLSConnection(context: context) }
            let handler = try GRPCConnectionHandler(router: router, configuration: configuration, peer: peer)
            created = handler
            handler.connectionID = id
            handler.completionSink = sink
            handler.streamWakeup = sink
            handler.inflight = inflight
            let connection = SocketConnection(fd: fd, id: id, peer: peer, owner: self, handler: handler, tls: tls)
            // The timer finds the connection by id: a captured reference would be a cycle (the handler keeps this
            // closure), and a weak one would give every connection a side table, slowing each retain and
            // release of it on the loop.
            handler.scheduleWakeup = { [unowned self] deadline in
                self.loop.schedule(at: deadline) { [unowned self] in
                    guard let connection = self.connections[id], !connection.closed else { return }
                    connection.handler.expireDeadlines(now: monotonicNanoseconds())
                    connection.pump()
                }
            }
            connection.token = try loop.register(fd: fd, events: .readable, handler: connection)
            connections[id] = connection
            connection.pump()  // queue our SETTINGS
        } catch {
            created?.detach()
            Socket.close(fd)
            limits.connectionClosed()
        }
    }

    /// Called by a connection once its socket is closed: forgets it, releases its admission slot, and stops the
    /// loop if draining and this was the last one.
    func connectionClosed(_ connection: SocketConnection) {
        if connections.removeValue(forKey: connection.id) != nil { limits.connectionClosed() }
        if draining && connections.isEmpty { loop.stop() }
    }

    // MARK: - Deferred calls

    /// Completes a deferred unary call on the loop thread. `token` is the connection id (high 32 bits) and stream
    /// id (low 32 bits); a result for a connection that has since closed is dropped.
    func deliver(token: UInt64, result: Result<ResponseBuffer, RPCError>) {
        guard let connection = connections[token >> 32], !connection.closed else { return }
        connection.handler.completeDeferred(
            stream: Int32(bitPattern: UInt32(truncatingIfNeeded: token)), result: result)
        connection.pump()
    }

    /// Resumes a streaming call whose writer queued something (see ``LoopCompletionSink/wake(token:)``).
    func wakeStream(token: UInt64) {
        guard let connection = connections[token >> 32], !connection.closed else { return }
        connection.handler.streamWoken(token: token)
        connection.pump()
    }

    // MARK: - Timeouts

    /// Once a second: close idle connections and those stuck before the HTTP/2 preface.
    private func scheduleSweep() {
        loop.schedule(at: monotonicNanoseconds() + 1_000_000_000) { [unowned self] in
            self.sweep()
            self.scheduleSweep()
        }
    }

    /// Expires stalled request bodies; closes connections that never finished the handshake or outstayed a GOAWAY
    /// by 5 s; sends idle ones a GOAWAY first. Timeouts are configured in seconds and compared in ns.
    private func sweep() {
        let now = monotonicNanoseconds()
        let idle = UInt64(configuration.idleTimeoutSeconds * 1e9)
        let handshake = UInt64(configuration.handshakeTimeoutSeconds * 1e9)
        let stalled = UInt64(configuration.requestBodyTimeoutSeconds * 1e9)
        for connection in Array(connections.values) {
            if connection.handler.activeStreamCount > 0 {
                connection.handler.expireStalledRequests(now: now, limit: stalled)
                connection.pump()
                if connection.closed { continue }
            }
            let quiet = now &- connection.lastActivity
            if connection.handler.closeReason != nil {
                // Told to go away (abuse or idleness) but still holding streams open: give it 5 s, then cut.
                let since = connection.closingSince ?? now
                connection.closingSince = since
                if now &- since > 5_000_000_000 {
                    connection.close()
                    continue
                }
            }
            if !connection.established && quiet > handshake {
                connection.close()
            } else if connection.handler.activeStreamCount == 0 && quiet > idle {
                if connection.handler.closeReason == nil {
                    connection.handler.closeIdle()
                    connection.pump()
                } else {
                    connection.close()
                }
            }
        }
    }

    // MARK: - Shutdown (loop thread)

    /// Stops accepting, sends GOAWAY to every connection, and stops the loop once they have all ended.
    func beginDrain() {
        guard !draining else { return }
        draining = true
        loop.deregister(fd: listenFD, token: listenToken)
        Socket.close(listenFD)
        listenFD = -1
        for connection in Array(connections.values) {
            connection.handler.beginGracefulShutdown()
            connection.pump()
        }
        // About one round trip later, the final GOAWAY with the last stream id actually processed.
        loop.schedule(at: monotonicNanoseconds() + 100_000_000) { [unowned self] in
            for connection in Array(self.connections.values) {
                connection.handler.finishGracefulShutdown()
                connection.pump()
            }
            if self.connections.isEmpty { self.loop.stop() }
        }
        if connections.isEmpty { loop.stop() }
    }

    /// Closes everything at once (the drain deadline passed).
    func forceStop() {
        draining = true
        loop.stop()
    }
}
