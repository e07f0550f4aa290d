public import GRPCCore
public import Auth
import InferenceEngine
import ModelRegistry
import SluiceProto
import TrafficRouting

/// The service layer's errors: the one place where domain failures become gRPC statuses.
///
/// The mapping (every client-caused failure gets a specific status; INTERNAL is left for server faults):
///
/// | domain error | status |
/// |---|---|
/// | `RegistryError.notFound` (model, version, alias, stage) | NOT_FOUND |
/// | `RegistryError.invalidArgument` (bad name or selector) | INVALID_ARGUMENT |
/// | `RegistryError.failedPrecondition` (version failed to load, not loaded, no Production) | FAILED_PRECONDITION |
/// | `RegistryError.unavailable` (version still loading: retrying works) | UNAVAILABLE |
/// | `RegistryError.io` (the registry's own files are unreadable) | INTERNAL |
/// | `EngineError.invalidInput` (row does not fit the signature) | INVALID_ARGUMENT |
/// | `EngineError.evaluation` (the model cannot evaluate these values, e.g. an index out of range) | INVALID_ARGUMENT |
/// | `EngineError.invalidModel` / `.unsupported` (cannot happen after load; the version is unusable) | FAILED_PRECONDITION |
/// | `RolloutError` invalidArgument / failedPrecondition / notFound / aborted | same-named status |
/// | `RolloutError.internalError` (rollout state could not be persisted) | INTERNAL |
/// | `AuthDenial` unauthenticated / permissionDenied / rateLimited | UNAUTHENTICATED / PERMISSION_DENIED / RESOURCE_EXHAUSTED (+ `retry-after-ms`) |
/// | `AuthDenial.unavailable` (audit log full or failed, fail-closed) | UNAVAILABLE |
/// | `ProtoDecodeError` (request bytes are not the message) | INVALID_ARGUMENT |
/// | dynamic batching: the version was unloaded while the call waited | UNAVAILABLE (retrying reaches the new version) |
///
/// Protocols without gRPC statuses (the Open Inference REST routes) answer with ``httpStatus``, the standard
/// google.rpc mapping of the same status: one table, so both protocols agree on every failure.
public struct ServiceError: Error, RPCErrorConvertible, Sendable {
    public let rpcError: RPCError

    public init(_ code: StatusCode, _ message: String, trailers: [RPCError.Trailer] = []) {
        rpcError = RPCError(code, message, trailers: trailers)
    }

    /// Wraps a status already decided (e.g. by ``from(_:)``).
    public init(rpcError: RPCError) { self.rpcError = rpcError }

    static func invalidArgument(_ message: String) -> ServiceError { ServiceError(.invalidArgument, message) }

    /// Any error a handler may throw, as the service error (and status) to answer with.
    public static func from(_ error: any Error) -> ServiceError {
        if let error = error as? ServiceError { return error }
        return ServiceError(rpcError: RPCError.from(error))
    }

    /// The gRPC status code.
    public var code: StatusCode { rpcError.code }

    /// The message for the caller.
    public var message: String { rpcError.message }

    /// The HTTP status of this failure for HTTP protocols (Open Inference REST).
    public var httpStatus: Int { Self.httpStatus(of: rpcError.code) }

    /// The HTTP status for a gRPC status code (the google.rpc `Code` mapping): 400 INVALID_ARGUMENT,
    /// FAILED_PRECONDITION and OUT_OF_RANGE; 401 UNAUTHENTICATED; 403 PERMISSION_DENIED; 404 NOT_FOUND;
    /// 409 ALREADY_EXISTS and ABORTED; 429 RESOURCE_EXHAUSTED; 499 CANCELLED; 501 UNIMPLEMENTED;
    /// 503 UNAVAILABLE; 504 DEADLINE_EXCEEDED; 500 otherwise.
    public static func httpStatus(of code: StatusCode) -> Int {
        switch code {
        case .ok: 200
        case .invalidArgument, .failedPrecondition, .outOfRange: 400
        case .unauthenticated: 401
        case .permissionDenied: 403
        case .notFound: 404
        case .alreadyExists, .aborted: 409
        case .resourceExhausted: 429
        case .cancelled: 499
        case .unimplemented: 501
        case .unavailable: 503
        case .deadlineExceeded: 504
        default: 500
        }
    }

    /// Maps a registry failure to its status.
    init(_ error: RegistryError) {
        self.init(Self.status(of: error.code), error.message)
    }

    /// Maps an engine failure at prediction time to its status.
    init(_ error: EngineError) {
        let code: StatusCode
        switch error.kind {
        case .invalidInput, .evaluation: code = .invalidArgument
        case .invalidModel, .unsupported: code = .failedPrecondition
        }
        self.init(code, error.message)
    }

    /// Maps a rollout command failure to its status.
    init(_ error: RolloutError) {
        let code: StatusCode
        if error.code == .invalidArgument {
            code = .invalidArgument
        } else if error.code == .failedPrecondition {
            code = .failedPrecondition
        } else if error.code == .notFound {
            code = .notFound
        } else if error.code == .aborted {
            code = .aborted  // another replica changed the rollout first: re-read and retry the command
        } else {
            code = .internal  // .internalError: persistence or the registry failed on the server's side
        }
        self.init(code, error.message)
    }

    /// Maps an authentication, authorization, rate-limit or audit refusal to its status.
    init(_ denial: AuthDenial) {
        self = CallGate.error(for: denial)
    }

    static func status(of code: RegistryError.Code) -> StatusCode {
        if code == .notFound { return .notFound }
        if code == .invalidArgument { return .invalidArgument }
        if code == .failedPrecondition { return .failedPrecondition }
        if code == .unavailable { return .unavailable }
        return .internal  // .io: the registry's own files, a server-side fault
    }
}

extension RPCError {
    /// Any error thrown inside a handler, as the status to send.
    static func from(_ error: any Error) -> RPCError {
        switch error {
        case let error as RPCError: return error
        case let error as any RPCErrorConvertible: return error.rpcError
        case let error as RegistryError: return ServiceError(error).rpcError
        case let error as EngineError: return ServiceError(error).rpcError
        case let error as RolloutError: return ServiceError(error).rpcError
        case let error as AuthDenial: return ServiceError(error).rpcError
        case let error as ProtoDecodeError: return RPCError(.invalidArgument, error.description)
        default: return RPCError(.internal, "internal error: \(error)")
        }
    }
}
