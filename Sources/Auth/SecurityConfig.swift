/// The security configuration file (`--security-config PATH`), as written by operators. See docs/security.md.
/// Parsed strictly: unknown fields are errors (a misspelt `apiKeys` must not silently disable keys).
public struct SecurityConfig: Sendable, Equatable {
    public struct JWT: Sendable, Equatable {
        public var issuer: String
        public var audiences: [String]
        public var leewaySeconds: Double = 30
        public var rolesClaim: String = "roles"
        /// A JWKS file; each JWK needs `kid` and `alg`.
        public var jwksFile: String?
        /// PEM public keys (or, for HS256, files holding the raw secret).
        public var keys: [KeyFile] = []
        /// Verified tokens cached by their exact string, at most this many.
        public var cacheSize: Int = 10_000
        public var maxTokenBytes: Int = 8192

        public init(issuer: String, audiences: [String], jwksFile: String? = nil, keys: [KeyFile] = []) {
            self.issuer = issuer
            self.audiences = audiences
            self.jwksFile = jwksFile
            self.keys = keys
        }
    }

    public struct KeyFile: Sendable, Equatable {
        public var kid: String
        public var algorithm: JWTAlgorithm
        public var file: String

        public init(kid: String, algorithm: JWTAlgorithm, file: String) {
            self.kid = kid
            self.algorithm = algorithm
            self.file = file
        }
    }

    public struct APIKey: Sendable, Equatable {
        public var id: String
        /// SHA-256 of the key, 32 bytes (hex in the file).
        public var sha256: [UInt8]
        public var principal: String
        public var roles: [String]
        /// Seconds since the epoch; nil = no expiry.
        public var expires: Double?

        public init(id: String, sha256: [UInt8], principal: String, roles: [String], expires: Double? = nil) {
            self.id = id
            self.sha256 = sha256
            self.principal = principal
            self.roles = roles
            self.expires = expires
        }
    }

    public struct Permission: Sendable, Equatable {
        /// `Predict`, `BatchPredict`, `GetModelVersion`, `Rollout` or `*`.
        public var rpc: String
        /// A model name pattern: `churn`, `fraud-*`, `*`.
        public var model: String

        public init(rpc: String, model: String) {
            self.rpc = rpc
            self.model = model
        }
    }

    public struct RateLimit: Sendable, Equatable, Hashable {
        public var requestsPerSecond: Double
        public var burst: Double

        public init(requestsPerSecond: Double, burst: Double) {
            self.requestsPerSecond = requestsPerSecond
            self.burst = burst
        }
    }

    /// Gives roles (and optionally rate limits) to principals.
    public struct Binding: Sendable, Equatable {
        /// Matches the principal name (API-key principal, JWT `sub`, mTLS subject).
        public var subject: String?
        /// Restricts `subject` to one auth method.
        public var method: AuthMethod?
        /// Matches JWT role-claim values.
        public var jwtRole: String?
        public var roles: [String]
        /// Per rate class (`predict`, `metadata`, `rollout`, `health`, or `*`).
        public var rateLimits: [String: RateLimit]

        public init(
            subject: String? = nil, method: AuthMethod? = nil, jwtRole: String? = nil, roles: [String],
            rateLimits: [String: RateLimit] = [:]
        ) {
            self.subject = subject
            self.method = method
            self.jwtRole = jwtRole
            self.roles = roles
            self.rateLimits = rateLimits
        }
    }

    public enum AuditFailureMode: String, Sendable, Equatable {
        case failOpen = "fail-open"
        case failClosed = "fail-closed"
    }

    public struct Audit: Sendable, Equatable {
        /// nil: audit to standard error is not offered; a path is required for auditing.
        public var path: String?
        public var maxBytes: Int = 100 * 1024 * 1024
        public var keep: Int = 5
        public var onFailure: AuditFailureMode = .failOpen
        public var queueCapacity: Int = 65_536

        /// Audit settings; also used to build an `AuditLog` for `--insecure-no-auth`.
        public init(
            path: String? = nil, maxBytes: Int = 100 * 1024 * 1024, keep: Int = 5,
            onFailure: AuditFailureMode = .failOpen, queueCapacity: Int = 65_536
        ) {
            self.path = path
            self.maxBytes = maxBytes
            self.keep = keep
            self.onFailure = onFailure
            self.queueCapacity = queueCapacity
        }
    }

    public var jwt: JWT?
    public var apiKeys: [APIKey] = []
    /// Custom roles (they replace a built-in role of the same name).
    public var roles: [String: [Permission]] = [:]
    public var bindings: [Binding] = []
    /// Rate limits for principals no binding limits, per class.
    public var defaultRateLimits: [String: RateLimit] = [:]
    public var audit = Audit()
    /// Health checks need no credentials when true (the default).
    public var healthOpen = true
    /// Where this configuration came from (prefixes error messages).
    public var source = "security configuration"

    public init() {}
}

/// A configuration problem, with the file and the JSON path of the offending field.
public struct SecurityConfigError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ d: String) { description = d }
}
