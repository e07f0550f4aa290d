/// Which TLS versions and ciphers the server offers (Mozilla server-side TLS guidelines).
public enum TLSProfile: String, Sendable, Codable, CaseIterable {
    /// TLS 1.3 only.
    case modern
    /// TLS 1.2 and 1.3; ECDHE with AES-GCM or ChaCha20-Poly1305 only.
    case intermediate

    /// The TLS 1.2 cipher list for `intermediate` (TLS 1.3 suites are always the three defaults).
    static let intermediateCiphers =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
}
