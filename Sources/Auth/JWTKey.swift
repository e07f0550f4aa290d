import CryptoPrimitives
/// A JWS algorithm Sluice accepts. Each key is pinned to exactly one; the token's `alg` only has to agree.
public enum JWTAlgorithm: String, Sendable, CaseIterable {
    case rs256 = "RS256"
    case es256 = "ES256"
    case edDSA = "EdDSA"
    /// For internal callers only; the key must be at least 32 bytes.
    case hs256 = "HS256"
}

/// Why a key could not be loaded.
public struct JWTKeyError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ d: String) { description = d }
}

/// One verification key: a `kid`, its pinned algorithm, and either an OpenSSL public key or an HMAC secret.
final class JWTKey: @unchecked Sendable {
    // @unchecked: `pkey` is immutable after init and EVP_PKEY verification is thread-safe for public keys.
    let kid: String
    let algorithm: JWTAlgorithm
    private let pkey: OpaquePointer?
    private let secret: [UInt8]

    /// A public key, checked against the algorithm: RSA ≥ 2048 bits for RS256, P-256 for ES256, Ed25519 for EdDSA.
    private init(kid: String, algorithm: JWTAlgorithm, pkey: OpaquePointer) throws(JWTKeyError) {
        self.kid = kid
        self.algorithm = algorithm
        self.pkey = pkey
        self.secret = []
        let kind = Crypto.kind(pkey)
        switch algorithm {
        case .rs256:
            guard kind == .rsa else { throw JWTKeyError("key \"\(kid)\": RS256 needs an RSA key") }
            let bits = Crypto.bits(pkey)
            guard bits >= 2048 else { throw JWTKeyError("key \"\(kid)\": RSA key has \(bits) bits, at least 2048") }
        case .es256:
            guard kind == .p256 else { throw JWTKeyError("key \"\(kid)\": ES256 needs an EC P-256 key") }
        case .edDSA:
            guard kind == .ed25519 else { throw JWTKeyError("key \"\(kid)\": EdDSA needs an Ed25519 key") }
        case .hs256:
            throw JWTKeyError("key \"\(kid)\": HS256 takes a shared secret, not a public key")
        }
    }

    private init(kid: String, hmacSecret: [UInt8]) throws(JWTKeyError) {
        guard hmacSecret.count >= 32 else {
            throw JWTKeyError("key \"\(kid)\": HS256 secret has \(hmacSecret.count) bytes, at least 32")
        }
        self.kid = kid
        self.algorithm = .hs256
        self.pkey = nil
        self.secret = hmacSecret
    }

    deinit {
        if let pkey { Crypto.free(pkey) }
    }

    /// An HS256 key from raw secret bytes.
    static func hmac(kid: String, secret: [UInt8]) throws(JWTKeyError) -> JWTKey {
        try JWTKey(kid: kid, hmacSecret: secret)
    }

    /// A public key from PEM text (SPKI `PUBLIC KEY` or a certificate).
    static func pem(kid: String, algorithm: JWTAlgorithm, pem: [UInt8]) throws(JWTKeyError) -> JWTKey {
        if algorithm == .hs256 {
            throw JWTKeyError("key \"\(kid)\": HS256 keys come from a secret file or a JWKS \"oct\" key, not PEM")
        }
        guard let pkey = Crypto.publicKey(pem: pem) else {
            throw JWTKeyError("key \"\(kid)\": not a PEM public key or certificate")
        }
        return try JWTKey(kid: kid, algorithm: algorithm, pkey: pkey)
    }

    /// An RSA key from JWK `n` and `e`.
    static func rsa(kid: String, n: [UInt8], e: [UInt8]) throws(JWTKeyError) -> JWTKey {
        guard let pkey = Crypto.rsaPublicKey(n: n, e: e) else {
            throw JWTKeyError("key \"\(kid)\": invalid RSA components")
        }
        return try JWTKey(kid: kid, algorithm: .rs256, pkey: pkey)
    }

    /// An EC key from JWK `crv`, `x`, `y`.
    static func ec(kid: String, algorithm: JWTAlgorithm, curve: String, x: [UInt8], y: [UInt8]) throws(JWTKeyError)
        -> JWTKey
    {
        guard let pkey = Crypto.ecPublicKey(curve: curve, x: x, y: y) else {
            throw JWTKeyError("key \"\(kid)\": invalid EC point on \(curve)")
        }
        return try JWTKey(kid: kid, algorithm: algorithm, pkey: pkey)
    }

    /// An Ed25519 key from JWK `x`.
    static func ed25519(kid: String, x: [UInt8]) throws(JWTKeyError) -> JWTKey {
        guard x.count == 32 else { throw JWTKeyError("key \"\(kid)\": Ed25519 public key must be 32 bytes") }
        guard let pkey = Crypto.ed25519PublicKey(x) else { throw JWTKeyError("key \"\(kid)\": invalid Ed25519 key") }
        return try JWTKey(kid: kid, algorithm: .edDSA, pkey: pkey)
    }

    /// Verifies a JWS signature over `signingInput` (the ASCII `header.payload`) with this key's pinned algorithm.
    func verify(signingInput: Substring.UTF8View, signature: [UInt8]) -> Bool {
        let input = Array(signingInput)
        switch algorithm {
        case .hs256:
            return Crypto.constantTimeEqual(Crypto.hmacSHA256(key: secret, message: input), signature)
        case .rs256:
            guard let pkey else { return false }
            return Crypto.verify(key: pkey, digestSHA256: true, message: input, signature: signature)
        case .es256:
            guard let pkey, signature.count == 64, let der = Crypto.joseToDER(signature) else { return false }
            return Crypto.verify(key: pkey, digestSHA256: true, message: input, signature: der)
        case .edDSA:
            guard let pkey, signature.count == 64 else { return false }
            return Crypto.verify(key: pkey, digestSHA256: false, message: input, signature: signature)
        }
    }
}
