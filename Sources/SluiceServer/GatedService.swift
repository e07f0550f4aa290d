public import GRPCCore

/// A service whose every method first passes a gate (e.g. authentication of health checks); a streaming
/// method passes it when the call opens.
public struct GatedService: GRPCService {
    public let serviceName: String
    public let methods: [UnaryMethod]
    public let streamingMethods: [StreamingMethod]

    public init(wrapping service: any GRPCService, gate: @escaping @Sendable (CallContext) -> RPCError?) {
        serviceName = service.serviceName
        methods = service.methods.map { method in
            let handler = method.handler
            return UnaryMethod(method.name) { request, context, response in
                if let refusal = gate(context) { return .failure(refusal) }
                return handler(request, context, &response)
            }
        }
        streamingMethods = service.streamingMethods.map { method in
            let open = method.open
            return StreamingMethod(method.name, limit: method.limit) { context, writer in
                if let refusal = gate(context) { return .failure(refusal) }
                return open(context, writer)
            }
        }
    }
}
