import GRPCCore
import HTTP2

/// Per-stream state of one unary call. Pooled per connection: ``reset()`` keeps buffers' capacity.
///
/// Properties opt out of dynamic exclusivity checks: a stream state is touched only on its connection's loop
/// thread and never passed `inout` across a call that could reach it again (the checks cost ~6% of CPU).
final class GRPCStreamState {
    /// Where the stream is in its life; decides what each arriving frame means.
    enum Phase {
        /// Headers are arriving.
        case headers
        /// Headers done; request body arriving.
        case receiving
        /// A non-gRPC request (wrong method or content type): its body is dropped, and it is answered with a plain
        /// HTTP error and a text body once it ends.
        case discarding
        /// The handler deferred; waiting for its promise.
        case deferred
        /// A response has been submitted (or the stream is being discarded).
        case responded
        /// A streaming call is open: response headers sent, request messages delivered as they arrive,
        /// responses pulled from its ``ServerStreamWriter``.
        case streaming
    }

    /// The HTTP/2 stream id; 0 while the state sits in the pool.
    /// The unary method the `:path` named; nil until `:path` is seen, or for streaming and unknown methods.
    /// Where the stream is in its life; starts at `.headers` after every reset.
    @exclusivity(unchecked) var id: Int32 = 0
    @exclusivity(unchecked) var phase = Phase.headers
    @exclusivity(unchecked) var method: UnaryMethod?
    /// An error decided while reading headers (answered once they are complete).
    @exclusivity(unchecked) var pendingError: RPCError?
    /// A non-200 HTTP status decided while reading headers (415 for a wrong content type, 405 for not POST).
    /// Running size of the request headers as HTTP/2 counts it (name + value + 32 per field), checked against
    /// Whether a `:path` header arrived (a request without one is refused once the headers end).
    /// the header-list limit.
    /// Whether a `content-type` header arrived.
    /// The request declared `grpc-encoding: gzip`, so compressed-flagged messages are inflated.
    @exclusivity(unchecked) var httpStatus = 200
    @exclusivity(unchecked) var sawPath = false
    @exclusivity(unchecked) var sawContentType = false
    @exclusivity(unchecked) var gzip = false
    @exclusivity(unchecked) var headerBytes = 0
    /// Relative timeout from `grpc-timeout`, nanoseconds.
    @exclusivity(unchecked) var timeout: UInt64?
    /// Absolute deadline (monotonic ns), set when the headers are complete.
    @exclusivity(unchecked) var deadline: UInt64?
    /// When the request headers were complete (monotonic ns), for the request-body timeout.
    /// The trailers to send after the body (`grpc-status` and friends); nil until the response is decided.
    /// The request metadata collected from the headers, passed to the handler.
    /// How many bytes of `response` nghttp2 has already pulled as DATA.
    /// Splits the request body into length-prefixed gRPC messages, refusing any above `maxMessageBytes`.
    /// The encoded response body; up to 64 KiB of capacity is kept across pooled reuses.
    @exclusivity(unchecked) var receivingSince: UInt64 = 0
    @exclusivity(unchecked) var metadata = Metadata()
    @exclusivity(unchecked) var deframer: MessageDeframer
    @exclusivity(unchecked) var response = ResponseBuffer()
    @exclusivity(unchecked) var responseOffset = 0
    @exclusivity(unchecked) var trailers: HTTP2HeaderBlock?
    /// The response is plain HTTP (a text body and no gRPC trailers).
    @exclusivity(unchecked) var plainHTTP = false
    /// The call is deferred and counted in its loop's in-flight calls.
    @exclusivity(unchecked) var holdsInflightSlot = false
    /// The streaming method the `:path` named (nil for unary calls).
    @exclusivity(unchecked) var streamingMethod: StreamingMethod?
    /// The open streaming call and its writer (nil for unary calls).
    /// Buffers the streaming call's responses until nghttp2 pulls them (nil for unary calls).
    @exclusivity(unchecked) var call: (any StreamingCall)?
    @exclusivity(unchecked) var writer: ServerStreamWriter?
    /// The per-connection cap this call is counted against, if any.
    @exclusivity(unchecked) var countedLimit: StreamingCallLimit?
    /// Request messages delivered to the streaming call so far.
    @exclusivity(unchecked) var requestMessages = 0

    /// A fresh state for the pool; `maxMessageBytes` is the largest request message accepted, in bytes.
    init(maxMessageBytes: Int) { deframer = MessageDeframer(maxMessageBytes: maxMessageBytes) }

    /// Readies the state for stream `id` (or, with 0, for the pool): clears every field and drops references
    /// and oversized buffers so a pooled state pins no memory.
    func reset(id: Int32) {
        self.id = id
        phase = .headers
        method = nil
        pendingError = nil
        httpStatus = 200
        sawPath = false
        sawContentType = false
        gzip = false
        headerBytes = 0
        timeout = nil
        deadline = nil
        if !metadata.isEmpty { metadata.removeAll() }
        deframer.reset()
        if response.bytes.capacity > 64 << 10 { response = ResponseBuffer() } else { response.removeAll() }
        responseOffset = 0
        trailers = nil
        plainHTTP = false
        holdsInflightSlot = false
        if streamingMethod != nil {
            streamingMethod = nil
            call = nil
            writer = nil
            countedLimit = nil
            requestMessages = 0
        }
    }
}
