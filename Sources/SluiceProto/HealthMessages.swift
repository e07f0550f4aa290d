internal import CProtobufC
internal import CSluiceProto
public import GRPCCore

/// `grpc.health.v1.HealthCheckRequest`.
public struct HealthCheckRequest: Sendable, Equatable {
    /// The service to check; empty means the server as a whole.
    public var service: String

    /// Builds a request, mostly for tests and clients; the default asks about the whole server.
    public init(service: String = "") { self.service = service }

    /// Decodes the message; `nil` when the bytes are not a valid message.
    public init?(decoding bytes: UnsafeRawBufferPointer) {
        guard
            let message = grpc__health__v1__health_check_request__unpack(
                nil, bytes.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self))
        else { return nil }
        defer { grpc__health__v1__health_check_request__free_unpacked(message, nil) }
        service = message.pointee.service.map { String(cString: $0) } ?? ""
    }
}

/// `grpc.health.v1.HealthCheckResponse`.
public struct HealthCheckResponse: Sendable, Equatable {
    /// The standard health states; raw values are the wire values of `grpc.health.v1`.
    public enum ServingStatus: Int32, Sendable {
        /// Not known yet; also what an unrecognised wire value decodes to.
        case unknown = 0
        /// Ready to take requests.
        case serving = 1
        /// Up but not taking requests, e.g. while the server drains before shutdown.
        case notServing = 2
        /// Only for `Watch`: the requested service name is not known to the server.
        case serviceUnknown = 3
    }

    /// The status to report.
    public var status: ServingStatus

    /// Builds a response carrying `status`.
    public init(status: ServingStatus) { self.status = status }

    /// Appends the encoded message to `buffer` as one framed gRPC message.
    public func encode(into buffer: inout ResponseBuffer) {
        var message = Grpc__Health__V1__HealthCheckResponse()
        grpc__health__v1__health_check_response__init(&message)
        message.status = Grpc__Health__V1__HealthCheckResponse__ServingStatus(rawValue: UInt32(status.rawValue))
        let size = grpc__health__v1__health_check_response__get_packed_size(&message)
        buffer.appendMessage(count: size) { out in
            _ = grpc__health__v1__health_check_response__pack(
                &message, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// Decodes a response (used by tests and clients).
    public init?(decoding bytes: UnsafeRawBufferPointer) {
        guard
            let message = grpc__health__v1__health_check_response__unpack(
                nil, bytes.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self))
        else { return nil }
        defer { grpc__health__v1__health_check_response__free_unpacked(message, nil) }
        status = ServingStatus(rawValue: Int32(bitPattern: message.pointee.status.rawValue)) ?? .unknown
    }
}
