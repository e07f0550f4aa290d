import GRPCCore
import SluiceProto
import Testing
import TestSupport

@Suite("protobuf-c codecs")
struct MessageCodecTests {
    @Test func decodesPredictRequestWithoutCopies() throws {
        var writer = ProtoWriter()
        writer.string(1, "churn")
        writer.string(2, "@champion")
        writer.string(3, "customer-42")
        writer.message(4) { entry in
            entry.string(1, "age")
            entry.message(2) { $0.double(1, 61.5) }
        }
        writer.message(4) { entry in
            entry.string(1, "plan")
            entry.message(2) { $0.string(2, "gold") }
        }
        writer.packedFloats(5, [1, 2, 3])
        let result = try writer.bytes.withUnsafeBytes { bytes in
            try PredictRequestView.decode(bytes) { view -> (String, String, String, Int, String, Double?, String?, [Float]) in
                let number: Double?
                if case .number(let value) = view.featureValue(at: 0) { number = value } else { number = nil }
                let text: String?
                if case .text(let bytes) = view.featureValue(at: 1) { text = String(decoding: bytes, as: UTF8.self) } else { text = nil }
                return (String(decoding: view.model, as: UTF8.self), String(decoding: view.version, as: UTF8.self),
                        String(decoding: view.routingKey, as: UTF8.self), view.featureCount,
                        String(decoding: view.featureName(at: 0), as: UTF8.self), number, text, Array(view.dense))
            }
        }
        #expect(result.0 == "churn" && result.1 == "@champion" && result.2 == "customer-42")
        #expect(result.3 == 2 && result.4 == "age" && result.5 == 61.5 && result.6 == "gold")
        #expect(result.7 == [1, 2, 3])
    }

    @Test func rejectsGarbage() {
        let garbage: [UInt8] = [0x0A, 0xFF, 0xFF, 0xFF, 0x0F]
        #expect(throws: ProtoDecodeError.self) {
            try garbage.withUnsafeBytes { try PredictRequestView.decode($0) { _ in 0 } }
        }
    }

    @Test func encodesPredictResponse() {
        var buffer = ResponseBuffer()
        let scores: [Float] = [0.25, 0.75]
        scores.withUnsafeBufferPointer { scores in
            Array("req-1".utf8).withUnsafeBytes { id in
                PredictResponseEncoder(model: "churn", version: 3, variant: "candidate", prediction: .int(1),
                                       confidence: 0.75).encode(scores: scores, requestID: id, into: &buffer)
            }
        }
        let fields = ProtoReader.fields(Array(buffer.bytes.dropFirst(5)))
        #expect(Int(buffer.bytes[4]) == buffer.bytes.count - 5)
        #expect(fields.first { $0.field == 1 }?.payload == Array("churn".utf8))
        #expect(fields.first { $0.field == 2 }?.varint == 3)
        #expect(fields.first { $0.field == 3 }?.payload == Array("candidate".utf8))
        #expect(fields.first { $0.field == 4 }?.varint == 1)
        #expect(fields.first { $0.field == 7 }?.payload.count == 8)
        #expect(fields.first { $0.field == 9 }?.payload == Array("req-1".utf8))
    }

    @Test func healthRoundTrip() {
        var buffer = ResponseBuffer()
        HealthCheckResponse(status: .notServing).encode(into: &buffer)
        let decoded = Array(buffer.bytes.dropFirst(5)).withUnsafeBytes { HealthCheckResponse(decoding: $0) }
        #expect(decoded?.status == .notServing)
    }

    @Test func rolloutRequestDecodes() throws {
        var writer = ProtoWriter()
        writer.string(1, "churn")
        writer.uint(2, 2)  // START
        writer.uint(3, 1)  // CANARY
        writer.string(5, "2")
        writer.message(6) { $0.double(1, 10); $0.uint(2, 500) }
        writer.uint(8, 1)
        let message = try writer.bytes.withUnsafeBytes { try RolloutRequestMessage(decoding: $0) }
        #expect(message.model == "churn" && message.action == .start && message.strategy == 1)
        #expect(message.candidate == "2" && message.auto)
        #expect(message.steps == [CanaryStepMessage(percent: 10, minRequests: 500, minDurationMs: 0)])
    }
}
