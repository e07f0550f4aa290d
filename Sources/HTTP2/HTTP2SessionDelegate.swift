/// Receives what an ``HTTP2Session`` decodes. All calls happen inside ``HTTP2Session/receive(_:)`` or
/// ``HTTP2Session/send(into:highWater:)`` on the connection's thread.
///
/// Names and values are lent as raw bytes, valid only during the call: nothing is turned into a `String`
/// unless the delegate does so.
public protocol HTTP2SessionDelegate: AnyObject {
    /// A request's HEADERS frame starts on a new stream.
    func http2StreamOpened(_ stream: Int32)
    /// One header field of a request (or of its trailers). Return `false` to reset the stream.
    func http2Header(_ stream: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool
    /// A HEADERS frame (request headers or trailers) is complete.
    func http2HeadersComplete(_ stream: Int32, endStream: Bool)
    /// Request body bytes.
    func http2Data(_ stream: Int32, _ bytes: UnsafeRawBufferPointer)
    /// A DATA frame with END_STREAM arrived (the request body is complete).
    func http2DataEnded(_ stream: Int32)
    /// The stream is gone (answered, reset by either side, or the connection is closing). `errorCode` is the
    /// HTTP/2 error code (0 when it closed normally).
    func http2StreamClosed(_ stream: Int32, errorCode: UInt32)
    /// Fills `buffer` with response body bytes; returns the count and whether the body is complete. Returning
    /// `(0, false)` defers the stream (nothing to send yet) until ``HTTP2Session/resumeData(_:)``.
    func http2ReadBody(_ stream: Int32, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, end: Bool)
    /// The trailers to send after the body, if any (asked once, right after the body ended).
    func http2Trailers(_ stream: Int32) -> HTTP2HeaderBlock?
    /// The peer sent a frame that violates the protocol but does not end the connection (counted as a glitch).
    func http2InvalidFrame(_ stream: Int32)
    /// A SETTINGS frame (not an acknowledgement) arrived: after the first, the client's preface is complete.
    func http2SettingsReceived()
}

extension HTTP2SessionDelegate {
    public func http2SettingsReceived() {}
}
