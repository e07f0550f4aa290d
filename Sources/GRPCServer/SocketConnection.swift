import GRPCCore
import HTTP2
import NetCore
import TLS

/// One accepted socket: reads into the connection handler (through TLS when configured), writes what the
/// handler produces through a coalescing queue, pauses reading while the peer does not read (backpressure).
final class SocketConnection: EventLoopHandler {
    /// The accepted socket, owned by this object: only `close()` closes it.
    let fd: Int32
    /// The owning loop's id for this connection; the high 32 bits of its deferred-call tokens.
    let id: UInt64
    /// The loop's registration token for `fd`, set right after registering.
    var token: UInt64 = 0
    /// The loop that accepted this connection; it outlives its connections (it closes them all before it ends).
    unowned let owner: ServerLoop
    /// The HTTP/2 and gRPC state of this connection (sans-IO: fed bytes, asked for bytes).
    let handler: GRPCConnectionHandler
    /// The TLS session, nil for cleartext connections.
    let tls: TLSConnection?
    /// Bytes for the socket (ciphertext with TLS).
    @exclusivity(unchecked) private var output = ByteQueue(reservingCapacity: 16_384)
    /// Plaintext staged for TLS.
    /// The epoll events currently asked for: writable while `output` holds bytes, readable only while `output` is
    /// below the high-water mark (backpressure).
    @exclusivity(unchecked) private var plaintext = ByteQueue()
    private var watching: EventLoop.Events = .readable
    /// Set once by `close()`; after it nothing is read or written, since the descriptor number may be reused.
    private(set) var closed = false
    /// Monotonic time of the last byte received.
    @exclusivity(unchecked) var lastActivity: UInt64
    /// Whether the TLS handshake (if any) and the HTTP/2 preface completed.
    var established: Bool { handler.prefaceReceived }
    /// When the handler first asked to close (after a GOAWAY for protocol abuse or idleness), if it has.
    var closingSince: UInt64?

    /// Wraps an accepted, registered-later socket; takes ownership of `fd`. Loop thread only.
    init(fd: Int32, id: UInt64, peer: String, owner: ServerLoop, handler: GRPCConnectionHandler, tls: TLSConnection?) {
        self.fd = fd
        self.id = id
        self.owner = owner
        self.handler = handler
        self.tls = tls
        self.lastActivity = monotonicNanoseconds()
    }

    /// Epoll readiness: flush pending output first, read what arrived (hang-ups and errors surface as a failed
    /// read), then let the handler produce more output.
    func handleEvents(_ events: EventLoop.Events) {
        if events.contains(.writable) { flush() }
        if !closed && (events.contains(.readable) || events.contains(.hangup) || events.contains(.error)) {
            readAvailable()
        }
        if !closed { pump() }
    }

    /// Reads into the loop's shared buffer until `ioBudgetPerWakeup` bytes were read this wake-up, so one busy
    /// peer cannot hold the loop: what is left stays in the socket, and level-triggered epoll reports it again
    /// on the next iteration, after the other ready connections had their turn.
    private func readAvailable() {
        let buffer = owner.readBuffer
        var budget = owner.configuration.ioBudgetPerWakeup
        while true {
            let count = Socket.read(fd, into: buffer)
            if count > 0 {
                lastActivity = owner.now
                if !feed(UnsafeRawBufferPointer(rebasing: buffer[0..<count])) { return }
                if output.count >= owner.configuration.outputHighWater { return }
                if count < buffer.count { return }
                budget -= count
                if budget <= 0 { return }
            } else if count == Socket.wouldBlock {
                return
            } else {
                // End of stream or a socket error: the peer is gone; calls in flight cannot be answered.
                close()
                return
            }
        }
    }

    /// Hands bytes to TLS/HTTP/2; false when the connection was closed.
    private func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        do {
            if let tls {
                tls.receiveCiphertext(bytes)
                // The subject is known once the handshake completes, which may be in the same read as the first
                // request (a client that writes its request right behind its Finished): set it before any
                // plaintext reaches the handler, or that request would be authenticated without it.
                var subjectPending = !tls.handshakeComplete
                let result = try tls.readPlaintext { plain in
                    if subjectPending {
                        handler.clientCertificateSubject = tls.peerSubject
                        subjectPending = false
                    }
                    try handler.receive(plain)
                }
                if subjectPending && tls.handshakeComplete {
                    handler.clientCertificateSubject = tls.peerSubject
                }
                if result == .closed {
                    flushAndClose()
                    return false
                }
                if !tls.handshakeComplete {
                    tls.drainCiphertext(into: &output)
                    return true
                }
            } else {
                try handler.receive(bytes)
            }
            return true
        } catch {
            // A protocol error or flood: send what is queued (GOAWAY, TLS alert), then close.
            flushAndClose()
            return false
        }
    }

    /// Moves frames from the handler to the socket, updates interest, closes when finished.
    ///
    /// Produces at most `ioBudgetPerWakeup` bytes of frames per call (the rest of a large reply stays in
    /// nghttp2): when the budget ran out, the connection asks for `writable`, which epoll reports on the next
    /// iteration, after the loop's other ready connections.
    func pump() {
        guard !closed else { return }
        let highWater = owner.configuration.outputHighWater
        let budget = owner.configuration.ioBudgetPerWakeup
        var budgetSpent = false
        do {
            if let tls {
                // HTTP/2 frames wait until the handshake is done; until then only handshake records flow.
                if tls.handshakeComplete {
                    let limit = min(highWater, plaintext.count + budget)
                    try handler.produceOutput(into: &plaintext, highWater: limit)
                    budgetSpent = plaintext.count >= limit
                    if !plaintext.isEmpty {
                        try plaintext.withReadableBytes { try tls.writePlaintext($0) }
                        plaintext.consume(plaintext.count)
                    }
                }
                tls.drainCiphertext(into: &output)
            } else {
                let limit = min(highWater, output.count + budget)
                try handler.produceOutput(into: &output, highWater: limit)
                budgetSpent = output.count >= limit
            }
        } catch {
            flushAndClose()
            return
        }
        flush()
        guard !closed else { return }
        if output.isEmpty && (handler.isFinished || (handler.closeReason != nil && handler.activeStreamCount == 0)) {
            close()
            return
        }
        var wanted: EventLoop.Events = []
        if output.count < highWater { wanted.insert(.readable) }
        // Writable when bytes wait for the socket, or when the budget stopped production (the socket is writable
        // at once then: epoll brings the connection back next iteration to produce the rest).
        if !output.isEmpty || budgetSpent { wanted.insert(.writable) }
        if wanted != watching {
            watching = wanted
            owner.loop.modify(fd: fd, token: token, events: wanted)
        }
    }

    /// Writes queued bytes until done or the socket would block; any other write failure closes the connection.
    private func flush() {
        // Never write after close: the descriptor number may already belong to another connection.
        while !closed && !output.isEmpty {
            let written = output.withReadableBytes { Socket.write(fd, from: $0) }
            if written > 0 {
                output.consume(written)
            } else if written == Socket.wouldBlock {
                return
            } else {
                close()
                return
            }
        }
    }

    /// Writes out whatever can still be sent (including TLS's final records) and closes, without waiting.
    private func flushAndClose() {
        if let tls { tls.drainCiphertext(into: &output) }
        flush()
        close()
    }

    /// Idempotent: deregisters and closes the socket, detaches the handler, and tells the owning loop.
    func close() {
        guard !closed else { return }
        closed = true
        owner.loop.deregister(fd: fd, token: token)
        Socket.close(fd)
        handler.detach()
        owner.connectionClosed(self)
    }
}
