/// An error that ends a call with a non-OK status.
///
/// The service layer is the only place that turns domain errors into `RPCError`s (through
/// ``RPCErrorConvertible``); the transport turns an `RPCError` into trailers.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: StatusCode
    /// A message a person can act on. Sent percent-encoded in `grpc-message`.
    public var message: String
    /// Extra trailers sent with the status (lower-case names, e.g. `grpc-accept-encoding`, `retry-after-ms`).
    public var trailers: [Trailer]

    /// One extra trailing header.
    public struct Trailer: Hashable, Sendable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(_ code: StatusCode, _ message: String, trailers: [Trailer] = []) {
        self.code = code
        self.message = message
        self.trailers = trailers
    }

    public var description: String { "\(code): \(message)" }
}

/// A domain error that knows which gRPC status it maps to.
public protocol RPCErrorConvertible: Error {
    var rpcError: RPCError { get }
}
