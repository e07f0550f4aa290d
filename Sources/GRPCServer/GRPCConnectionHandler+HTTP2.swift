import GRPCCore
public import HTTP2

#if canImport(Glibc)
    import Glibc
#endif

/// Header names compared as bytes, so a request costs no `String` for its protocol headers.
@inline(__always)
private func equals(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
    bytes.count == literal.utf8CodeUnitCount && hasPrefix(bytes, literal)
}

@inline(__always)
private func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
    let count = literal.utf8CodeUnitCount
    guard bytes.count >= count, let base = bytes.baseAddress else { return count == 0 }
    return memcmp(base, literal.utf8Start, count) == 0
}

extension GRPCConnectionHandler: HTTP2SessionDelegate {
    public func http2StreamOpened(_ stream: Int32) {
        _ = acquireStream(stream)
    }

    public func http2Header(_ stream: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool {
        withStream(stream) { header($0, name: name, value: value) } ?? true
    }

    private func header(_ state: GRPCStreamState, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool {
        state.headerBytes += name.count + value.count + 32
        if state.headerBytes > maxHeaderListBytes {
            if state.pendingError == nil || state.pendingError?.code != .resourceExhausted {
                state.pendingError = RPCError(
                    .resourceExhausted,
                    "request headers exceed the server's limit of \(configuration.http2.maxHeaderListSize) bytes")
                recordGlitch()
            }
            return true
        }
        guard state.phase == .headers else { return true }  // request trailers: nothing to keep
        guard let first = name.first else { return true }
        if first == UInt8(ascii: ":") {
            if equals(name, ":path") {
                state.sawPath = true
                switch router.route(path: value) {
                case .method(let method):
                    state.method = method
                case .streaming(let method):
                    state.streamingMethod = method
                case .unknownService(let service):
                    setPendingError(state, RPCError(.unimplemented, "unknown service '\(service)'"))
                case .unknownMethod(let service, let method):
                    setPendingError(
                        state, RPCError(.unimplemented, "unknown method '\(method)' of service '\(service)'"))
                }
            } else if equals(name, ":method") {
                if !equals(value, "POST") { state.httpStatus = 405 }
            }
            return true
        }
        if equals(name, "content-type") {
            state.sawContentType = true
            let valid =
                hasPrefix(value, "application/grpc")
                && (value.count == 16 || value[16] == UInt8(ascii: "+") || value[16] == UInt8(ascii: ";"))
            if !valid && state.httpStatus == 200 { state.httpStatus = 415 }
        } else if equals(name, "grpc-timeout") {
            if let timeout = GRPCTimeout.parse(value) {
                state.timeout = timeout
            } else {
                let text = String(decoding: value.prefix(32), as: UTF8.self)
                setPendingError(state, RPCError(.internal, "malformed grpc-timeout header '\(text)'"))
            }
        } else if equals(name, "grpc-encoding") {
            if equals(value, "gzip") {
                state.gzip = true
            } else if !equals(value, "identity") {
                let text = String(decoding: value.prefix(64), as: UTF8.self)
                setPendingError(
                    state,
                    RPCError(
                        .unimplemented, "message encoding '\(text)' is not supported (use gzip or identity)",
                        trailers: [RPCError.Trailer("grpc-accept-encoding", "gzip,identity")]))
            }
        } else if equals(name, "te") || equals(name, "user-agent") || equals(name, "grpc-accept-encoding") {
            // Consumed by the transport.
        } else {
            state.metadata.append(
                name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
        }
        return true
    }

    private func setPendingError(_ state: GRPCStreamState, _ error: RPCError) {
        if state.pendingError == nil { state.pendingError = error }
    }

    public func http2HeadersComplete(_ stream: Int32, endStream: Bool) {
        withStream(stream) { headersComplete($0, endStream: endStream) }
    }

    private func headersComplete(_ state: GRPCStreamState, endStream: Bool) {
        switch state.phase {
        case .headers:
            if let timeout = state.timeout {
                let now = clock()
                let (sum, overflow) = now.addingReportingOverflow(timeout)
                state.deadline = overflow ? UInt64.max : sum
            }
            if !state.sawContentType && state.httpStatus == 200 { state.httpStatus = 415 }
            if state.httpStatus != 200 {
                // Not gRPC: answered with a plain HTTP error once the request ends (its body is dropped), so
                // the stream follows HTTP/2's ordinary life cycle and flow control applies to the answer.
                state.phase = .discarding
                state.receivingSince = clock()
                if endStream { respondPlain(state) }
                return
            }
            if let error = state.pendingError {
                respondError(state, error)
                return
            }
            if !state.sawPath || state.method == nil {
                if let streaming = state.streamingMethod {
                    openStreaming(state, streaming, endStream: endStream)
                    return
                }
                respondError(state, RPCError(.unimplemented, "request has no :path naming a method"))
                return
            }
            state.phase = .receiving
            state.receivingSince = clock()
            if endStream {
                finishRequest(state)
            } else if let deadline = state.deadline {
                scheduleWakeup?(deadline)
            }
        case .receiving:
            // Request trailers.
            if let error = state.pendingError {
                respondError(state, error)
            } else if endStream {
                finishRequest(state)
            }
        case .discarding:
            if endStream { respondPlain(state) }
        case .streaming:
            // Request trailers of a streaming call.
            if let error = state.pendingError {
                respondError(state, error)
            } else if endStream {
                streamRequestEnded(state)
            }
        case .deferred, .responded:
            break
        }
    }

    public func http2Data(_ stream: Int32, _ bytes: UnsafeRawBufferPointer) {
        withStream(stream) { data($0, bytes) }
    }

    private func data(_ state: GRPCStreamState, _ bytes: UnsafeRawBufferPointer) {
        guard state.phase == .receiving else {
            if state.phase == .streaming { streamData(state, bytes) }
            return
        }
        if bufferedRequestBytes + bytes.count > configuration.maxBufferedRequestBytesPerConnection {
            respondError(
                state,
                RPCError(
                    .resourceExhausted,
                    "this connection is buffering more than \(configuration.maxBufferedRequestBytesPerConnection) "
                        + "request bytes; retry later or use fewer concurrent large requests"))
            return
        }
        let before = state.deframer.bufferedByteCount
        do {
            try state.deframer.append(bytes)
        } catch {
            bufferedRequestBytes += state.deframer.bufferedByteCount - before
            respondError(state, error.rpcError)
            return
        }
        bufferedRequestBytes += state.deframer.bufferedByteCount - before
    }

    public func http2DataEnded(_ stream: Int32) {
        withStream(stream) { state in
            if state.phase == .receiving {
                finishRequest(state)
            } else if state.phase == .discarding {
                respondPlain(state)
            } else if state.phase == .streaming {
                streamRequestEnded(state)
            }
        }
    }

    public func http2StreamClosed(_ stream: Int32, errorCode: UInt32) {
        // Reset or finished: no work outlives the stream (a deferred result arriving later is dropped).
        releaseStream(stream)
    }

    public func http2ReadBody(_ stream: Int32, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, end: Bool) {
        withStream(stream) { readBody($0, into: buffer) } ?? (0, true)
    }

    private func readBody(_ state: GRPCStreamState, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, end: Bool) {
        if let writer = state.writer { return streamBody(state, writer, into: buffer) }
        let remaining = state.response.bytes.count - state.responseOffset
        let count = min(remaining, buffer.count)
        if count > 0 {
            state.response.bytes.withUnsafeBytes { all in
                buffer.copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: all[state.responseOffset..<state.responseOffset + count]))
            }
            state.responseOffset += count
        }
        return (count, state.responseOffset == state.response.bytes.count)
    }

    public func http2Trailers(_ stream: Int32) -> HTTP2HeaderBlock? {
        withStream(stream) { $0.plainHTTP ? nil : ($0.trailers ?? ResponseHeaders.okTrailers) } ?? nil
    }

    public func http2SettingsReceived() {
        prefaceReceived = true
    }

    public func http2InvalidFrame(_ stream: Int32) {
        recordGlitch()
    }
}
