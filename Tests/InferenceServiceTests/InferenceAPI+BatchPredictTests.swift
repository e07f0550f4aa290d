import GRPCCore
@testable import InferenceService
import Testing
import TestSupport

/// BatchPredict inputs found by the `service-requests` fuzz target (fuzz/corpus/service-requests/crash-*).
@Suite("InferenceAPI BatchPredict (fuzz regressions)")
struct InferenceAPIBatchPredictTests {
    /// A declared row count that no column backs used to size the buffers first: `rows: 4294967295` asked for
    /// 64 GB (rows × features floats) and the process died. It is now INVALID_ARGUMENT before any allocation.
    @Test func declaredRowsMustBeBackedByColumns() throws {
        let api = try makeAPI()
        var writer = ProtoWriter()
        writer.string(1, "churn")
        writer.uint(4, 0xFFFF_FFFF)
        writer.message(5) { $0.string(1, "a"); $0.packedFloats(2, [1, 2]) }
        expectFailure(
            call(api, "BatchPredict", writer.bytes).0, .invalidArgument,
            containing: "column \"a\" has 2 values but the batch has 4294967295 rows")
    }

    @Test func declaredRowsWithoutColumnsIsMissingColumn() throws {
        let api = try makeAPI()
        var writer = ProtoWriter()
        writer.string(1, "churn")
        writer.uint(4, 0xFFFF_FFFF)
        expectFailure(call(api, "BatchPredict", writer.bytes).0, .invalidArgument, containing: "column \"a\" is missing")
    }

    /// The fuzzer's reproducer as found (rows = 2^64-1 as a varint, a column "gea" that is not an input).
    @Test func fuzzReproducerIsRefused() throws {
        let api = try makeAPI()
        let request: [UInt8] = [
            0x0a, 0x05, 0x63, 0x68, 0x75, 0x72, 0x6e, 0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
            0x2a, 0x0f, 0x0a, 0x03, 0x67, 0x65, 0x61, 0x12, 0x08, 0x00, 0x00, 0x00, 0x0a, 0x05, 0x65, 0x5f, 0x63, 0x68,
            0x6d,
        ]
        let (outcome, _) = call(api, "BatchPredict", request)
        guard case .failure(let error) = outcome else {
            Issue.record("expected a failure, got \(outcome)")
            return
        }
        #expect(error.code == .invalidArgument)
        #expect(!error.message.isEmpty)
    }
}
