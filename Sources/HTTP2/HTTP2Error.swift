internal import CNGHTTP2

/// A connection-level HTTP/2 failure: the connection must be closed.
public struct HTTP2Error: Error, CustomStringConvertible, Sendable {
    /// nghttp2's error code.
    public let code: Int32
    /// nghttp2's description of the code.
    public let reason: String

    init(code: Int) {
        self.code = Int32(truncatingIfNeeded: code)
        self.reason = String(cString: nghttp2_strerror(Int32(truncatingIfNeeded: code)))
    }

    /// The peer flooded the connection with frames that need answers (SETTINGS/PING) or headers.
    public var isFlood: Bool { code == NGHTTP2_ERR_FLOODED.rawValue }

    public var description: String { "HTTP/2 error \(code): \(reason)" }
}
