public import GRPCCore
import ModelRegistry
import SluiceProto
import TrafficRouting

/// The service layer's errors: the one place where domain failures become gRPC statuses.
public struct ServiceError: Error, RPCErrorConvertible, Sendable {
    public let rpcError: RPCError

    public init(_ code: StatusCode, _ message: String, trailers: [RPCError.Trailer] = []) {
        rpcError = RPCError(code, message, trailers: trailers)
    }

    static func invalidArgument(_ message: String) -> ServiceError { ServiceError(.invalidArgument, message) }

    /// Maps a registry failure to its status.
    init(_ error: RegistryError) {
        let code: StatusCode
        switch error.code {
        case .notFound: code = .notFound
        case .invalidArgument: code = .invalidArgument
        case .failedPrecondition: code = .failedPrecondition
        case .unavailable: code = .unavailable
        default: code = .internal
        }
        self.init(code, error.message)
    }
}

extension RPCError {
    /// Any error thrown inside a handler, as the status to send.
    static func from(_ error: any Error) -> RPCError {
        switch error {
        case let error as RPCError: return error
        case let error as any RPCErrorConvertible: return error.rpcError
        case let error as RegistryError: return ServiceError(error).rpcError
        case let error as ProtoDecodeError: return RPCError(.invalidArgument, error.description)
        case let error as RolloutError:
            let code: StatusCode
            switch error.code {
            case .invalidArgument: code = .invalidArgument
            case .failedPrecondition: code = .failedPrecondition
            case .notFound: code = .notFound
            case .aborted: code = .aborted
            default: code = .internal
            }
            return RPCError(code, error.message)
        default: return RPCError(.internal, "internal error: \(error)")
        }
    }
}
