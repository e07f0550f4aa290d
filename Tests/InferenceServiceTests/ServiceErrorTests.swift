import GRPCCore
import InferenceEngine
import ModelRegistry
import Testing

@testable import InferenceService

/// The one mapping from domain errors to gRPC statuses: nothing a client causes becomes INTERNAL.
@Suite("ServiceError mapping")
struct ServiceErrorTests {
    struct Unexpected: Error {}

    @Test func registryErrors() {
        let cases: [(RegistryError.Code, StatusCode)] = [
            (.notFound, .notFound), (.invalidArgument, .invalidArgument), (.failedPrecondition, .failedPrecondition),
            (.unavailable, .unavailable), (.io, .internal),
        ]
        for (code, status) in cases {
            let error = RPCError.from(RegistryError(code, "message \(code)"))
            #expect(error.code == status, "\(code)")
            #expect(error.message == "message \(code)")
        }
    }

    @Test func engineErrorsAreTheCallersOrTheVersions() {
        #expect(RPCError.from(EngineError(.invalidInput, "feature k is an integer input")).code == .invalidArgument)
        #expect(RPCError.from(EngineError(.evaluation, "integer division by zero")).code == .invalidArgument)
        #expect(RPCError.from(EngineError(.invalidModel, "bad")).code == .failedPrecondition)
        #expect(RPCError.from(EngineError(.unsupported, "op X")).code == .failedPrecondition)
        #expect(RPCError.from(EngineError(.invalidInput, "feature k")).message == "feature k")
    }

    @Test func onlyUnknownErrorsAreInternal() {
        #expect(RPCError.from(Unexpected()).code == .internal)
        #expect(RPCError.from(ServiceError(.notFound, "x")).code == .notFound)
    }
}
