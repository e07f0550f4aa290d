import BackgroundThreads
import Synchronization

/// The security layer the service calls on every RPC: authentication, RBAC, rate limits, and the audit log.
///
/// `authorize` is synchronous and returns at once for cached tokens, API keys and mTLS subjects; a token seen
/// for the first time is verified inline (one RS256/ES256/EdDSA/HS256 check, tens of microseconds) and cached
/// by its exact string until `exp` (+ leeway). `reload()` swaps in a freshly loaded policy atomically; a bad
/// file leaves the old one in force.
public final class AuthService: Sendable {
    /// nil in `--insecure-no-auth` mode.
    let configPath: String?
    /// The running file watcher, if any (see `startWatching`).
    let watcher = Mutex<WatchToken?>(nil)
    /// Every watcher thread started, for `deinit` to wait on.
    let watchThreads = Mutex<[WatchToken]>([])
    private let policy: Mutex<SecurityPolicy?>
    /// Identifies the policy in force for `CredentialMemo` (unique in the process; a reload takes a new one).
    private let generation = Atomic<UInt64>(CredentialMemo.newGeneration())
    private let rateLimits = RateLimiterRegistry()
    /// The audit log, when one is configured (or given to `insecure`).
    public let audit: AuditLog?

    /// The principal of every call in insecure mode and of open health checks without credentials.
    public static let anonymous = Principal(
        name: "anonymous", method: .none, credentialID: "", roles: [], permissions: .empty, buckets: .unlimited,
        validUntil: .infinity)

    /// Loads `configPath`, compiles the policy and starts the audit writer (if `audit.path` is set).
    public init(configPath: String) throws(SecurityConfigError) {
        let config = try SecurityConfig.load(path: configPath)
        let p = try SecurityPolicy(config: config, rateLimits: rateLimits)
        self.configPath = configPath
        self.policy = Mutex(p)
        if let path = config.audit.path {
            do { audit = try AuditLog(path: path, settings: config.audit) } catch {
                throw SecurityConfigError("audit.path: \(error)")
            }
        } else {
            audit = nil
        }
    }

    /// A policy from an already-parsed configuration (tests, embedding). `reload()` is then a no-op error.
    public init(config: SecurityConfig, audit: AuditLog? = nil) throws(SecurityConfigError) {
        configPath = nil
        policy = Mutex(try SecurityPolicy(config: config, rateLimits: rateLimits))
        self.audit = audit
    }

    private init(insecureWithAudit audit: AuditLog?) {
        configPath = nil
        policy = Mutex(nil)
        self.audit = audit
    }

    /// `--insecure-no-auth`: every call is allowed as `anonymous` (method none) and still audited.
    public static func insecure(audit: AuditLog? = nil) -> AuthService {
        AuthService(insecureWithAudit: audit)
    }

    /// The configuration in force (nil in insecure mode).
    public var currentConfig: SecurityConfig? { policy.withLock { $0?.config } }

    /// True in `--insecure-no-auth` mode (say so at startup and in health details).
    public var isInsecure: Bool { policy.withLock { $0 == nil } }

    /// One line for health details / startup logs.
    public var modeDescription: String {
        isInsecure ? "INSECURE: authentication disabled (--insecure-no-auth)" : "authentication and RBAC enforced"
    }

    /// Re-reads the configuration file and swaps the policy in (new keys, revoked API keys, new bindings; the
    /// token cache starts empty). On error the old policy stays in force and the error says why. Audit settings
    /// are fixed at start.
    public func reload() throws(SecurityConfigError) {
        guard let configPath else {
            throw SecurityConfigError("this AuthService has no configuration file to reload")
        }
        let config = try SecurityConfig.load(path: configPath)
        let p = try SecurityPolicy(config: config, rateLimits: rateLimits)
        policy.withLock {
            $0 = p
            generation.store(CredentialMemo.newGeneration(), ordering: .releasing)
        }
    }

    /// Authenticates, authorizes and rate-limits one call. Map the denial with `AuthDenial.code.grpcStatus`.
    /// `now` (seconds since the epoch) saves a clock read when the caller has one.
    public func authorize(_ request: AuthRequest, now: Double? = nil) -> AuthDecision {
        authorize(
            rpc: request.rpc, model: request.model, authorization: request.authorization, apiKey: request.apiKey,
            mtlsSubject: request.mtlsSubject, peer: request.peer, now: now)
    }

    /// As `authorize(_:now:)`, from the call's fields (the hot path builds no `AuthRequest` when the credential
    /// is one this thread has seen).
    public func authorize(
        rpc: AuthRPC, model: String, authorization: String?, apiKey: String?, mtlsSubject: String?, peer: String,
        now: Double? = nil
    ) -> AuthDecision {
        if let audit, !audit.isAccepting {
            return .denied(
                AuthDenial(
                    code: .unavailable, message: "audit log unavailable; try again later",
                    reason: "audit sink failed or full (fail-closed)"))
        }
        let now = now ?? WallClock.now()
        // A credential this thread has already authenticated under the current policy: no lock, no shared cache.
        let generation = generation.load(ordering: .acquiring)
        if rpc != .health {
            let remembered: Principal?
            if let authorization {
                remembered = CredentialMemo.withCurrent {
                    $0.principal(for: authorization, apiKey: false, generation: generation, now: now)
                }
            } else if let apiKey {
                remembered = CredentialMemo.withCurrent {
                    $0.principal(for: apiKey, apiKey: true, generation: generation, now: now)
                }
            } else {
                remembered = nil
            }
            if let remembered { return permit(remembered, rpc: rpc, model: model) }
        }

        guard let policy = policy.withLock({ $0 }) else { return .allowed(Self.anonymous) }
        if rpc == .health && policy.config.healthOpen { return .allowed(Self.anonymous) }
        let request = AuthRequest(
            rpc: rpc, model: model, authorization: authorization, apiKey: apiKey, mtlsSubject: mtlsSubject, peer: peer)
        let principal: Principal
        switch policy.authenticate(request, now: now) {
        case .failure(let d): return .denied(d)
        case .success(let p): principal = p
        }
        if let credential = authorization ?? apiKey, principal.method == .jwt || principal.method == .apiKey {
            CredentialMemo.withCurrent {
                $0.remember(credential, apiKey: authorization == nil, principal: principal, generation: generation)
            }
        }
        return permit(principal, rpc: rpc, model: model)
    }

    /// Whether authorizing a call with this `authorization` header would verify a JWT signature: a bearer token
    /// that this thread has not memoized and that no thread has verified (the shared token cache). Such calls
    /// cost tens of microseconds, so the service runs them off the event loop. Lock-free for a memoized token.
    public func needsSignatureCheck(authorization: String?) -> Bool {
        guard let authorization else { return false }
        let now = WallClock.now()
        let generation = generation.load(ordering: .acquiring)
        let remembered = CredentialMemo.withCurrent {
            $0.principal(for: authorization, apiKey: false, generation: generation, now: now)
        }
        if remembered != nil { return false }
        guard let policy = policy.withLock({ $0 }), policy.verifier != nil else { return false }
        return policy.tokens.get(authorization, now: now) == nil
    }

    /// RBAC and the rate limit for an authenticated principal.
    @inline(__always)
    private func permit(_ principal: Principal, rpc: AuthRPC, model: String) -> AuthDecision {
        if rpc != .health && !principal.permissions.allows(rpc, model: model) {
            return .denied(
                AuthDenial(
                    code: .permissionDenied,
                    message: rpc.permission == rpc
                        ? "permission denied: \(rpc.name) on model \"\(model)\""
                        : "permission denied: \(rpc.name) on model \"\(model)\" (needs the \(rpc.permission.name) permission)",
                    reason: "no role of \(principal.name) allows \(rpc.name) on \(model)",
                    principal: principal))
        }
        if principal.buckets.limited, let bucket = principal.buckets.bucket(rpc.rateClass),
            let wait = bucket.take(nowNanos: monotonicNanos())
        {
            return .denied(
                AuthDenial(
                    code: .rateLimited,
                    message: "rate limit exceeded for \(rpc.rateClass.rawValue) calls; retry after \(wait) ms",
                    reason: "rate limit \(bucket.limit.requestsPerSecond)/s burst \(bucket.limit.burst)",
                    retryAfterMs: wait, principal: principal))
        }
        return .allowed(principal)
    }

    deinit { joinWatchThreads() }

    /// Stops the watcher, then flushes and closes the audit log (no record is lost).
    public func shutdown() {
        stopWatching()
        audit?.shutdown()
    }
}
