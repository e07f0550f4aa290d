import GRPCCore
import HTTP2

/// Header blocks that never change, laid out once for the process (nghttp2 reads them without copying).
enum ResponseHeaders {
    /// `:status 200`, `content-type application/grpc`.
    static let ok = HTTP2HeaderBlock([(":status", "200"), ("content-type", "application/grpc")], persistent: true)
    /// `grpc-status 0`.
    static let okTrailers = HTTP2HeaderBlock([("grpc-status", "0")], persistent: true)

    /// The headers of a plain HTTP answer to a request that is not gRPC (405 or 415), with a text body.
    static func plain(httpStatus: Int) -> HTTP2HeaderBlock {
        var fields: [(name: String, value: String)] = [
            (":status", String(httpStatus)), ("content-type", "text/plain; charset=utf-8"),
        ]
        if httpStatus == 405 { fields.append(("allow", "POST")) }
        return HTTP2HeaderBlock(fields, persistent: false)
    }

    /// The text body of a plain HTTP answer: what to send instead.
    static func plainBody(httpStatus: Int) -> String {
        let what = httpStatus == 405 ? "gRPC requires the POST method" : "unsupported content type"
        return "\(httpStatus) \(what): this port speaks gRPC. Send POST with content-type application/grpc "
            + "(or application/grpc+proto) and te: trailers, using a gRPC client; see README.md, \"Calling it\".\n"
    }

    /// A Trailers-Only response: HTTP status, content type and the status trailers in one HEADERS frame.
    static func trailersOnly(_ error: RPCError, httpStatus: Int = 200) -> HTTP2HeaderBlock {
        var fields: [(name: String, value: String)] = [(":status", String(httpStatus))]
        fields.append(("content-type", "application/grpc"))
        fields.append(contentsOf: StatusTrailers.fields(for: error))
        return HTTP2HeaderBlock(fields, persistent: false)
    }
}
