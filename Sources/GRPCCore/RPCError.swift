/// An error that ends a call with a non-OK status.
///
/// The service layer is the only place that turns domain errors into `RPCError`s (through
/// ``RPCErrorConvertible``); the transport turns an `RPCError` into trailers.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The status sent in `grpc-status`; never `.ok` in practice, since an `RPCError` ends a call as a failure.
    public var code: StatusCode
    /// A message a person can act on. Sent percent-encoded in `grpc-message`.
    public var message: String
    /// Extra trailers sent with the status (lower-case names, e.g. `grpc-accept-encoding`, `retry-after-ms`).
    public var trailers: [Trailer]

    /// One extra trailing header.
    public struct Trailer: Hashable, Sendable {
        /// The trailer name, lower-case as HTTP/2 requires.
        public var name: String
        /// The trailer value, sent as is (no percent-encoding, unlike `message`).
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// An error with `code` and `message`, plus any extra trailers to send with the status.
    public init(_ code: StatusCode, _ message: String, trailers: [Trailer] = []) {
        self.code = code
        self.message = message
        self.trailers = trailers
    }

    /// `<code>: <message>`, for logs.
    public var description: String { "\(code): \(message)" }
}

/// A domain error that knows which gRPC status it maps to.
public protocol RPCErrorConvertible: Error {
    var rpcError: RPCError { get }
}
