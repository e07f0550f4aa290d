/// One audited call. Holds only identifiers and outcomes: never tokens, keys or feature values. The hot path
/// builds this from strings it already has (no formatting); the writer thread turns it into a JSON line.
public struct AuditRecord: Sendable {
    /// Call start, seconds since the Unix epoch.
    public var time: Double
    public var requestID: String
    public var principal: String
    public var method: AuthMethod
    /// API-key id or token `jti` ("" for none).
    public var credentialID: String
    public var peer: String
    /// RPC name (`Predict`, ..., `Health`).
    public var rpc: String
    public var model: String
    /// The version selector the caller sent.
    public var selector: String
    /// The version that served the call, when one did.
    public var resolvedVersion: Int64?
    /// Rollout variant ("" outside a rollout).
    public var variant: String
    public var allowed: Bool
    /// Why a call was denied (internal detail; the audit log is private), "" when allowed.
    public var reason: String
    /// Final gRPC status code.
    public var grpcStatus: Int
    public var latencyMicros: Int64

    public init(
        time: Double, requestID: String, principal: String, method: AuthMethod, credentialID: String, peer: String,
        rpc: String, model: String, selector: String, resolvedVersion: Int64?, variant: String, allowed: Bool,
        reason: String, grpcStatus: Int, latencyMicros: Int64
    ) {
        self.time = time
        self.requestID = requestID
        self.principal = principal
        self.method = method
        self.credentialID = credentialID
        self.peer = peer
        self.rpc = rpc
        self.model = model
        self.selector = selector
        self.resolvedVersion = resolvedVersion
        self.variant = variant
        self.allowed = allowed
        self.reason = reason
        self.grpcStatus = grpcStatus
        self.latencyMicros = latencyMicros
    }

    /// A record for a call given its request and auth decision; the service fills in the outcome.
    public init(
        request: AuthRequest, decision: AuthDecision, startTime: Double, requestID: String, selector: String,
        resolvedVersion: Int64? = nil, variant: String = "", grpcStatus: Int, latencyMicros: Int64
    ) {
        let principal: String
        let method: AuthMethod
        let credentialID: String
        let allowed: Bool
        let reason: String
        switch decision {
        case .allowed(let p):
            (principal, method, credentialID, allowed, reason) = (p.name, p.method, p.credentialID, true, "")
        case .denied(let d):
            principal = d.principalName ?? ""
            method = d.method ?? .none
            credentialID = d.credentialID ?? ""
            allowed = false
            reason = "\(d.code): \(d.reason)"
        }
        self.init(
            time: startTime, requestID: requestID, principal: principal, method: method, credentialID: credentialID,
            peer: request.peer, rpc: request.rpc.name, model: request.model, selector: selector,
            resolvedVersion: resolvedVersion, variant: variant, allowed: allowed, reason: reason,
            grpcStatus: grpcStatus, latencyMicros: latencyMicros)
    }

    /// Seconds since the epoch, for `time` (wall clock).
    public static func now() -> Double { Clock.wallSeconds() }
}
