import GRPCCore
import HTTP2

/// Streaming calls (server-streaming, client-streaming, bidirectional). A call opens when its request headers
/// are complete: the response headers go out at once, each request message is handed to the call as soon as it
/// is complete (a message may span DATA frames, a frame may hold several), and responses are pulled from the
/// call's ``ServerStreamWriter`` as HTTP/2 flow control allows. When the writer has nothing queued the stream is
/// deferred in nghttp2 and resumed by the writer's wake-up (posted to this connection's loop). Unary calls never
/// come here.
extension GRPCConnectionHandler {
    /// Opens a streaming call: the per-connection cap, then the method's opener (auth gates run there).
    func openStreaming(_ state: GRPCStreamState, _ method: StreamingMethod, endStream: Bool) {
        if let limit = method.limit {
            let key = ObjectIdentifier(limit)
            let open = streamingCallsOpen[key, default: 0]
            guard open < limit.maxPerConnection else {
                respondError(state, RPCError(.resourceExhausted, limit.message))
                return
            }
            streamingCallsOpen[key] = open + 1
            state.countedLimit = limit
        }
        let token = connectionID << 32 | UInt64(UInt32(bitPattern: state.id))
        let writer = ServerStreamWriter(token: token, wakeup: streamWakeup)
        let context = CallContext(
            metadata: state.metadata, deadline: state.deadline, peer: peer,
            clientCertificateSubject: clientCertificateSubject, completion: nil, completionToken: token)
        switch method.open(context, writer) {
        case .failure(let error):
            releaseLimit(state)
            respondError(state, error)
        case .success(let call):
            state.call = call
            state.writer = writer
            state.phase = .streaming
            state.receivingSince = clock()
            session?.submitResponse(state.id, headers: ResponseHeaders.ok, hasBody: true)
            if let deadline = state.deadline { scheduleWakeup?(deadline) }
            if endStream { streamRequestEnded(state) }
        }
    }

    /// Request bytes of an open streaming call: buffer them, hand over every complete message.
    func streamData(_ state: GRPCStreamState, _ bytes: UnsafeRawBufferPointer) {
        guard let call = state.call, let writer = state.writer else { return }
        if bufferedRequestBytes + bytes.count > configuration.maxBufferedRequestBytesPerConnection {
            respondError(
                state,
                RPCError(
                    .resourceExhausted,
                    "this connection is buffering more than \(configuration.maxBufferedRequestBytesPerConnection) "
                        + "request bytes; retry later"))
            return
        }
        let before = state.deframer.bufferedByteCount
        do {
            try state.deframer.append(bytes)
            while !writer.isClosed, let span = state.deframer.nextMessageSpan, span <= state.deframer.bufferedByteCount {
                let failure: RPCError? = try state.deframer.withNextMessage { compressed, payload -> RPCError? in
                    guard compressed else {
                        call.received(payload, writer: writer)
                        return nil
                    }
                    guard state.gzip else {
                        return RPCError(
                            .internal, "message has the compressed flag set but the request has no grpc-encoding")
                    }
                    do throws(GzipDecoder.Failure) {
                        let inflated = try GzipDecoder.inflate(payload, limit: configuration.maxMessageBytes)
                        inflated.withUnsafeBytes { call.received($0, writer: writer) }
                        return nil
                    } catch {
                        switch error {
                        case .tooLarge(let limit):
                            return RPCError(
                                .resourceExhausted,
                                "decompressed request message is larger than the server's limit of \(limit) bytes")
                        case .corrupt(let reason):
                            return RPCError(.internal, "cannot decompress gzip request message: \(reason)")
                        }
                    }
                } ?? nil
                state.requestMessages += 1
                if let failure {
                    bufferedRequestBytes += state.deframer.bufferedByteCount - before
                    respondError(state, failure)
                    return
                }
            }
        } catch let error as MessageDeframer.Failure {
            bufferedRequestBytes += state.deframer.bufferedByteCount - before
            respondError(state, error.rpcError)
            return
        } catch {
            bufferedRequestBytes += state.deframer.bufferedByteCount - before
            respondError(state, RPCError(.internal, "invalid request framing: \(error)"))
            return
        }
        bufferedRequestBytes += state.deframer.bufferedByteCount - before
    }

    /// The client half-closed: check the body ended on a message boundary, tell the call.
    func streamRequestEnded(_ state: GRPCStreamState) {
        guard let call = state.call, let writer = state.writer else { return }
        do throws(MessageDeframer.Failure) {
            try state.deframer.finish()
        } catch {
            respondError(state, error.rpcError)
            return
        }
        call.requestEnded(messages: state.requestMessages, writer: writer)
    }

    /// Ends an open streaming call with `error` (nil: OK) after what its writer has queued.
    func finishStream(_ state: GRPCStreamState, _ error: RPCError?) {
        guard let writer = state.writer else { return }
        writer.finish(error)
        session?.resumeData(state.id)
    }

    /// Pulls response bytes for a DATA frame; `(0, false)` parks the stream until the writer wakes it.
    func streamBody(_ state: GRPCStreamState, _ writer: ServerStreamWriter, into buffer: UnsafeMutableRawBufferPointer)
        -> (count: Int, end: Bool)
    {
        switch writer.pull(into: buffer) {
        case .data(let count):
            return (count, false)
        case .waiting:
            return (0, false)
        case .finished(let error):
            state.phase = .responded
            state.trailers = error.map { HTTP2HeaderBlock(StatusTrailers.fields(for: $0), persistent: false) }
            // The call is over for its producer now, even if the client keeps its half of the stream open.
            closeStreamingCall(state)
            return (0, true)
        }
    }

    /// A streaming call's writer has something new (on the loop thread, from the writer's wake-up).
    public func streamWoken(token: UInt64) {
        let id = Int32(bitPattern: UInt32(truncatingIfNeeded: token))
        guard let state = stream(id), let writer = state.writer, writer.token == token else { return }
        writer.wakeReceived()
        session?.resumeData(id)
    }

    /// The stream is gone, or its trailers are out: cancel the writer, tell the call (exactly once), give back its
    /// cap slot.
    func closeStreamingCall(_ state: GRPCStreamState) {
        guard let call = state.call else { return }
        state.call = nil
        state.writer?.cancel()
        releaseLimit(state)
        call.closed()
    }

    private func releaseLimit(_ state: GRPCStreamState) {
        guard let limit = state.countedLimit else { return }
        state.countedLimit = nil
        let key = ObjectIdentifier(limit)
        let open = streamingCallsOpen[key, default: 1] - 1
        if open <= 0 { streamingCallsOpen[key] = nil } else { streamingCallsOpen[key] = open }
    }

    /// Open streaming calls on this connection.
    public var openStreamingCallCount: Int { streams.values.reduce(0) { $0 + ($1.call != nil ? 1 : 0) } }
}
