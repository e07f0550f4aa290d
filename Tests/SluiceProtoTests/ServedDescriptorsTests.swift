import SluiceProto
import Testing

@Suite("ServedDescriptors")
struct ServedDescriptorsTests {
    let served = ServedDescriptors.compiled

    @Test func holdsEveryServedFile() {
        let names = Set(served.files.map(\.name))
        #expect(
            names.isSuperset(of: [
                "sluice/v1/inference.proto", "grpc/health/v1/health.proto", "grpc/reflection/v1/reflection.proto",
                "grpc/reflection/v1alpha/reflection.proto",
            ]))
    }

    @Test func findsServicesMethodsMessagesAndNestedEnums() {
        #expect(served.file(containingSymbol: "sluice.v1.Inference")?.first?.name == "sluice/v1/inference.proto")
        #expect(served.file(containingSymbol: "sluice.v1.Inference.Predict")?.first?.name == "sluice/v1/inference.proto")
        #expect(served.file(containingSymbol: ".sluice.v1.PredictRequest")?.first?.name == "sluice/v1/inference.proto")
        #expect(
            served.file(containingSymbol: "grpc.health.v1.HealthCheckResponse.ServingStatus")?.first?.name
                == "grpc/health/v1/health.proto")
        #expect(served.file(containingSymbol: "sluice.v1.Nope") == nil)
        #expect(served.file(named: "nope.proto") == nil)
        #expect(served.extensionNumbers(of: "sluice.v1.PredictRequest") == [])
        #expect(served.extensionNumbers(of: "sluice.v1.Nope") == nil)
        #expect(served.file(extending: "sluice.v1.PredictRequest", number: 100) == nil)
    }

    @Test func fileBytesAreTheDescriptorsTheyName() {
        // A FileDescriptorProto starts with field 1 (name), length-delimited.
        for file in served.files {
            #expect(file.bytes.first == 0x0a)
            #expect(Array(file.bytes[2..<(2 + file.name.utf8.count)]) == Array(file.name.utf8))
        }
    }
}
