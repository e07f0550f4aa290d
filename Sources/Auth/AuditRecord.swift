import BackgroundThreads

/// One audited call. Holds only identifiers and outcomes: never tokens, keys or feature values. A convenience
/// for callers off the hot path (`AuditLog.record(_:)`); the service hands the same fields to
/// `AuditLog.record(time:requestID:decision:...)` without building one.
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
    public static func now() -> Double { WallClock.now() }
}

extension AuditEntry {
    /// The JSON fragment `"principal":…,"auth_method":…,"credential_id":…` of an audit line, escaped once (a
    /// principal computes it when it is created). Names and ids are cut at `fieldLimit` bytes.
    static func identity(principal: String, method: AuthMethod, credentialID: String) -> [UInt8] {
        var out = AuditBytes(capacity: 128 + 6 * (length(principal) + length(credentialID)))
        defer { out.release() }
        out.put(#""principal":"#)
        putField(principal, to: &out)
        out.put(#","auth_method":""#)
        out.put(methodName(method))
        out.put(#"","credential_id":"#)
        putField(credentialID, to: &out)
        return Array(out.bytes)
    }

    /// The identity fragment of a decision.
    static func identity(_ decision: AuthDecision) -> [UInt8] {
        switch decision {
        case .allowed(let p): p.auditIdentity
        case .denied(let d):
            identity(principal: d.principalName ?? "", method: d.method ?? .none, credentialID: d.credentialID ?? "")
        }
    }

    /// `s` as a JSON string literal.
    static func quoted(_ s: String) -> [UInt8] {
        var out = AuditBytes(capacity: 8 + 6 * s.utf8.count)
        defer { out.release() }
        var s = s
        s.withUTF8 { out.putJSONString(UnsafeRawBufferPointer($0)) }
        return Array(out.bytes)
    }

    private static func putField(_ s: String, to out: inout AuditBytes) {
        var s = s
        s.withUTF8 { out.putJSONString(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer($0).prefix(fieldLimit))) }
    }

    private static func methodName(_ m: AuthMethod) -> StaticString {
        switch m {
        case .jwt: "jwt"
        case .apiKey: "api-key"
        case .mtls: "mtls"
        case .none: "none"
        }
    }
}
