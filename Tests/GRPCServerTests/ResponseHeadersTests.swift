import GRPCCore
import Testing

@testable import GRPCServer
@testable import HTTP2

@Suite("ResponseHeaders")
struct ResponseHeadersTests {
    @Test func plainAnswersCarryAllowOnlyFor405() {
        #expect(ResponseHeaders.plain(httpStatus: 405).count == 3)  // :status, content-type, allow
        #expect(ResponseHeaders.plain(httpStatus: 415).count == 2)
        #expect(ResponseHeaders.ok.count == 2)
        #expect(ResponseHeaders.okTrailers.count == 1)
    }

    @Test func plainBodyExplainsWhatToSend() {
        let method = ResponseHeaders.plainBody(httpStatus: 405)
        #expect(method.hasPrefix("405 gRPC requires the POST method: this port speaks gRPC."))
        let type = ResponseHeaders.plainBody(httpStatus: 415)
        #expect(type.hasPrefix("415 unsupported content type: "))
        #expect(type.contains("content-type application/grpc") && type.hasSuffix("\n"))
    }

    @Test func trailersOnlyHoldsStatusMessageAndTrailers() {
        let bare = ResponseHeaders.trailersOnly(RPCError(.unavailable, ""))
        #expect(bare.count == 3)  // :status, content-type, grpc-status
        let full = ResponseHeaders.trailersOnly(
            RPCError(.resourceExhausted, "slow down", trailers: [RPCError.Trailer("Retry-After-Ms", "250")]),
            httpStatus: 200)
        #expect(full.count == 5)
        #expect(full.count == 2 + StatusTrailers.fields(for: RPCError(
            .resourceExhausted, "slow down", trailers: [RPCError.Trailer("Retry-After-Ms", "250")])).count)
    }
}
