import BackgroundThreads
import FoundationEssentials

/// One loaded configuration, compiled for the hot path: keys, API keys, RBAC, caches. Immutable apart from its
/// caches; `AuthService` swaps a new one in on reload, which also empties the token cache (revocation).
final class SecurityPolicy: Sendable {
    let config: SecurityConfig
    let verifier: JWTVerifier?
    let apiKeys: APIKeyStore
    let rbac: RBACPolicy
    let tokens: PrincipalCache
    let mtlsSubjects: PrincipalCache
    let rateLimits: RateLimiterRegistry

    init(config: SecurityConfig, rateLimits: RateLimiterRegistry) throws(SecurityConfigError) {
        self.config = config
        self.rateLimits = rateLimits
        self.rbac = try RBACPolicy(config: config)
        if let j = config.jwt {
            var keys: [JWTKey] = []
            do {
                if let path = j.jwksFile {
                    let data: [UInt8]
                    switch FileReading.read(path) {
                    case .success(let bytes): data = bytes
                    case .failure(let error):
                        throw SecurityConfigError("\(config.source): jwt.jwksFile: cannot read \(path): \(error.reason)")
                    }
                    keys += try JWKS.keys(from: Array(data), source: path)
                }
                for k in j.keys {
                    let data: [UInt8]
                    switch FileReading.read(k.file) {
                    case .success(let bytes): data = bytes
                    case .failure(let error):
                        throw SecurityConfigError(
                            "\(config.source): jwt.keys \"\(k.kid)\": cannot read \(k.file): \(error.reason)")
                    }
                    if k.algorithm == .hs256 {
                        keys.append(try JWTKey.hmac(kid: k.kid, secret: Array(data)))
                    } else {
                        keys.append(try JWTKey.pem(kid: k.kid, algorithm: k.algorithm, pem: Array(data)))
                    }
                }
                let settings = JWTSettings(
                    issuer: j.issuer, audiences: j.audiences, leeway: j.leewaySeconds, rolesClaim: j.rolesClaim,
                    maxTokenBytes: j.maxTokenBytes)
                verifier = try JWTVerifier(settings: settings, keys: keys)
            } catch let e as JWTKeyError {
                throw SecurityConfigError("\(config.source): jwt: \(e.description)")
            } catch let e as SecurityConfigError {
                throw e
            } catch {
                throw SecurityConfigError("\(config.source): jwt: \(error)")
            }
        } else {
            verifier = nil
        }
        tokens = PrincipalCache(capacity: config.jwt?.cacheSize ?? 1024)
        mtlsSubjects = PrincipalCache(capacity: 4096)

        let now = monotonicNanos()
        let rbac = self.rbac
        apiKeys = APIKeyStore(
            entries: config.apiKeys.map { k in
                let roles = rbac.effectiveRoles(subject: k.principal, method: .apiKey, direct: k.roles, claimRoles: [])
                let limits =
                    rbac.bindings.filter { rbac.matches($0, subject: k.principal, method: .apiKey, claimRoles: []) }
                    .map(\.rateLimits) + [config.defaultRateLimits]
                let p = Principal(
                    name: k.principal, method: .apiKey, credentialID: k.id, roles: roles,
                    permissions: rbac.permissions(for: roles),
                    buckets: rateLimits.buckets(principal: k.principal, limits: limits, nowNanos: now),
                    validUntil: k.expires ?? .infinity)
                return APIKeyStore.Entry(hash: k.sha256, expires: k.expires, principal: p)
            })
    }

    /// Builds a principal for a subject and method, resolving roles, permissions and buckets.
    func makePrincipal(
        subject: String, method: AuthMethod, credentialID: String, claimRoles: [String], validUntil: Double
    ) -> Principal {
        let roles = rbac.effectiveRoles(subject: subject, method: method, direct: claimRoles, claimRoles: claimRoles)
        let limits =
            rbac.bindings.filter { rbac.matches($0, subject: subject, method: method, claimRoles: claimRoles) }
            .map(\.rateLimits) + [config.defaultRateLimits]
        return Principal(
            name: subject, method: method, credentialID: credentialID, roles: roles,
            permissions: rbac.permissions(for: roles),
            buckets: rateLimits.buckets(principal: subject, limits: limits, nowNanos: monotonicNanos()),
            validUntil: validUntil)
    }

    /// Who is calling: from the bearer token, else the API key, else the mTLS subject. A credential that is
    /// present but invalid is final (no fallback to a weaker one).
    func authenticate(_ r: AuthRequest, now: Double) -> Result<Principal, AuthDenial> {
        if let header = r.authorization {
            if let p = tokens.get(header, now: now) { return .success(p) }
            guard let verifier else { return .failure(.unauthenticated("bearer token but no JWT keys configured")) }
            guard header.utf8.count >= 7, header.utf8.prefix(7).elementsEqual("bearer ".utf8, by: { $0 | 0x20 == $1 })
            else { return .failure(.unauthenticated("authorization header is not a Bearer token")) }
            let token = header.dropFirst(7).drop(while: { $0 == " " })
            switch verifier.verify(token, now: now) {
            case .failure(let why):
                return .failure(.unauthenticated("jwt: \(why.description)"))
            case .success(let t):
                let p = makePrincipal(
                    subject: t.subject, method: .jwt, credentialID: t.credentialID, claimRoles: t.claimRoles,
                    validUntil: t.expires + verifier.settings.leeway)
                tokens.put(header, p, now: now)
                return .success(p)
            }
        }
        if let key = r.apiKey {
            guard let entry = apiKeys.lookup(key) else { return .failure(.unauthenticated("api-key: unknown key")) }
            if let e = entry.expires, now > e {
                return .failure(.unauthenticated("api-key \(entry.principal.credentialID): expired"))
            }
            return .success(entry.principal)
        }
        if let subject = r.mtlsSubject, !subject.isEmpty {
            if let p = mtlsSubjects.get(subject, now: now) { return .success(p) }
            let p = makePrincipal(
                subject: subject, method: .mtls, credentialID: "", claimRoles: [], validUntil: .infinity)
            mtlsSubjects.put(subject, p, now: now)
            return .success(p)
        }
        return .failure(.unauthenticated("no credentials"))
    }
}
