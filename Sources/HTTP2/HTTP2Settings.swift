/// Limits the server announces and enforces on each HTTP/2 connection.
public struct HTTP2Settings: Sendable, Equatable {
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` (the library default is unlimited).
    public var maxConcurrentStreams: UInt32 = 100
    /// `SETTINGS_MAX_HEADER_LIST_SIZE`, advertised; the gRPC layer enforces it (nghttp2 1.52 does not).
    public var maxHeaderListSize: UInt32 = 8192
    /// `SETTINGS_INITIAL_WINDOW_SIZE` for each stream.
    public var initialStreamWindow: UInt32 = 1 << 16
    /// Receive window of the whole connection.
    public var connectionWindow: Int32 = 1 << 20
    /// Rapid-reset protection (CVE-2023-44487): a burst of this many RST_STREAMs, then `resetRate` per second;
    /// past that nghttp2 sends GOAWAY.
    public var resetBurst: UInt64 = 1000
    public var resetRate: UInt64 = 33
    /// CONTINUATION frames allowed per header block (CVE-2024-28182).
    public var maxContinuations: Int = 8
    /// Queued SETTINGS/PING acknowledgements before the connection counts as flooding.
    public var maxOutboundAcks: Int = 1000

    public init() {}
}
