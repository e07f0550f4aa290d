import GRPCCore
import HTTP2

/// Per-stream state of one unary call. Pooled per connection: ``reset()`` keeps buffers' capacity.
final class GRPCStreamState {
    enum Phase {
        /// Headers are arriving.
        case headers
        /// Headers done; request body arriving.
        case receiving
        /// The handler deferred; waiting for its promise.
        case deferred
        /// A response has been submitted (or the stream is being discarded).
        case responded
    }

    var id: Int32 = 0
    var phase = Phase.headers
    var method: UnaryMethod?
    /// An error decided while reading headers (answered once they are complete).
    var pendingError: RPCError?
    /// A non-200 HTTP status decided while reading headers (415 for a wrong content type, 405 for not POST).
    var httpStatus = 200
    var sawPath = false
    var sawContentType = false
    var gzip = false
    var headerBytes = 0
    /// Relative timeout from `grpc-timeout`, nanoseconds.
    var timeout: UInt64?
    /// Absolute deadline (monotonic ns), set when the headers are complete.
    var deadline: UInt64?
    var metadata = Metadata()
    var deframer: MessageDeframer
    var response = ResponseBuffer()
    var responseOffset = 0
    var trailers: HTTP2HeaderBlock?

    init(maxMessageBytes: Int) { deframer = MessageDeframer(maxMessageBytes: maxMessageBytes) }

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
        response.removeAll()
        responseOffset = 0
        trailers = nil
    }
}
