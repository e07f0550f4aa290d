internal import CNGHTTP2

/// One client-side HTTP/2 connection on libnghttp2, sans-IO: requests in through ``submitRequest(headers:body:)``,
/// bytes to send out through ``pendingOutput()``, received bytes in through ``receive(_:)``, and each stream's
/// response collected until it closes. For small blocking clients (the `sluice rollout` command), not for
/// serving: bodies are held in memory whole. Not thread-safe.
public final class HTTP2ClientSession {
    /// What a stream received.
    public struct Response: Sendable {
        /// The response header fields (`:status` included).
        public var headers: [(name: String, value: String)] = []
        /// Trailer fields (gRPC puts `grpc-status` here).
        public var trailers: [(name: String, value: String)] = []
        public var body: [UInt8] = []
        /// The stream is closed: the response is complete (or the stream was reset).
        public var closed = false
        /// The HTTP/2 error code the stream closed with (0: normally).
        public var errorCode: UInt32 = 0
        /// Whether the headers block of the response was seen (later header blocks are trailers).
        var headersDone = false

        public init() {}
    }

    private var session: OpaquePointer?
    private var responses: [Int32: Response] = [:]
    /// Request bodies still to send, and how much of each was sent.
    private var bodies: [Int32: (bytes: [UInt8], sent: Int)] = [:]

    /// Creates a client session and queues the connection preface's SETTINGS.
    public init() throws(HTTP2Error) {
        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else {
            throw HTTP2Error(code: Int(NGHTTP2_ERR_NOMEM.rawValue))
        }
        defer { nghttp2_session_callbacks_del(callbacks) }
        Self.install(callbacks)
        var created: OpaquePointer?
        let rc = nghttp2_session_client_new(&created, callbacks, Unmanaged.passUnretained(self).toOpaque())
        guard rc == 0, let created else { throw HTTP2Error(code: Int(rc)) }
        session = created
        let submitted = nghttp2_submit_settings(created, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil, 0)
        guard submitted == 0 else { throw HTTP2Error(code: Int(submitted)) }
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    /// Submits a request with `headers` (pseudo-headers first, names lower-case) and `body` (sent whole, then
    /// END_STREAM); returns its stream id.
    public func submitRequest(headers: [(name: String, value: String)], body: [UInt8]) throws(HTTP2Error) -> Int32 {
        guard let session else { throw HTTP2Error(code: Int(NGHTTP2_ERR_INVALID_STATE.rawValue)) }
        let block = HTTP2HeaderBlock(headers, persistent: false)
        var provider = nghttp2_data_provider()
        provider.read_callback = { _, stream, buffer, length, flags, _, userData in
            guard let userData, let buffer, let flags else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
            let this = Unmanaged<HTTP2ClientSession>.fromOpaque(userData).takeUnretainedValue()
            guard var pending = this.bodies[stream] else {
                flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
                return 0
            }
            let count = min(length, pending.bytes.count - pending.sent)
            pending.bytes.withUnsafeBytes { raw in
                if count > 0 {
                    buffer.update(
                        from: raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + pending.sent, count: count)
                }
            }
            pending.sent += count
            if pending.sent >= pending.bytes.count {
                flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
                this.bodies[stream] = nil
            } else {
                this.bodies[stream] = pending
            }
            return count
        }
        let stream = nghttp2_submit_request(session, nil, block.fields, block.count, &provider, nil)
        guard stream > 0 else { throw HTTP2Error(code: Int(stream)) }
        bodies[stream] = (body, 0)
        responses[stream] = Response()
        return stream
    }

    /// Feeds received bytes. Throws on a protocol error (the connection is then unusable).
    public func receive(_ bytes: UnsafeRawBufferPointer) throws(HTTP2Error) {
        guard let session, let base = bytes.baseAddress, bytes.count > 0 else { return }
        let consumed = nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        if consumed < 0 { throw HTTP2Error(code: consumed) }
    }

    /// The frames waiting to be sent, serialized (empty when none).
    public func pendingOutput() throws(HTTP2Error) -> [UInt8] {
        guard let session else { return [] }
        var out: [UInt8] = []
        while true {
            var data: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &data)
            if count < 0 { throw HTTP2Error(code: count) }
            guard count > 0, let data else { return out }
            out.append(contentsOf: UnsafeBufferPointer(start: data, count: count))
        }
    }

    /// What stream `stream` received so far.
    public func response(_ stream: Int32) -> Response? { responses[stream] }

    /// Whether the session still expects frames (false after GOAWAY both ways or a fatal error).
    public var wantsRead: Bool { session.map { nghttp2_session_want_read($0) != 0 } ?? false }

    /// A GOAWAY to end the connection politely.
    public func submitGoaway() {
        guard let session else { return }
        _ = nghttp2_session_terminate_session(session, 0)
    }

    // MARK: - Callbacks

    private static func with(_ userData: UnsafeMutableRawPointer) -> HTTP2ClientSession {
        Unmanaged<HTTP2ClientSession>.fromOpaque(userData).takeUnretainedValue()
    }

    private static func install(_ callbacks: OpaquePointer) {
        nghttp2_session_callbacks_set_on_header_callback(callbacks) {
            _, frame, name, nameLength, value, valueLength, _, userData in
            guard let frame, let userData, let name, let value else { return 0 }
            let this = HTTP2ClientSession.with(userData)
            let stream = frame.pointee.hd.stream_id
            guard var response = this.responses[stream] else { return 0 }
            let field = (
                String(decoding: UnsafeRawBufferPointer(start: name, count: nameLength), as: UTF8.self),
                String(decoding: UnsafeRawBufferPointer(start: value, count: valueLength), as: UTF8.self)
            )
            if response.headersDone { response.trailers.append(field) } else { response.headers.append(field) }
            this.responses[stream] = response
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            guard let frame, let userData else { return 0 }
            if frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) {
                let this = HTTP2ClientSession.with(userData)
                this.responses[frame.pointee.hd.stream_id]?.headersDone = true
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) {
            _, _, stream, data, length, userData in
            guard let userData, let data else { return 0 }
            HTTP2ClientSession.with(userData).responses[stream]?.body.append(
                contentsOf: UnsafeBufferPointer(start: data, count: length))
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, stream, errorCode, userData in
            guard let userData else { return 0 }
            let this = HTTP2ClientSession.with(userData)
            this.responses[stream]?.closed = true
            this.responses[stream]?.errorCode = errorCode
            this.bodies[stream] = nil
            return 0
        }
    }
}
