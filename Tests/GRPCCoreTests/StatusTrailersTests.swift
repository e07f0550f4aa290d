import GRPCCore
import Testing

@Suite("StatusTrailers")
struct StatusTrailersTests {
    @Test func statusMessageAndExtras() {
        let error = RPCError(
            .unimplemented, "encoding 'br' 100%", trailers: [RPCError.Trailer("Grpc-Accept-Encoding", "gzip,identity")])
        let fields = StatusTrailers.fields(for: error)
        #expect(fields.map(\.name) == ["grpc-status", "grpc-message", "grpc-accept-encoding"])
        #expect(fields.map(\.value) == ["12", "encoding 'br' 100%25", "gzip,identity"])
    }

    @Test func noMessageNoMessageTrailer() {
        let fields = StatusTrailers.fields(for: RPCError(.internal, ""))
        #expect(fields.map(\.name) == ["grpc-status"])
        #expect(fields[0].value == "13")
    }

    @Test func longMessagesAreClamped() {
        let long = String(repeating: "é", count: 2000)
        let clamped = StatusTrailers.clamp(long)
        #expect(clamped.utf8.count <= StatusTrailers.maxMessageBytes)
        #expect(clamped.hasSuffix("..."))
        #expect(StatusTrailers.clamp("short") == "short")
    }

    @Test func parsesStatusValues() {
        #expect(StatusTrailers.status(from: "0") == .ok)
        #expect(StatusTrailers.status(from: "16") == .unauthenticated)
        #expect(StatusTrailers.status(from: "17") == nil)
        #expect(StatusTrailers.status(from: "x") == nil)
        #expect(StatusCode.resourceExhausted.description == "RESOURCE_EXHAUSTED")
    }
}
