public import GRPCCore
import HTTP2
import Synchronization

extension GRPCConnectionHandler {
    /// Answers with a Trailers-Only response (no message was sent yet).
    func respondError(_ state: GRPCStreamState, _ error: RPCError, httpStatus: Int = 200) {
        guard state.phase != .responded else { return }
        if state.phase == .streaming {
            // Headers are out already: the status goes in the trailers, after what is queued.
            finishStream(state, error)
            return
        }
        releaseInflightSlot(state)
        state.phase = .responded
        bufferedRequestBytes -= state.deframer.bufferedByteCount
        state.deframer.reset()
        session?.submitResponse(
            state.id, headers: ResponseHeaders.trailersOnly(error, httpStatus: httpStatus), hasBody: false)
        // After the answer is queued, so the call that reaches the limit still gets its status before GOAWAY.
        if error.code == .unauthenticated { recordAuthenticationFailure() }
    }

    /// Answers a request that is not gRPC with its HTTP status (405 or 415) and a text body saying what to send.
    func respondPlain(_ state: GRPCStreamState) {
        guard state.phase != .responded else { return }
        state.phase = .responded
        state.plainHTTP = true
        state.responseOffset = 0
        state.response.removeAll()
        state.response.appendUnframed(ResponseHeaders.plainBody(httpStatus: state.httpStatus).utf8)
        session?.submitResponse(state.id, headers: ResponseHeaders.plain(httpStatus: state.httpStatus), hasBody: true)
    }

    /// Sends the handler's framed response, then `grpc-status: 0`.
    private func respondOK(_ state: GRPCStreamState) {
        releaseInflightSlot(state)
        state.phase = .responded
        state.responseOffset = 0
        state.trailers = nil
        session?.submitResponse(state.id, headers: ResponseHeaders.ok, hasBody: true)
    }

    /// Request messages of at least this many bytes leave the deframer with their receive buffer
    /// (``CallContext/ownedRequest``) instead of being read in place: the size of `MessageDeframer.reset`'s
    /// kept capacity, above which the buffer would be freed after the call anyway.
    static let handOverMinBytes = 64 << 10

    /// The request body is complete: check it holds exactly one message, decode it and run the handler.
    func finishRequest(_ state: GRPCStreamState) {
        guard let method = state.method else {
            respondError(state, RPCError(.unimplemented, "request has no :path naming a method"))
            return
        }
        if let deadline = state.deadline, clock() >= deadline {
            respondError(state, RPCError(.deadlineExceeded, "deadline exceeded before the request was handled"))
            return
        }
        guard let span = state.deframer.nextMessageSpan, span <= state.deframer.bufferedByteCount else {
            let error: RPCError =
                state.deframer.bufferedByteCount == 0
                ? RPCError(.internal, "request has no message: a unary call needs exactly one request message")
                : RPCError(
                    .internal,
                    "request body ended inside a gRPC message (\(state.deframer.bufferedByteCount) bytes of an "
                        + "incomplete message)")
            respondError(state, error)
            return
        }
        if span != state.deframer.bufferedByteCount {
            respondError(state, RPCError(.internal, "a unary call takes exactly one request message, got more"))
            return
        }
        if let inflight, inflight.count >= inflight.limit {
            inflight.limits.refusedCalls.wrappingAdd(1, ordering: .relaxed)
            respondError(
                state,
                RPCError(
                    .resourceExhausted,
                    "server overloaded: \(inflight.limit) calls already in flight on this thread; retry with backoff"))
            return
        }
        let buffered = state.deframer.bufferedByteCount
        var context = CallContext(
            metadata: state.metadata, deadline: state.deadline, peer: peer,
            clientCertificateSubject: clientCertificateSubject, completion: completionSink,
            completionToken: connectionID << 32 | UInt64(UInt32(bitPattern: state.id)), budget: budget)
        state.response.removeAll()
        let handler = method.handler
        let gzip = state.gzip
        let maxMessageBytes = configuration.maxMessageBytes
        /// Runs the handler on one message (inflated first when compressed).
        func handle(_ compressed: Bool, _ payload: UnsafeRawBufferPointer, _ context: CallContext)
            -> Result<UnaryOutcome, RPCError>
        {
            guard compressed else { return .success(handler(payload, context, &state.response)) }
            guard gzip else {
                return .failure(
                    RPCError(.internal, "message has the compressed flag set but the request has no grpc-encoding"))
            }
            var plain = context
            plain.ownedRequest = nil  // the handler sees the inflated bytes, not the buffer's
            let inflated: [UInt8]
            do throws(GzipDecoder.Failure) {
                inflated = try GzipDecoder.inflate(payload, limit: maxMessageBytes)
            } catch {
                switch error {
                case .tooLarge(let limit):
                    return .failure(
                        RPCError(
                            .resourceExhausted,
                            "decompressed request message is larger than the server's limit of \(limit) bytes"))
                case .corrupt(let reason):
                    return .failure(RPCError(.internal, "cannot decompress gzip request message: \(reason)"))
                }
            }
            return inflated.withUnsafeBytes { .success(handler($0, plain, &state.response)) }
        }
        let outcome: Result<UnaryOutcome, RPCError>
        do {
            if span >= Self.handOverMinBytes, let taken = try state.deframer.takeNextMessage() {
                // A large request: its receive buffer goes with the call, so an offloaded call keeps it instead of
                // copying megabytes on the loop (the deframer would free a buffer this large anyway).
                var owning = context
                owning.ownedRequest = OwnedRequest(storage: taken.storage, payload: taken.payload)
                outcome = taken.storage.withUnsafeBytes { all in
                    handle(taken.compressed, UnsafeRawBufferPointer(rebasing: all[taken.payload]), owning)
                }
            } else {
                outcome =
                    try state.deframer.withNextMessage { compressed, payload in handle(compressed, payload, context) }
                    ?? .failure(RPCError(.internal, "request has no message"))
            }
        } catch {
            outcome = .failure(RPCError(.internal, "invalid request framing: \(error)"))
        }
        bufferedRequestBytes -= buffered - state.deframer.bufferedByteCount
        context.completion = nil
        switch outcome {
        case .success(.ok):
            respondOK(state)
        case .success(.failure(let error)), .failure(let error):
            respondError(state, error)
        case .success(.deferred):
            state.phase = .deferred
            if let inflight {
                inflight.count += 1
                state.holdsInflightSlot = true
            }
            if let deadline = state.deadline { scheduleWakeup?(deadline) }
        }
    }

    /// Gives back the call's in-flight slot, if it holds one (answered, expired, or its stream closed).
    func releaseInflightSlot(_ state: GRPCStreamState) {
        guard state.holdsInflightSlot else { return }
        state.holdsInflightSlot = false
        inflight?.count -= 1
    }

    /// Delivers the result of a deferred call (on the connection's thread). Ignored when the stream is gone
    /// (reset by the client, or answered already because its deadline passed).
    public func completeDeferred(stream: Int32, result: Result<ResponseBuffer, RPCError>) {
        guard let state = self.stream(stream), state.phase == .deferred else { return }
        switch result {
        case .success(let response):
            state.response = response
            respondOK(state)
        case .failure(let error):
            respondError(state, error)
        }
    }

    /// Answers DEADLINE_EXCEEDED for calls whose deadline has passed (still receiving, or deferred).
    public func expireDeadlines(now: UInt64) {
        for state in streams.values {
            guard let deadline = state.deadline, deadline <= now else { continue }
            if state.phase == .receiving || state.phase == .deferred || state.phase == .streaming {
                respondError(state, RPCError(.deadlineExceeded, "deadline exceeded"))
            }
        }
    }

    /// Ends calls whose request body has been arriving for longer than `limit` nanoseconds (DEADLINE_EXCEEDED).
    public func expireStalledRequests(now: UInt64, limit: UInt64) {
        for state in streams.values where state.phase == .discarding && now &- state.receivingSince > limit {
            respondPlain(state)
        }
        for state in streams.values where state.phase == .receiving && now &- state.receivingSince > limit {
            respondError(
                state,
                RPCError(
                    .deadlineExceeded,
                    "request body not completed within \(limit / 1_000_000_000) s of its headers"))
        }
    }

    /// The earliest deadline among calls still waiting, if any.
    public var nextDeadline: UInt64? {
        var earliest: UInt64?
        for state in streams.values where state.phase == .receiving || state.phase == .deferred || state.phase == .streaming {
            if let deadline = state.deadline, deadline < (earliest ?? .max) { earliest = deadline }
        }
        return earliest
    }
}
