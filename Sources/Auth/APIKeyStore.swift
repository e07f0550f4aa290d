import CryptoPrimitives
/// API keys by SHA-256. A presented key is hashed once and compared in constant time against every stored hash
/// (no early exit), so timing reveals neither which key nor how much of a hash matched.
struct APIKeyStore: Sendable {
    /// One stored key: its SHA-256 digest (32 bytes), optional expiry in seconds since the epoch, and the principal
    /// it authenticates as.
    struct Entry: Sendable {
        let hash: [UInt8]
        let expires: Double?
        let principal: Principal
    }
    /// All configured keys. `lookup(_:)` scans every one of them on each call.
    let entries: [Entry]

    /// The largest key accepted; longer header values are refused without hashing.
    static let maxKeyBytes = 512

    /// The entry whose hash matches, or nil.
    func lookup(_ key: String) -> Entry? {
        guard key.utf8.count <= Self.maxKeyBytes else { return nil }
        let digest = Crypto.sha256(key)
        var found: Entry?
        for e in entries where Crypto.constantTimeEqual(e.hash, digest) { found = e }
        return found
    }

}
