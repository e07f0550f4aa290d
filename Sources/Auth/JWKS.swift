import TextFormats
/// Reads a JWKS document (RFC 7517) into verification keys. Each JWK must carry a `kid` and an `alg`
/// (pinning its algorithm); keys of other types or algorithms are refused, not skipped, so a typo cannot
/// silently disable a key.
enum JWKS {
    static func keys(from bytes: [UInt8], source: String) throws(JWTKeyError) -> [JWTKey] {
        let doc: JSONValue
        do { doc = try JSONParser.parse(bytes) } catch { throw JWTKeyError("\(source): \(error)") }
        guard case .array(let items)? = doc["keys"] else {
            throw JWTKeyError("\(source): expected an object with a \"keys\" array")
        }
        var out: [JWTKey] = []
        for (index, item) in items.enumerated() {
            out.append(try key(item, where: "\(source): keys[\(index)]"))
        }
        return out
    }

    private static func field(_ jwk: JSONValue, _ name: String, _ whereText: String) throws(JWTKeyError) -> [UInt8] {
        guard let s = jwk[name]?.stringValue else { throw JWTKeyError("\(whereText): missing \"\(name)\"") }
        guard let b = Base64URL.decode(s) else { throw JWTKeyError("\(whereText): \"\(name)\" is not base64url") }
        return b
    }

    private static func key(_ jwk: JSONValue, where whereText: String) throws(JWTKeyError) -> JWTKey {
        guard let kid = jwk["kid"]?.stringValue, !kid.isEmpty else {
            throw JWTKeyError("\(whereText): missing \"kid\" (every key needs one; there is no default key)")
        }
        guard let algName = jwk["alg"]?.stringValue else {
            throw JWTKeyError("\(whereText) (\(kid)): missing \"alg\" (each key is pinned to one algorithm)")
        }
        guard let alg = JWTAlgorithm(rawValue: algName) else {
            throw JWTKeyError("\(whereText) (\(kid)): unsupported alg \"\(algName)\"; use RS256, ES256, EdDSA or HS256")
        }
        if let use = jwk["use"]?.stringValue, use != "sig" {
            throw JWTKeyError("\(whereText) (\(kid)): \"use\" is \"\(use)\", expected \"sig\"")
        }
        let kty = jwk["kty"]?.stringValue ?? ""
        switch (alg, kty) {
        case (.rs256, "RSA"):
            return try JWTKey.rsa(kid: kid, n: field(jwk, "n", whereText), e: field(jwk, "e", whereText))
        case (.es256, "EC"):
            guard jwk["crv"]?.stringValue == "P-256" else {
                throw JWTKeyError("\(whereText) (\(kid)): ES256 needs crv P-256")
            }
            return try JWTKey.ec(
                kid: kid, algorithm: .es256, curve: "P-256", x: field(jwk, "x", whereText),
                y: field(jwk, "y", whereText))
        case (.edDSA, "OKP"):
            guard jwk["crv"]?.stringValue == "Ed25519" else {
                throw JWTKeyError("\(whereText) (\(kid)): EdDSA needs crv Ed25519")
            }
            return try JWTKey.ed25519(kid: kid, x: field(jwk, "x", whereText))
        case (.hs256, "oct"):
            return try JWTKey.hmac(kid: kid, secret: field(jwk, "k", whereText))
        default:
            throw JWTKeyError("\(whereText) (\(kid)): kty \"\(kty)\" does not fit alg \(alg.rawValue)")
        }
    }
}
