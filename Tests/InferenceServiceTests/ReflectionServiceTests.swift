import GRPCCore
import InferenceService
import SluiceProto
import TestSupport
import Testing

/// The reflection service's answers, encoded and read back field by field.
@Suite("ReflectionService")
struct ReflectionServiceTests {
    let catalog: ServiceCatalog = {
        let catalog = ServiceCatalog()
        catalog.publish(["grpc.health.v1.Health", "sluice.v1.Inference"])
        return catalog
    }()

    /// Encodes the answer to `request` (serialized) and returns the response message's fields.
    func respond(_ request: [UInt8]) -> [(field: Int, varint: UInt64, payload: [UInt8])] {
        let decoded = request.withUnsafeBytes { ServerReflectionRequest(decoding: $0) }
        guard let decoded else { return [] }
        let answer = ReflectionService.answer(decoded.query, catalog: catalog, descriptors: .compiled)
        var buffer = ResponseBuffer()
        request.withUnsafeBytes { answer.encode(host: decoded.host, originalRequest: $0, into: &buffer) }
        return ProtoReader.fields(Array(buffer.bytes.dropFirst(5)))
    }

    @Test func listServicesNamesThePublishedServices() {
        let fields = respond([0x3a, 0x00])  // list_services = ""
        #expect(fields.first(where: { $0.field == 2 })?.payload == [0x3a, 0x00])  // original_request echoed
        let list = fields.first(where: { $0.field == 6 })?.payload ?? []
        let names = ProtoReader.fields(list).map { String(decoding: ProtoReader.fields($0.payload)[0].payload, as: UTF8.self) }
        #expect(names == ["grpc.health.v1.Health", "sluice.v1.Inference"])
    }

    @Test func fileContainingSymbolCarriesTheFile() {
        let symbol = Array("grpc.health.v1.Health.Watch".utf8)
        let fields = respond([0x22, UInt8(symbol.count)] + symbol)
        let files = ProtoReader.fields(fields.first(where: { $0.field == 4 })?.payload ?? [])
        #expect(files.count == 1)
        #expect(files.first.map { ProtoReader.fields($0.payload)[0].payload } == Array("grpc/health/v1/health.proto".utf8))
    }

    @Test func unknownSymbolIsAnInBandNotFound() {
        let symbol = Array("no.Such".utf8)
        let fields = respond([0x22, UInt8(symbol.count)] + symbol)
        let error = ProtoReader.fields(fields.first(where: { $0.field == 7 })?.payload ?? [])
        #expect(error.first(where: { $0.field == 1 })?.varint == UInt64(StatusCode.notFound.rawValue))
        #expect(
            error.first(where: { $0.field == 2 }).map { String(decoding: $0.payload, as: UTF8.self) }
                == "symbol 'no.Such' is not declared by a served proto file")
    }

    @Test func emptyRequestIsInvalidArgumentInBand() {
        let fields = respond([])
        let error = ProtoReader.fields(fields.first(where: { $0.field == 7 })?.payload ?? [])
        #expect(error.first(where: { $0.field == 1 })?.varint == UInt64(StatusCode.invalidArgument.rawValue))
    }
}
