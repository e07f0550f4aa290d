import GRPCCore
import SluiceProto
import Testing
import TestSupport

@Suite("Health messages")
struct HealthMessagesTests {
    @Test(arguments: [
        HealthCheckResponse.ServingStatus.unknown, .serving, .notServing, .serviceUnknown,
    ])
    func responseRoundTrips(status: HealthCheckResponse.ServingStatus) {
        var buffer = ResponseBuffer()
        HealthCheckResponse(status: status).encode(into: &buffer)
        #expect(Int(buffer.bytes[4]) == buffer.bytes.count - 5)
        let decoded = Array(buffer.bytes.dropFirst(5)).withUnsafeBytes { HealthCheckResponse(decoding: $0) }
        #expect(decoded == HealthCheckResponse(status: status))
    }

    @Test func requestDecodesServiceName() {
        var writer = ProtoWriter()
        writer.string(1, "sluice.v1.Inference")
        let request = writer.bytes.withUnsafeBytes { HealthCheckRequest(decoding: $0) }
        #expect(request == HealthCheckRequest(service: "sluice.v1.Inference"))
        let empty = [UInt8]().withUnsafeBytes { HealthCheckRequest(decoding: $0) }
        #expect(empty == HealthCheckRequest(service: ""))
    }

    @Test func garbageIsNil() {
        let garbage: [UInt8] = [0x0A, 0xFF, 0xFF, 0xFF, 0x0F]
        #expect(garbage.withUnsafeBytes { HealthCheckRequest(decoding: $0) } == nil)
        #expect(garbage.withUnsafeBytes { HealthCheckResponse(decoding: $0) } == nil)
    }
}
