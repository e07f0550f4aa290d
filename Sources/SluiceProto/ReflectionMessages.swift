internal import CProtobufC
internal import CSluiceProto
public import GRPCCore

/// A decoded `grpc.reflection.v1.ServerReflectionRequest`. The v1alpha message is the same on the wire, so one
/// codec (protobuf-c's v1 types) serves both services.
public struct ServerReflectionRequest: Sendable, Equatable {
    /// What the client asks for (the request's `message_request` oneof).
    public enum Query: Sendable, Equatable {
        /// The file descriptor with this name, e.g. `sluice/v1/inference.proto`, plus its dependencies.
        case fileByFilename(String)
        /// The file that defines a fully qualified service, method or message name, e.g. `sluice.v1.Inference`.
        case fileContainingSymbol(String)
        /// The file that declares extension `number` of message `type`.
        case fileContainingExtension(type: String, number: Int32)
        /// Every extension number known for message `type`.
        case allExtensionNumbersOfType(String)
        /// The names of all services the server exposes.
        case listServices
        /// No field of the oneof was set.
        case none
    }

    /// The `host` field; echoed in the response, otherwise unused.
    public var host: String
    /// What is asked for; `.none` when the oneof is unset or has a field this codec does not know.
    public var query: Query

    /// Builds a request, for tests and clients (the server only decodes).
    public init(host: String = "", query: Query) {
        self.host = host
        self.query = query
    }

    /// Decodes the message; `nil` when the bytes are not a valid message.
    public init?(decoding bytes: UnsafeRawBufferPointer) {
        guard
            let message = grpc__reflection__v1__server_reflection_request__unpack(
                nil, bytes.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self))
        else { return nil }
        defer { grpc__reflection__v1__server_reflection_request__free_unpacked(message, nil) }
        let m = message.pointee
        host = m.host.map { String(cString: $0) } ?? ""
        /// Copies a protobuf-c string out before the message is freed; a null pointer reads as "".
        func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String { pointer.map { String(cString: $0) } ?? "" }
        switch m.message_request_case {
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
            query = .fileByFilename(text(m.file_by_filename))
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
            query = .fileContainingSymbol(text(m.file_containing_symbol))
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
            let ext = m.file_containing_extension?.pointee
            query = .fileContainingExtension(
                type: text(ext?.containing_type), number: ext?.extension_number ?? 0)
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
            query = .allExtensionNumbersOfType(text(m.all_extension_numbers_of_type))
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
            query = .listServices
        default:
            query = .none
        }
    }
}

/// The answer part of a `grpc.reflection.v1.ServerReflectionResponse` (its `message_response` oneof).
public enum ServerReflectionAnswer: Sendable, Equatable {
    /// Serialized FileDescriptorProtos.
    case files([[UInt8]])
    /// The extension numbers the served files declare for message `type` (empty when none do).
    case extensionNumbers(type: String, numbers: [Int32])
    /// Fully qualified service names, for `list_services`.
    case services([String])
    /// A gRPC status code and message, answered in-band (the stream stays open).
    case error(code: StatusCode, message: String)

    /// Appends the framed response to `buffer`; `originalRequest` (the request's bytes) is echoed back.
    public func encode(host: String, originalRequest: UnsafeRawBufferPointer, into buffer: inout ResponseBuffer) {
        // protobuf-c reads C strings and arrays: lay them out in memory released when the message is packed.
        var allocations: [UnsafeMutableRawPointer] = []
        defer { for pointer in allocations { pointer.deallocate() } }
        /// Uninitialized memory for `count` values, freed by the `defer` above once the message is packed.
        func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
            let raw = UnsafeMutableRawPointer.allocate(
                byteCount: max(1, count) * MemoryLayout<T>.stride, alignment: MemoryLayout<T>.alignment)
            allocations.append(raw)
            return raw.bindMemory(to: T.self, capacity: max(1, count))
        }
        /// A NUL-terminated copy of `text` that lives until the message is packed.
        func cString(_ text: String) -> UnsafeMutablePointer<CChar> {
            let utf8 = Array(text.utf8)
            let copy = allocate(CChar.self, count: utf8.count + 1)
            for (index, byte) in utf8.enumerated() { copy[index] = CChar(bitPattern: byte) }
            copy[utf8.count] = 0
            return copy
        }

        var response = Grpc__Reflection__V1__ServerReflectionResponse()
        grpc__reflection__v1__server_reflection_response__init(&response)
        response.valid_host = cString(host)
        let original = grpc__reflection__v1__server_reflection_request__unpack(
            nil, originalRequest.count, originalRequest.baseAddress?.assumingMemoryBound(to: UInt8.self))
        defer { if let original { grpc__reflection__v1__server_reflection_request__free_unpacked(original, nil) } }
        response.original_request = original

        var files = Grpc__Reflection__V1__FileDescriptorResponse()
        var numbers = Grpc__Reflection__V1__ExtensionNumberResponse()
        var list = Grpc__Reflection__V1__ListServiceResponse()
        var error = Grpc__Reflection__V1__ErrorResponse()
        switch self {
        case .files(let descriptors):
            grpc__reflection__v1__file_descriptor_response__init(&files)
            let entries = allocate(ProtobufCBinaryData.self, count: descriptors.count)
            for (index, descriptor) in descriptors.enumerated() {
                let bytes = allocate(UInt8.self, count: descriptor.count)
                for (offset, byte) in descriptor.enumerated() { bytes[offset] = byte }
                entries[index] = ProtobufCBinaryData(len: descriptor.count, data: bytes)
            }
            files.n_file_descriptor_proto = descriptors.count
            files.file_descriptor_proto = entries
        case .extensionNumbers(let type, let values):
            grpc__reflection__v1__extension_number_response__init(&numbers)
            numbers.base_type_name = cString(type)
            let storage = allocate(Int32.self, count: values.count)
            for (index, value) in values.enumerated() { storage[index] = value }
            numbers.n_extension_number = values.count
            numbers.extension_number = storage
        case .services(let names):
            grpc__reflection__v1__list_service_response__init(&list)
            let entries = allocate(Grpc__Reflection__V1__ServiceResponse.self, count: names.count)
            let pointers = allocate(UnsafeMutablePointer<Grpc__Reflection__V1__ServiceResponse>?.self, count: names.count)
            for (index, name) in names.enumerated() {
                var entry = Grpc__Reflection__V1__ServiceResponse()
                grpc__reflection__v1__service_response__init(&entry)
                entry.name = cString(name)
                (entries + index).initialize(to: entry)
                pointers[index] = entries + index
            }
            list.n_service = names.count
            list.service = pointers
        case .error(let code, let message):
            grpc__reflection__v1__error_response__init(&error)
            error.error_code = Int32(code.rawValue)
            error.error_message = cString(message)
        }
        withUnsafeMutablePointer(to: &files) { files in
            withUnsafeMutablePointer(to: &numbers) { numbers in
                withUnsafeMutablePointer(to: &list) { list in
                    withUnsafeMutablePointer(to: &error) { error in
                        switch self {
                        case .files:
                            response.message_response_case =
                                GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE
                            response.file_descriptor_response = files
                        case .extensionNumbers:
                            response.message_response_case =
                                GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE
                            response.all_extension_numbers_response = numbers
                        case .services:
                            response.message_response_case =
                                GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE
                            response.list_services_response = list
                        case .error:
                            response.message_response_case =
                                GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE
                            response.error_response = error
                        }
                        let size = grpc__reflection__v1__server_reflection_response__get_packed_size(&response)
                        buffer.appendMessage(count: size) { out in
                            guard let base = out.baseAddress else { return }  // an empty message: nothing to write
                            _ = grpc__reflection__v1__server_reflection_response__pack(
                                &response, base.assumingMemoryBound(to: UInt8.self))
                        }
                    }
                }
            }
        }
    }
}
