import GRPCCore
import HTTP2

/// Header blocks that never change, laid out once for the process (nghttp2 reads them without copying).
enum ResponseHeaders {
    /// `:status 200`, `content-type application/grpc`.
    static let ok = HTTP2HeaderBlock([(":status", "200"), ("content-type", "application/grpc")], persistent: true)
    /// `grpc-status 0`.
    static let okTrailers = HTTP2HeaderBlock([("grpc-status", "0")], persistent: true)

    /// A Trailers-Only response: HTTP status, content type and the status trailers in one HEADERS frame.
    static func trailersOnly(_ error: RPCError, httpStatus: Int = 200) -> HTTP2HeaderBlock {
        var fields: [(name: String, value: String)] = [(":status", String(httpStatus))]
        fields.append(("content-type", "application/grpc"))
        fields.append(contentsOf: StatusTrailers.fields(for: error))
        return HTTP2HeaderBlock(fields, persistent: false)
    }
}
