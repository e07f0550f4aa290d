internal import COpenSSL

/// The OpenSSL 3.0 calls the server's Swift modules need (digests, HMAC, randomness, public-key signatures),
/// kept in this one wrapper target so that no other module imports the C library. Keys are `EVP_PKEY` handles
/// as `OpaquePointer`s, freed with `free(_:)`.
public enum Crypto {
    /// Kinds of public key we accept.
    public enum KeyKind: Equatable { case rsa, p256, p384, ed25519, other }

    /// SHA-256 fetched once: OpenSSL 3 otherwise looks the implementation up on every call (most of the cost
    /// of hashing a short API key).
    private nonisolated(unsafe) static let fetchedSHA256: OpaquePointer? = EVP_MD_fetch(nil, "SHA256", nil)

    /// The 32-byte SHA-256 digest of `bytes`; empty when OpenSSL fails.
    public static func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 0
        let ok = EVP_Digest(bytes.baseAddress, bytes.count, &out, &len, fetchedSHA256 ?? EVP_sha256(), nil)
        return ok == 1 && len == 32 ? out : []
    }

    /// The SHA-256 digest of the UTF-8 bytes of `s`; empty on failure.
    public static func sha256(_ s: String) -> [UInt8] {
        var s = s
        return s.withUTF8 { sha256(UnsafeRawBufferPointer($0)) }
    }

    /// HMAC-SHA256; empty on failure.
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var outLen = 0
        let r = EVP_Q_mac(nil, "HMAC", nil, "SHA256", nil, key, key.count, message, message.count, &out, 32, &outLen)
        return r != nil && outLen == 32 ? out : []
    }

    /// Constant-time equality of two buffers (false when lengths differ).
    ///
    /// Two empty buffers are also unequal, so an empty digest from a failed ``sha256(_:)-(UnsafeRawBufferPointer)``
    /// never matches.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count, !a.isEmpty else { return false }
        return CRYPTO_memcmp(a, b, a.count) == 0
    }

    /// `n` bytes from OpenSSL's CSPRNG (`RAND_bytes`); `nil` when the generator fails.
    public static func randomBytes(_ n: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: n)
        return RAND_bytes(&out, Int32(n)) == 1 ? out : nil
    }

    /// Public key from PEM text: SubjectPublicKeyInfo or an X.509 certificate.
    public static func publicKey(pem: [UInt8]) -> OpaquePointer? {
        pem.withUnsafeBytes { raw -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            if let k = PEM_read_bio_PUBKEY(bio, nil, nil, nil) { return k }
            ERR_clear_error()
            _ = BIO_ctrl(bio, BIO_CTRL_RESET, 0, nil)
            guard let cert = PEM_read_bio_X509(bio, nil, nil, nil) else {
                ERR_clear_error()
                return nil
            }
            defer { X509_free(cert) }
            return X509_get_pubkey(cert)
        }
    }

    /// `EVP_PKEY_PUBLIC_KEY` (a macro Swift cannot import): OSSL_KEYMGMT_SELECT_ALL_PARAMETERS | PUBLIC_KEY.
    private static let selectPublicKey: Int32 = 0x84 | 0x02

    /// Imports a public key of `type` ("RSA", "EC") from `params`; `nil` (with the OpenSSL error queue cleared) when
    /// OpenSSL refuses them. The caller owns the returned key.
    private static func fromData(type: String, _ params: inout [OSSL_PARAM]) -> OpaquePointer? {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, type, nil) else { return nil }
        defer { EVP_PKEY_CTX_free(ctx) }
        var pkey: OpaquePointer?
        guard EVP_PKEY_fromdata_init(ctx) > 0,
            EVP_PKEY_fromdata(ctx, &pkey, Self.selectPublicKey, &params) > 0
        else {
            ERR_clear_error()
            return nil
        }
        return pkey
    }

    /// RSA public key from big-endian JWK `n` and `e`.
    ///
    /// `n` is limited to 2048 bytes (a 16384-bit modulus) and `e` to 16 bytes; the caller owns the returned key and
    /// releases it with ``free(_:)``.
    public static func rsaPublicKey(n: [UInt8], e: [UInt8]) -> OpaquePointer? {
        guard !n.isEmpty, !e.isEmpty, n.count <= 2048, e.count <= 16 else { return nil }
        // OSSL_PARAM integers are native-endian (little-endian here).
        var nLE = Array(n.reversed())
        var eLE = Array(e.reversed())
        return "n".withCString { nk in
            "e".withCString { ek in
                nLE.withUnsafeMutableBytes { nb in
                    eLE.withUnsafeMutableBytes { eb in
                        var params = [
                            OSSL_PARAM_construct_BN(nk, nb.baseAddress?.assumingMemoryBound(to: UInt8.self), nb.count),
                            OSSL_PARAM_construct_BN(ek, eb.baseAddress?.assumingMemoryBound(to: UInt8.self), eb.count),
                            OSSL_PARAM_construct_end(),
                        ]
                        return fromData(type: "RSA", &params)
                    }
                }
            }
        }
    }

    /// EC public key on "P-256"/"P-384" from JWK `x` and `y`.
    ///
    /// The coordinates must be exactly 32 (P-256) or 48 (P-384) bytes; a point that is not on the curve is refused.
    /// Returns `nil` for any failure; the caller releases the key with ``free(_:)``.
    public static func ecPublicKey(curve: String, x: [UInt8], y: [UInt8]) -> OpaquePointer? {
        let coord = curve == "P-256" ? 32 : curve == "P-384" ? 48 : 0
        guard coord > 0, x.count == coord, y.count == coord else { return nil }
        var point: [UInt8] = [0x04] + x + y
        var group = Array((curve == "P-256" ? "prime256v1" : "secp384r1").utf8CString)
        return "group".withCString { gk in
            "pub".withCString { pk in
                group.withUnsafeMutableBufferPointer { g in
                    point.withUnsafeMutableBytes { p in
                        var params = [
                            OSSL_PARAM_construct_utf8_string(gk, g.baseAddress, 0),
                            OSSL_PARAM_construct_octet_string(pk, p.baseAddress, p.count),
                            OSSL_PARAM_construct_end(),
                        ]
                        guard let key = fromData(type: "EC", &params) else { return nil }
                        // OpenSSL 3.0 already refuses off-curve points on import (tested); the explicit check keeps
                        // that guarantee if a provider does not.
                        guard isValidPublicKey(key) else {
                            EVP_PKEY_free(key)
                            return nil
                        }
                        return key
                    }
                }
            }
        }
    }

    /// `EVP_PKEY_public_check`: for EC keys, whether the point lies on the curve.
    private static func isValidPublicKey(_ key: OpaquePointer) -> Bool {
        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, key, nil) else { return false }
        defer {
            EVP_PKEY_CTX_free(ctx)
            ERR_clear_error()
        }
        return EVP_PKEY_public_check(ctx) == 1
    }

    /// Ed25519 public key from the 32 raw bytes of JWK `x`; `nil` for any other length. Release it with ``free(_:)``.
    public static func ed25519PublicKey(_ x: [UInt8]) -> OpaquePointer? {
        guard x.count == 32 else { return nil }
        return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, x, 32)
    }

    /// Releases a key returned by this enum; the pointer must not be used afterwards.
    public static func free(_ key: OpaquePointer) { EVP_PKEY_free(key) }

    /// The key size in bits (RSA modulus, EC group order).
    public static func bits(_ key: OpaquePointer) -> Int { Int(EVP_PKEY_get_bits(key)) }

    /// The key's algorithm; EC keys on curves other than P-256 and P-384 are `other`.
    public static func kind(_ key: OpaquePointer) -> KeyKind {
        switch EVP_PKEY_get_base_id(key) {
        case EVP_PKEY_RSA: return .rsa
        case EVP_PKEY_ED25519: return .ed25519
        case EVP_PKEY_EC:
            var name = [CChar](repeating: 0, count: 64)
            var len = 0
            guard EVP_PKEY_get_utf8_string_param(key, "group", &name, name.count, &len) == 1 else { return .other }
            let s = String(decoding: name.prefix(len).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return s == "prime256v1" ? .p256 : s == "secp384r1" ? .p384 : .other
        default: return .other
        }
    }

    /// Verifies `signature` over `message`; `digestSHA256` false for Ed25519 (which hashes internally).
    ///
    /// ECDSA signatures must be DER here (see ``joseToDER(_:)``). Any OpenSSL failure counts as an invalid signature.
    public static func verify(key: OpaquePointer, digestSHA256: Bool, message: [UInt8], signature: [UInt8]) -> Bool {
        guard let ctx = EVP_MD_CTX_new() else { return false }
        defer {
            EVP_MD_CTX_free(ctx)
            ERR_clear_error()
        }
        let md = digestSHA256 ? (fetchedSHA256 ?? EVP_sha256()) : nil
        guard EVP_DigestVerifyInit(ctx, nil, md, nil, key) == 1 else { return false }
        return EVP_DigestVerify(ctx, signature, signature.count, message, message.count) == 1
    }

    /// JOSE ECDSA signature (r || s, fixed width) → DER `ECDSA-Sig-Value`, as OpenSSL expects.
    public static func joseToDER(_ sig: [UInt8]) -> [UInt8]? {
        guard sig.count % 2 == 0, !sig.isEmpty, sig.count <= 132 else { return nil }
        func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
            var b = Array(bytes.drop(while: { $0 == 0 }))
            if b.isEmpty { b = [0] }
            if b[0] & 0x80 != 0 { b.insert(0, at: 0) }
            return [0x02, UInt8(b.count)] + b
        }
        let half = sig.count / 2
        let body = integer(sig[..<half]) + integer(sig[half...])
        if body.count < 128 { return [0x30, UInt8(body.count)] + body }
        return [0x30, 0x81, UInt8(body.count)] + body
    }
}

extension Crypto {
    /// SHA-256 of `bytes` as 64 lowercase hex digits (how the registry records model files).
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        let digest = bytes.withUnsafeBytes { sha256($0) }
        let hexDigits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in digest {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
