public import GRPCCore
public import SluiceProto
import Synchronization

/// The service names server reflection lists. Published once the router exists (the router serves reflection
/// itself, so the list cannot be known when the reflection services are made); read per `list_services`.
public final class ServiceCatalog: Sendable {
    /// Fully qualified service names; empty until `publish` is called.
    private let names = Mutex<[String]>([])

    /// Starts with an empty list, so `list_services` answers nothing until the router publishes.
    public init() {}

    /// Sets the list (e.g. ``GRPCRouter/services``).
    public func publish(_ services: [String]) { names.withLock { $0 = services } }

    /// The published list.
    public var services: [String] { names.withLock { $0 } }
}

/// `grpc.reflection.v1.ServerReflection` or `grpc.reflection.v1alpha.ServerReflection` (same messages on the
/// wire): a bidirectional `ServerReflectionInfo` stream that answers each request message as it arrives, from
/// the router's service list and the descriptor set compiled in by `proto/generate` (``ServedDescriptors``).
/// Unknown files, symbols and extensions get an in-band `error_response` (NOT_FOUND); the stream stays open.
public struct ReflectionService: GRPCService {
    /// Which of ``serviceNames`` this instance registers as; the behaviour is identical for both.
    public let serviceName: String
    /// The service list shared with the router, read on every `list_services`.
    let catalog: ServiceCatalog
    /// The compiled-in descriptor set that file and symbol queries are answered from.
    let descriptors: ServedDescriptors

    /// The two service names grpcurl, grpcui and grpcio-reflection clients ask for.
    public static let serviceNames = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]

    /// `descriptors` defaults to the set compiled in by `proto/generate`; tests pass their own.
    public init(serviceName: String, catalog: ServiceCatalog, descriptors: ServedDescriptors = .compiled) {
        self.serviceName = serviceName
        self.catalog = catalog
        self.descriptors = descriptors
    }

    /// Both versions of the service, sharing one catalog.
    public static func all(catalog: ServiceCatalog) -> [ReflectionService] {
        serviceNames.map { ReflectionService(serviceName: $0, catalog: catalog) }
    }

    /// None: reflection has only the streaming `ServerReflectionInfo` method.
    public var methods: [UnaryMethod] { [] }

    /// `ServerReflectionInfo`, with a fresh ``ReflectionCall`` per stream.
    public var streamingMethods: [StreamingMethod] {
        let catalog = self.catalog
        let descriptors = self.descriptors
        return [
            StreamingMethod("ServerReflectionInfo") { _, _ in
                .success(ReflectionCall(catalog: catalog, descriptors: descriptors))
            }
        ]
    }

    /// The answer to one request: files with their transitive imports, the service list, extension numbers, or an
    /// in-band error (NOT_FOUND for what is not served, INVALID_ARGUMENT for a request that asks nothing).
    public static func answer(
        _ query: ServerReflectionRequest.Query, catalog: ServiceCatalog, descriptors: ServedDescriptors
    ) -> ServerReflectionAnswer {
        func files(_ found: [ServedDescriptors.File]?, _ missing: @autoclosure () -> String) -> ServerReflectionAnswer {
            guard let found else { return .error(code: .notFound, message: missing()) }
            return .files(found.map(\.bytes))
        }
        switch query {
        case .listServices:
            return .services(catalog.services)
        case .fileByFilename(let name):
            return files(descriptors.file(named: name), "file '\(clip(name))' is not among the served proto files")
        case .fileContainingSymbol(let symbol):
            return files(
                descriptors.file(containingSymbol: symbol), "symbol '\(clip(symbol))' is not declared by a served proto file")
        case .fileContainingExtension(let type, let number):
            return files(
                descriptors.file(extending: type, number: number),
                "no served proto file declares extension \(number) of '\(clip(type))'")
        case .allExtensionNumbersOfType(let type):
            guard let numbers = descriptors.extensionNumbers(of: type) else {
                return .error(code: .notFound, message: "type '\(clip(type))' is not declared by a served proto file")
            }
            return .extensionNumbers(type: type, numbers: numbers)
        case .none:
            return .error(
                code: .invalidArgument,
                message: "the request sets none of file_by_filename, file_containing_symbol, file_containing_extension, "
                    + "all_extension_numbers_of_type, list_services")
        }
    }

    /// Caps client-supplied names at 200 characters before they are echoed in an error message.
    private static func clip(_ text: String) -> String { text.count > 200 ? text.prefix(200) + "..." : text }
}

/// One `ServerReflectionInfo` stream: answers every request message at once; holds nothing between them.
final class ReflectionCall: StreamingCall {
    /// Shared with the service (and the router); read per message, never written.
    let catalog: ServiceCatalog
    /// Immutable descriptor set, shared by every stream.
    let descriptors: ServedDescriptors

    init(catalog: ServiceCatalog, descriptors: ServedDescriptors) {
        self.catalog = catalog
        self.descriptors = descriptors
    }

    /// Answers one request message at once on the stream. An undecodable message ends the stream with INVALID_ARGUMENT;
    /// every other problem is answered in-band and the stream stays open.
    func received(_ message: UnsafeRawBufferPointer, writer: ServerStreamWriter) {
        guard let request = ServerReflectionRequest(decoding: message) else {
            writer.finish(
                RPCError(
                    .invalidArgument,
                    "request is not a valid grpc.reflection.v1.ServerReflectionRequest (\(message.count) bytes do not "
                        + "decode as protobuf)"))
            return
        }
        var response = ResponseBuffer()
        ReflectionService.answer(request.query, catalog: catalog, descriptors: descriptors)
            .encode(host: request.host, originalRequest: message, into: &response)
        writer.send(response)
    }

    func requestEnded(messages: Int, writer: ServerStreamWriter) {
        // The client is done asking: the stream ends OK after the answers already queued.
        writer.finish()
    }

    /// Nothing to release: the call keeps no state between messages.
    func closed() {}
}
