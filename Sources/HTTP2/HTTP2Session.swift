internal import CNGHTTP2
public import NetCore

/// One server-side HTTP/2 connection on libnghttp2, sans-IO: bytes in through ``receive(_:)``, decoded
/// events out through the ``HTTP2SessionDelegate``, and bytes to send out through ``send(into:highWater:)``.
///
/// The delegate owns the session, and the session holds its delegate strongly too, so that callbacks borrow
/// the delegate without reference counting (a stored `let` of a borrowed object needs no retain; an unowned one
/// does, twice per callback). The owner breaks this cycle by dropping the session when the connection ends.
/// Not thread-safe: a session lives on its connection's event loop.
public final class HTTP2Session {
    /// The `nghttp2_session *`; nil only if creation failed.
    private var session: OpaquePointer?
    /// Strong (see above): the delegate drops this session when its connection ends.
    private let delegate: any HTTP2SessionDelegate

    /// Creates a server session and queues the initial SETTINGS frame.
    public init(delegate: any HTTP2SessionDelegate, settings: HTTP2Settings) throws(HTTP2Error) {
        self.delegate = delegate
        self.session = nil
        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else {
            throw HTTP2Error(code: Int(NGHTTP2_ERR_NOMEM.rawValue))
        }
        defer { nghttp2_session_callbacks_del(callbacks) }
        Self.install(callbacks)

        var option: OpaquePointer?
        guard nghttp2_option_new(&option) == 0, let option else {
            throw HTTP2Error(code: Int(NGHTTP2_ERR_NOMEM.rawValue))
        }
        defer { nghttp2_option_del(option) }
        nghttp2_option_set_stream_reset_rate_limit(option, settings.resetBurst, settings.resetRate)
        nghttp2_option_set_max_continuations(option, settings.maxContinuations)
        nghttp2_option_set_max_outbound_ack(option, settings.maxOutboundAcks)
        nghttp2_option_set_max_settings(option, 32)

        var created: OpaquePointer?
        let rc = nghttp2_session_server_new2(&created, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
        guard rc == 0, let created else { throw HTTP2Error(code: Int(rc)) }
        session = created

        var entries = [
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                value: settings.maxConcurrentStreams),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: settings.maxHeaderListSize),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                value: settings.initialStreamWindow),
        ]
        let submitted = nghttp2_submit_settings(created, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count)
        guard submitted == 0 else { throw HTTP2Error(code: Int(submitted)) }
        if settings.connectionWindow > 65535 {
            _ = nghttp2_session_set_local_window_size(
                created, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, settings.connectionWindow)
        }
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    // MARK: - Bytes in, bytes out

    /// Feeds received bytes. Throws when the connection must close (protocol error, flood, bad preface).
    public func receive(_ bytes: UnsafeRawBufferPointer) throws(HTTP2Error) {
        guard let session, let base = bytes.baseAddress, bytes.count > 0 else { return }
        let consumed = nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        if consumed < 0 { throw HTTP2Error(code: consumed) }
    }

    /// Serializes pending frames into `queue` until nothing is pending or `queue` holds `highWater` bytes.
    public func send(into queue: inout ByteQueue, highWater: Int) throws(HTTP2Error) {
        guard let session else { return }
        while queue.count < highWater {
            var data: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &data)
            if count < 0 { throw HTTP2Error(code: count) }
            guard count > 0, let data else { return }
            queue.append(UnsafeRawPointer(data), count: count)
        }
    }

    /// Whether the session still wants to read (false after GOAWAY both ways, or a fatal error).
    public var wantsRead: Bool { session.map { nghttp2_session_want_read($0) != 0 } ?? false }
    /// Whether frames are pending.
    public var wantsWrite: Bool { session.map { nghttp2_session_want_write($0) != 0 } ?? false }

    // MARK: - Responses

    /// Submits response headers; with `hasBody` the body is pulled through ``HTTP2SessionDelegate/http2ReadBody``
    /// and then ``HTTP2SessionDelegate/http2Trailers`` are sent. Without a body the HEADERS frame ends the stream
    /// (a gRPC Trailers-Only response).
    @discardableResult
    public func submitResponse(_ stream: Int32, headers: HTTP2HeaderBlock, hasBody: Bool) -> Bool {
        guard let session else { return false }
        if hasBody {
            var provider = nghttp2_data_provider()
            provider.read_callback = { session, stream, buffer, length, flags, _, userData in
                guard let userData, let buffer, let flags else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
                return HTTP2Session.with(userData) { this -> Int in
                    let (count, end) = this.delegate.http2ReadBody(
                        stream, into: UnsafeMutableRawBufferPointer(start: buffer, count: length))
                    guard end else {
                        // Nothing to send yet (a streaming call waiting for its producer): park the stream until
                        // ``resumeData(_:)``.
                        return count == 0 ? Int(NGHTTP2_ERR_DEFERRED.rawValue) : count
                    }
                    if let trailers = this.delegate.http2Trailers(stream) {
                        flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue | NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
                        let rc = nghttp2_submit_trailer(session, stream, trailers.fields, trailers.count)
                        if rc != 0 { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
                    } else {
                        flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
                    }
                    return count
                }
            }
            return nghttp2_submit_response(session, stream, headers.fields, headers.count, &provider) == 0
        }
        return nghttp2_submit_response(session, stream, headers.fields, headers.count, nil) == 0
    }

    /// Wakes a stream whose body read was deferred (``HTTP2SessionDelegate/http2ReadBody`` returned 0 bytes and
    /// not the end): its body is read again on the next ``send(into:highWater:)``. Harmless for other streams.
    public func resumeData(_ stream: Int32) {
        guard let session else { return }
        _ = nghttp2_session_resume_data(session, stream)
    }

    /// Resets a stream (RST_STREAM with the HTTP/2 error code, e.g. 0x8 CANCEL, 0x7 REFUSED_STREAM).
    public func resetStream(_ stream: Int32, errorCode: UInt32) {
        guard let session else { return }
        _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream, errorCode)
    }

    // MARK: - Shutdown

    /// The first step of a graceful shutdown: a GOAWAY with the maximum stream id, so the client stops
    /// opening streams while those in flight continue.
    public func submitShutdownNotice() {
        guard let session else { return }
        _ = nghttp2_submit_shutdown_notice(session)
    }

    /// The final GOAWAY naming the last stream processed; `errorCode` 0 for a graceful close.
    public func submitGoaway(errorCode: UInt32) {
        guard let session else { return }
        let last = nghttp2_session_get_last_proc_stream_id(session)
        _ = nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), last, errorCode, nil, 0)
    }

    /// HTTP/2 error codes the server sends.
    public enum ErrorCode {
        public static let noError: UInt32 = 0x0
        public static let protocolError: UInt32 = 0x1
        public static let internalError: UInt32 = 0x2
        public static let refusedStream: UInt32 = 0x7
        public static let cancel: UInt32 = 0x8
        public static let enhanceYourCalm: UInt32 = 0xb
    }

    // MARK: - Callbacks

    /// Runs `body` with the session behind a callback's `user_data`. The session outlives every callback (they
    /// run inside its own `receive`/`send`), so it is lent without a retain.
    @inline(__always)
    static func with<R>(_ userData: UnsafeMutableRawPointer, _ body: (HTTP2Session) -> R) -> R {
        Unmanaged<HTTP2Session>.fromOpaque(userData)._withUnsafeGuaranteedRef(body)
    }

    /// Installs the trampolines; none captures anything: each gets the session back from `user_data`.
    private static func install(_ callbacks: OpaquePointer) {
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, userData in
            guard let frame, let userData else { return 0 }
            if frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue),
                frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST
            {
                HTTP2Session.with(userData) { $0.delegate.http2StreamOpened(frame.pointee.hd.stream_id) }
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) {
            _, frame, name, nameLength, value, valueLength, _, userData in
            guard let frame, let userData else { return 0 }
            let accepted = HTTP2Session.with(userData) {
                $0.delegate.http2Header(
                    frame.pointee.hd.stream_id,
                    name: UnsafeRawBufferPointer(start: name, count: nameLength),
                    value: UnsafeRawBufferPointer(start: value, count: valueLength))
            }
            return accepted ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            guard let frame, let userData else { return 0 }
            let endStream = frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
            HTTP2Session.with(userData) { this in
                switch frame.pointee.hd.type {
                case UInt8(NGHTTP2_HEADERS.rawValue):
                    this.delegate.http2HeadersComplete(frame.pointee.hd.stream_id, endStream: endStream)
                case UInt8(NGHTTP2_DATA.rawValue):
                    if endStream { this.delegate.http2DataEnded(frame.pointee.hd.stream_id) }
                case UInt8(NGHTTP2_SETTINGS.rawValue):
                    if frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 {
                        this.delegate.http2SettingsReceived()
                    }
                default:
                    break
                }
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) {
            _, _, stream, data, length, userData in
            guard let userData else { return 0 }
            HTTP2Session.with(userData) {
                $0.delegate.http2Data(stream, UnsafeRawBufferPointer(start: data, count: length))
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, stream, errorCode, userData in
            guard let userData else { return 0 }
            HTTP2Session.with(userData) { $0.delegate.http2StreamClosed(stream, errorCode: errorCode) }
            return 0
        }
        nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks) { _, frame, _, userData in
            guard let frame, let userData else { return 0 }
            HTTP2Session.with(userData) { $0.delegate.http2InvalidFrame(frame.pointee.hd.stream_id) }
            return 0
        }
    }
}
