import TextFormats
/// The verified content of a JWT that authorization needs.
struct VerifiedToken: Sendable {
    let subject: String
    /// `jti`, or `kid:<kid>` when the token has none.
    let credentialID: String
    /// Values of the roles claim and of `scope`.
    let claimRoles: [String]
    /// `exp` (seconds since the epoch).
    let expires: Double
}

/// JWT verification settings (see `SecurityConfig.JWT`).
struct JWTSettings: Sendable {
    var issuer: String
    var audiences: [String]
    var leeway: Double
    var rolesClaim: String
    var maxTokenBytes: Int
}

/// Verifies compact JWS tokens against a fixed key set, following RFC 8725: the key's pinned algorithm decides,
/// `none` and unknown `kid`s are refused, remote or embedded keys (`jku`, `x5u`, `jwk`, `x5c`) are refused,
/// and `exp`, `nbf`, `iss`, `aud` are checked here (numeric dates only).
struct JWTVerifier: Sendable {
    let settings: JWTSettings
    let keys: [String: JWTKey]

    init(settings: JWTSettings, keys: [JWTKey]) throws(JWTKeyError) {
        self.settings = settings
        var map: [String: JWTKey] = [:]
        for k in keys {
            if map.updateValue(k, forKey: k.kid) != nil { throw JWTKeyError("duplicate key id \"\(k.kid)\"") }
        }
        self.keys = map
    }

    /// Header parameters whose presence makes a token unacceptable.
    private static let forbiddenHeaders = ["jku", "x5u", "jwk", "x5c", "crit"]

    /// Returns the verified token, or the precise internal reason it was refused (for the audit log).
    func verify(_ token: Substring, now: Double) -> Result<VerifiedToken, JWTRejection> {
        let utf8 = token.utf8
        guard utf8.count <= settings.maxTokenBytes else {
            return .failure(.init("token over \(settings.maxTokenBytes) bytes"))
        }
        guard let dot1 = utf8.firstIndex(of: UInt8(ascii: ".")) else { return .failure(.init("not a compact JWS")) }
        let rest = utf8[utf8.index(after: dot1)...]
        guard let dot2 = rest.firstIndex(of: UInt8(ascii: ".")) else { return .failure(.init("not a compact JWS")) }
        let sigPart = utf8[utf8.index(after: dot2)...]
        if sigPart.contains(UInt8(ascii: ".")) { return .failure(.init("not a compact JWS (JWE or extra segments)")) }

        guard let headerBytes = Base64URL.decode(Substring(utf8[..<dot1]).utf8),
            let payloadBytes = Base64URL.decode(Substring(rest[..<dot2]).utf8),
            let signature = Base64URL.decode(Substring(sigPart).utf8)
        else { return .failure(.init("malformed base64url")) }

        let header: JSONValue
        do { header = try JSONParser.parse(headerBytes) } catch { return .failure(.init("header: \(error)")) }
        guard case .object(let h) = header else { return .failure(.init("header is not a JSON object")) }
        guard let alg = h["alg"]?.stringValue else { return .failure(.init("header without alg")) }
        if alg.lowercased() == "none" { return .failure(.init("alg none")) }
        for name in Self.forbiddenHeaders where h[name] != nil {
            return .failure(.init("forbidden header parameter \(name)"))
        }
        guard let kid = h["kid"]?.stringValue else { return .failure(.init("header without kid")) }
        guard let key = keys[kid] else { return .failure(.init("unknown kid")) }
        guard alg == key.algorithm.rawValue else {
            return .failure(.init("alg \(alg) does not match key \(kid) pinned to \(key.algorithm.rawValue)"))
        }
        guard key.verify(signingInput: Substring(utf8[..<dot2]).utf8, signature: signature) else {
            return .failure(.init("bad signature"))
        }

        // Signature is valid; now the claims.
        let claims: JSONValue
        do { claims = try JSONParser.parse(payloadBytes) } catch { return .failure(.init("payload: \(error)")) }
        guard case .object(let c) = claims else { return .failure(.init("payload is not a JSON object")) }
        guard let exp = c["exp"] else { return .failure(.init("no exp")) }
        guard let expires = exp.numberValue else { return .failure(.init("exp is not a number")) }
        if now > expires + settings.leeway { return .failure(.init("expired")) }
        if let nbfValue = c["nbf"] {
            guard let nbf = nbfValue.numberValue else { return .failure(.init("nbf is not a number")) }
            if now + settings.leeway < nbf { return .failure(.init("not yet valid (nbf)")) }
        }
        if let iatValue = c["iat"], iatValue.numberValue == nil { return .failure(.init("iat is not a number")) }
        guard c["iss"]?.stringValue == settings.issuer else { return .failure(.init("wrong or missing iss")) }
        switch c["aud"] {
        case .string(let a)? where settings.audiences.contains(a):
            break
        case .array(let list)? where list.contains(where: { $0.stringValue.map(settings.audiences.contains) ?? false }):
            break
        default:
            return .failure(.init("wrong or missing aud"))
        }
        guard let sub = c["sub"]?.stringValue, !sub.isEmpty else { return .failure(.init("no sub")) }

        var roles: [String] = []
        switch c[settings.rolesClaim] {
        case .array(let list)?:
            for item in list { if let s = item.stringValue { roles.append(s) } }
        case .string(let s)?:
            roles.append(contentsOf: s.split(separator: " ").map(String.init))
        default:
            break
        }
        if settings.rolesClaim != "scope", let scope = c["scope"]?.stringValue {
            roles.append(contentsOf: scope.split(separator: " ").map(String.init))
        }
        let jti = c["jti"]?.stringValue ?? "kid:\(kid)"
        return .success(VerifiedToken(subject: sub, credentialID: jti, claimRoles: roles, expires: expires))
    }
}

/// An internal rejection reason (goes to the audit log, never to the client).
struct JWTRejection: Error, Sendable, Equatable, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
