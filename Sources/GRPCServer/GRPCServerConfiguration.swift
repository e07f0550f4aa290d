public import HTTP2
public import TLS

/// Everything the transport needs to listen and serve; built by the composition root.
public struct GRPCServerConfiguration: Sendable {
    /// Numeric IPv4 or IPv6 address to bind.
    public var host: String = "127.0.0.1"
    /// TCP port; 0 picks a free one (see ``GRPCServer/port``).
    public var port: Int = 50051
    /// Event-loop threads, each with its own epoll and SO_REUSEPORT listener.
    public var threads: Int = 1
    /// TLS context; `nil` serves cleartext HTTP/2 (prior knowledge).
    public var tls: TLSContext?
    /// Largest request message accepted (after decompression); larger ones get RESOURCE_EXHAUSTED.
    public var maxMessageBytes: Int = 4 << 20
    /// Request bytes one connection may buffer across all its streams.
    public var maxBufferedRequestBytesPerConnection: Int = 16 << 20
    /// HTTP/2 settings and flood limits.
    public var http2 = HTTP2Settings()
    /// Protocol violations tolerated per connection before it is closed with GOAWAY(ENHANCE_YOUR_CALM).
    public var maxGlitchesPerConnection: Int = 1000
    /// Output bytes queued per connection before the server stops reading from it (slow-reader backpressure).
    public var outputHighWater: Int = 1 << 20
    /// Bytes one connection may read, and bytes it may produce and write, per loop wake-up (each; at least one
    /// 64 KiB read or one frame). Past it the loop serves the other ready connections first and level-triggered
    /// epoll brings this one back on the next iteration, so a multi-megabyte request or reply on one connection
    /// costs the others at most about this much work (~0.1-0.2 ms) between their turns.
    public var ioBudgetPerWakeup: Int = 256 << 10
    /// Seconds a connection may sit with no open stream before it is closed (GOAWAY).
    public var idleTimeoutSeconds: Double = 300
    /// Seconds allowed to complete the TLS handshake and HTTP/2 preface.
    public var handshakeTimeoutSeconds: Double = 10
    /// Seconds a request may take from its headers to the end of its body (a stalled upload holds a stream
    /// slot and buffers); past it the call ends with DEADLINE_EXCEEDED. Checked once a second.
    public var requestBodyTimeoutSeconds: Double = 60
    /// Open connections the whole server accepts (all loops together). A connection over the cap is refused at
    /// once: a cleartext one gets GOAWAY(ENHANCE_YOUR_CALM) and is closed, a TLS one is closed before its
    /// handshake. Nothing waits in a queue.
    public var maxConnections: Int = 10_000
    /// Calls one event loop keeps in flight off its thread (deferred: batched, or run on a worker). A call past
    /// the cap is answered RESOURCE_EXHAUSTED before its handler runs.
    public var maxInflightCallsPerLoop: Int = 4096
    /// Calls answered UNAUTHENTICATED on one connection before it gets GOAWAY(ENHANCE_YOUR_CALM).
    public var maxAuthenticationFailuresPerConnection: Int = 100
    /// First-sight signature checks (credentials no thread has verified yet) one connection may cause per
    /// second, with a burst of the same size; past it such calls get RESOURCE_EXHAUSTED (see ``ConnectionBudget``).
    public var maxSignatureChecksPerSecondPerConnection: Int = 100

    public init() {}
}

extension GRPCServerConfiguration {
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` (shortcut for `http2.maxConcurrentStreams`).
    public var maxConcurrentStreams: UInt32 {
        get { http2.maxConcurrentStreams }
        set { http2.maxConcurrentStreams = newValue }
    }

    /// Request header list limit in bytes (shortcut for `http2.maxHeaderListSize`).
    public var maxHeaderListSize: UInt32 {
        get { http2.maxHeaderListSize }
        set { http2.maxHeaderListSize = newValue }
    }

    /// Whether TLS is configured.
    public var usesTLS: Bool { tls != nil }

    /// Loads a certificate and key and turns TLS on. `modernOnly` limits it to TLS 1.3; `clientCAPath` requires
    /// client certificates signed by that CA. Throws a message naming the file and the problem.
    public mutating func enableTLS(
        certificatePath: String, keyPath: String, modernOnly: Bool = false, clientCAPath: String? = nil
    ) throws(TLSError) {
        tls = try TLSContext(
            certificatePath: certificatePath, keyPath: keyPath, profile: modernOnly ? .modern : .intermediate,
            clientCAPath: clientCAPath)
    }
}
