import GRPCCore
import InferenceEngine
import ModelRegistry
import SluiceProto
import Testing

@testable import InferenceService

/// Which failures the fallback version may answer: the server's, never the client's.
@Suite("RoutedTarget fallback rules")
struct RoutedTargetTests {
    struct Unexpected: Error {}

    @Test func serverFaultsMayFallBack() {
        #expect(RoutedTarget.isServerFault(EngineError(.unsupported, "this model cannot be served by rows")))
        #expect(RoutedTarget.isServerFault(EngineError(.invalidModel, "broken")))
        #expect(RoutedTarget.isServerFault(Unexpected()))
    }

    @Test func clientErrorsNeverFallBack() {
        #expect(!RoutedTarget.isServerFault(EngineError(.invalidInput, "feature missing")))
        #expect(!RoutedTarget.isServerFault(EngineError(.evaluation, "index out of range")))
        #expect(!RoutedTarget.isServerFault(ServiceError.invalidArgument("feature \"age\" is missing")))
        #expect(!RoutedTarget.isServerFault(RegistryError(.notFound, "no version 9")))
        #expect(!RoutedTarget.isServerFault(RPCError(.invalidArgument, "bad")))
    }
}
