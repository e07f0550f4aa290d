/// What a handler knows about the call it serves.
public struct CallContext: Sendable {
    /// The request's custom metadata.
    public var metadata: Metadata
    /// Absolute deadline on the monotonic clock (`CLOCK_MONOTONIC`, nanoseconds); `nil` when the client set none.
    public var deadline: UInt64?
    /// The peer's address as `ip:port` (or `[ip]:port`).
    public var peer: String
    /// The verified TLS client certificate subject (mTLS), if any.
    public var clientCertificateSubject: String?
    /// How a deferred call completes; set by the transport.
    public var completion: (any DeferredCompletionSink)?
    /// Identifies this call to `completion`.
    public var completionToken: UInt64
    /// The connection's allowance of expensive work (first-sight signature checks); nil: unlimited.
    public var budget: ConnectionBudget?
    /// The request message as an owned array, when the transport handed over its receive buffer (large,
    /// uncompressed messages): the handler's `request` pointer then points into `storage[payload]`, and work that
    /// outlives the handler call (an offloaded call) keeps this instead of copying the bytes. nil otherwise.
    public var ownedRequest: OwnedRequest?

    /// A context with every field optional; the transport fills in what it knows for each call.
    public init(
        metadata: Metadata = Metadata(), deadline: UInt64? = nil, peer: String = "",
        clientCertificateSubject: String? = nil, completion: (any DeferredCompletionSink)? = nil,
        completionToken: UInt64 = 0, budget: ConnectionBudget? = nil
    ) {
        self.budget = budget
        self.metadata = metadata
        self.deadline = deadline
        self.peer = peer
        self.clientCertificateSubject = clientCertificateSubject
        self.completion = completion
        self.completionToken = completionToken
    }

    /// Takes the call off the synchronous path: the handler returns ``UnaryOutcome/deferred`` and later
    /// completes the promise from any thread. The transport wakes the call's event loop to send the answer.
    /// Returns `nil` when the transport cannot defer (then answer synchronously).
    public func makePromise() -> UnaryPromise? {
        guard let completion else { return nil }
        return UnaryPromise(sink: completion, token: completionToken)
    }
}

/// Receives the results of deferred calls. Implemented by the transport; safe to call from any thread.
public protocol DeferredCompletionSink: Sendable {
    /// Hands the result of the call identified by `token` to its connection. Called once per deferred call, from
    /// any thread; must not block.
    func complete(token: UInt64, with result: Result<ResponseBuffer, RPCError>)
}

/// The answer-to-be of a deferred unary call. Complete it exactly once.
public struct UnaryPromise: Sendable {
    /// Where the result goes (the transport's sink for the call's event loop).
    let sink: any DeferredCompletionSink
    /// Which call this promise answers; opaque to the handler.
    let token: UInt64

    /// Answers the call with OK and `response` (an already framed message). Callable from any thread.
    public func succeed(_ response: ResponseBuffer) { sink.complete(token: token, with: .success(response)) }
    /// Ends the call with `error`'s status, message and trailers. Callable from any thread.
    public func fail(_ error: RPCError) { sink.complete(token: token, with: .failure(error)) }
}

/// How a unary handler ended.
public enum UnaryOutcome: Sendable {
    /// The response message is in the ``ResponseBuffer``; the status is OK.
    case ok
    /// The call fails with this status (nothing from the buffer is sent).
    case failure(RPCError)
    /// The handler took a ``UnaryPromise`` and will complete it later.
    case deferred
}

/// A unary handler: request bytes (one decoded, decompressed message) in, framed response out.
/// It runs on the connection's event-loop thread and must not block.
public typealias UnaryHandler =
    @Sendable (
        _ request: UnsafeRawBufferPointer, _ context: CallContext, _ response: inout ResponseBuffer
    ) -> UnaryOutcome

/// One method of a service.
public struct UnaryMethod: Sendable {
    /// The method's simple name, e.g. `Predict`.
    public let name: String
    /// Called once per request on the connection's event-loop thread; see ``UnaryHandler``.
    public let handler: UnaryHandler

    /// A method called `name` (the last component of the `:path`) served by `handler`.
    public init(_ name: String, handler: @escaping UnaryHandler) {
        self.name = name
        self.handler = handler
    }
}

/// A gRPC service: a name and its methods. Services register with one ``GRPCRouter``.
public protocol GRPCService: Sendable {
    /// Fully qualified, e.g. `sluice.v1.Inference` or `grpc.health.v1.Health`.
    var serviceName: String { get }
    /// The unary methods, each routed at `/<serviceName>/<name>`.
    var methods: [UnaryMethod] { get }
    /// Server-streaming, client-streaming and bidirectional methods (none by default).
    var streamingMethods: [StreamingMethod] { get }
}

extension GRPCService {
    /// No streaming methods: services that have none need not implement this.
    public var streamingMethods: [StreamingMethod] { [] }
}

/// A request message's bytes that the transport no longer needs: `storage[payload]` is the message.
public struct OwnedRequest: Sendable {
    /// The receive buffer the message arrived in (gRPC prefix included).
    public let storage: [UInt8]
    /// Where the message's payload lies in `storage`.
    public let payload: Range<Int>

    public init(storage: [UInt8], payload: Range<Int>) {
        self.storage = storage
        self.payload = payload
    }
}
