/// The RPCs the security layer knows. Anything else the service routes is a health check or unknown.
public enum AuthRPC: Sendable, Hashable {
    /// The `Predict` RPC (one request, one response).
    case predict
    /// The `BatchPredict` RPC; a separate permission bit from `Predict`.
    case batchPredict
    /// The `GetModelVersion` RPC (model metadata).
    case getModelVersion
    /// The `Rollout` RPC, which changes traffic between model versions; normally only `deployer` and `admin` hold it.
    case rollout
    /// A health RPC (`grpc.health.v1.Health/*`): open by default, see `SecurityConfig.Health`.
    case health
    /// Open Inference Protocol `ModelInfer` (gRPC or REST): governed by the `Predict` permission.
    case modelInfer
    /// Open Inference Protocol model metadata, readiness, config and statistics: governed by `GetModelVersion`.
    case modelMetadata

    /// The name used in policies, audit records and messages (`Predict`, ...).
    public var name: String {
        switch self {
        case .predict: "Predict"
        case .batchPredict: "BatchPredict"
        case .getModelVersion: "GetModelVersion"
        case .rollout: "Rollout"
        case .health: "Health"
        case .modelInfer: "ModelInfer"
        case .modelMetadata: "ModelMetadata"
        }
    }

    /// Parses a policy RPC name; `nil` for names Sluice does not serve.
    public init?(name: String) {
        switch name {
        case "Predict": self = .predict
        case "BatchPredict": self = .batchPredict
        case "GetModelVersion": self = .getModelVersion
        case "Rollout": self = .rollout
        case "Health": self = .health
        default: return nil
        }
    }

    /// The rate-limit class: `predict` (Predict, BatchPredict), `metadata` (GetModelVersion), `rollout`, `health`.
    public var rateClass: RateClass {
        switch self {
        case .predict, .batchPredict, .modelInfer: .predict
        case .getModelVersion, .modelMetadata: .metadata
        case .rollout: .rollout
        case .health: .health
        }
    }

    /// The permission that governs this RPC: Open Inference Protocol calls share the sluice.v1 ones, so one
    /// policy covers both protocols.
    public var permission: AuthRPC {
        switch self {
        case .modelInfer: .predict
        case .modelMetadata: .getModelVersion
        default: self
        }
    }

    /// The four RPCs a permission can name (health is governed by `health.open`).
    public static let policyRPCs: [AuthRPC] = [.predict, .batchPredict, .getModelVersion, .rollout]
}

/// A rate-limit class: RPCs that share one token bucket per principal.
public enum RateClass: String, Sendable, Hashable, CaseIterable {
    /// `Predict`, `BatchPredict` and OIP `ModelInfer`.
    case predict
    /// `GetModelVersion` and the OIP metadata RPCs.
    case metadata
    /// `Rollout`.
    case rollout
    /// Health checks.
    case health
}

/// How a caller proved who it is.
public enum AuthMethod: String, Sendable, Hashable {
    /// A bearer JWT in the `authorization` header, verified against the configured keys.
    case jwt
    /// A key from the `x-api-key` header, matched by SHA-256 against the configured keys.
    case apiKey = "api-key"
    /// A verified TLS client certificate; the principal is its subject (or SAN).
    case mtls
    /// `--insecure-no-auth`, or an open health check without credentials.
    case none
}

/// What the service knows about one call before authorizing it. Values are the raw header strings.
public struct AuthRequest: Sendable {
    /// The RPC being called; chooses the permission bit and the rate class.
    public var rpc: AuthRPC
    /// The `model` field of the request ("" for health checks).
    public var model: String
    /// The `authorization` header value, e.g. `Bearer eyJ...`.
    public var authorization: String?
    /// The `x-api-key` header value.
    public var apiKey: String?
    /// The verified mTLS client certificate subject (or SAN) from the transport, if any.
    public var mtlsSubject: String?
    /// The peer address, for the audit log (e.g. `127.0.0.1:53122`).
    public var peer: String

    public init(
        rpc: AuthRPC,
        model: String,
        authorization: String? = nil,
        apiKey: String? = nil,
        mtlsSubject: String? = nil,
        peer: String = ""
    ) {
        self.rpc = rpc
        self.model = model
        self.authorization = authorization
        self.apiKey = apiKey
        self.mtlsSubject = mtlsSubject
        self.peer = peer
    }
}

/// An authenticated caller. Immutable and shared: cached with its token or key and reused across calls.
public final class Principal: Sendable {
    /// The principal name: JWT `sub`, API-key principal, mTLS subject, or `anonymous`.
    public let name: String
    /// Which credential authenticated this principal.
    public let method: AuthMethod
    /// The API-key id or the token's `jti` (`kid` when the token has no `jti`); never a secret.
    public let credentialID: String
    /// Effective policy roles (after bindings).
    public let roles: [String]
    /// Compiled permissions of `roles`.
    let permissions: PermissionSet
    /// Token buckets per rate class (nil = unlimited).
    let buckets: RateBuckets
    /// Seconds since the epoch after which this principal must be re-verified (token `exp`, key expiry).
    let validUntil: Double
    /// Its audit-log identity, escaped once: `"principal":…,"auth_method":…,"credential_id":…`.
    let auditIdentity: [UInt8]

    init(
        name: String,
        method: AuthMethod,
        credentialID: String,
        roles: [String],
        permissions: PermissionSet,
        buckets: RateBuckets,
        validUntil: Double
    ) {
        self.name = name
        self.method = method
        self.credentialID = credentialID
        self.roles = roles
        self.permissions = permissions
        self.buckets = buckets
        self.validUntil = validUntil
        auditIdentity = AuditEntry.identity(principal: name, method: method, credentialID: credentialID)
    }
}

/// The outcome of `AuthService.authorize`: allowed with the principal, or denied with a status-ready reason.
public enum AuthDecision: Sendable {
    /// The call may proceed as this principal.
    case allowed(Principal)
    /// The call must be refused with the denial's status and message.
    case denied(AuthDenial)

    /// The principal when allowed.
    public var principal: Principal? {
        if case .allowed(let p) = self { return p }
        return nil
    }
}

/// Why a call is refused. `code` maps one-to-one to a gRPC status; `message` is safe to send to the client;
/// `reason` is the precise internal cause for the audit log (never sent to the client). A class, so that an
/// `AuthDecision` is one reference whichever way it went (cheap to copy along with a call).
public final class AuthDenial: Sendable, Error {
    /// An opaque, extensible code.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: Sendable, Hashable { case unauthenticated, permissionDenied, rateLimited, unavailable }
        private let wrapped: Wrapped
        /// No credential or an invalid one → gRPC `UNAUTHENTICATED` (16).
        public static let unauthenticated = Code(wrapped: .unauthenticated)
        /// Valid credential without the permission → `PERMISSION_DENIED` (7).
        public static let permissionDenied = Code(wrapped: .permissionDenied)
        /// Over the principal's rate limit → `RESOURCE_EXHAUSTED` (8) plus a `retry-after-ms` trailer.
        public static let rateLimited = Code(wrapped: .rateLimited)
        /// The audit sink failed or is full in fail-closed mode → `UNAVAILABLE` (14).
        public static let unavailable = Code(wrapped: .unavailable)

        /// The numeric gRPC status code.
        public var grpcStatus: Int {
            switch wrapped {
            case .unauthenticated: 16
            case .permissionDenied: 7
            case .rateLimited: 8
            case .unavailable: 14
            }
        }

        public var description: String {
            switch wrapped {
            case .unauthenticated: "unauthenticated"
            case .permissionDenied: "permission-denied"
            case .rateLimited: "rate-limited"
            case .unavailable: "unavailable"
            }
        }
    }

    public let code: Code
    /// Client-facing message (a `www-authenticate`-style hint for `unauthenticated`).
    public let message: String
    /// Internal cause, for the audit log only.
    public let reason: String
    /// For `rateLimited`: milliseconds until a request would be admitted (send as `retry-after-ms`).
    public let retryAfterMs: Int?
    /// The caller when it was identified (permission and rate-limit denials).
    public let principalName: String?
    public let method: AuthMethod?
    public let credentialID: String?

    init(
        code: Code,
        message: String,
        reason: String,
        retryAfterMs: Int? = nil,
        principal: Principal? = nil
    ) {
        self.code = code
        self.message = message
        self.reason = reason
        self.retryAfterMs = retryAfterMs
        self.principalName = principal?.name
        self.method = principal?.method
        self.credentialID = principal?.credentialID
    }

    /// The single client-facing message for every authentication failure: a hint, never the cause.
    static let unauthenticatedMessage =
        "missing or invalid credentials; www-authenticate: Bearer realm=\"sluice\", ApiKey header=\"x-api-key\""

    static func unauthenticated(_ reason: String) -> AuthDenial {
        AuthDenial(code: .unauthenticated, message: unauthenticatedMessage, reason: reason)
    }
}
